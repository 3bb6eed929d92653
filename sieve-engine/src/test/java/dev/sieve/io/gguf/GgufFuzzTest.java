package dev.sieve.io.gguf;

import dev.sieve.core.tensor.Tensor;
import dev.sieve.testkit.TestData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Random truncations and bit flips of a real model file: the reader either succeeds (and every
 * tensor it hands out lies inside the file) or throws {@link GgufFormatException}. Nothing else
 * escapes, and absurd length fields are refused before any allocation (an OutOfMemoryError would
 * fail the property).
 */
class GgufFuzzTest {
    private static final byte[] ORIGINAL;

    static {
        try {
            ORIGINAL = Files.readAllBytes(TestData.file("tokenizers/ggml-vocab-llama-spm.gguf"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void parse(byte[] bytes) {
        try {
            GgufFile g = GgufFile.parse(MemorySegment.ofArray(bytes));
            for (String name : g.tensorInfos().keySet()) {
                try {
                    Tensor t = g.tensor(name);
                    t.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, t.data().byteSize() - 1);
                } catch (GgufFormatException expected) {
                    // an encoding Sieve cannot decode is reported, not thrown otherwise
                }
            }
        } catch (GgufFormatException expected) {
            // the one documented failure
        }
    }

    @Property(tries = 300)
    void truncationsOnlyRaiseFormatErrors(@ForAll @IntRange(min = 0, max = 200_000) int cut) {
        parse(java.util.Arrays.copyOf(ORIGINAL, Math.min(cut, ORIGINAL.length)));
    }

    @Property(tries = 500)
    void bitFlipsInTheHeaderOnlyRaiseFormatErrors(
            @ForAll @IntRange(min = 0, max = 4095) int position, @ForAll @IntRange(min = 0, max = 7) int bit,
            @ForAll @IntRange(min = 0, max = 3) int extraFlips) {
        byte[] b = ORIGINAL.clone();
        b[position] ^= (byte) (1 << bit);
        for (int i = 1; i <= extraFlips; i++) {
            int p = (position * 31 + i * 977) % 4096;
            b[p] ^= (byte) (1 << ((bit + i) % 8));
        }
        parse(b);
    }
}
