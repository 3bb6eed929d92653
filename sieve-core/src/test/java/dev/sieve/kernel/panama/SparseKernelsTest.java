package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.SparseEncoding.Values;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every sparse kernel at every width against (a) the scalar reference and (b) the dense F32 kernel
 * on the same weights decoded with their zeros filled in, on awkward shapes: rows 1, 7, 33, one to
 * five blocks and 2048 columns, 1 to 70 tokens (decode, prompt tiles, stored-values prompts), and bitmap
 * capacities at both extremes (1 and 256 of 256) besides 50% and 70%.
 */
class SparseKernelsTest {
    static final int[] ROWS = {1, 7, 33};
    /**
     * Decode (1, 3), prompt tiles (17 at 256 bits), panels (17 and up at 512 bits), and the
     * stored-values prompt path of encodings at most 20% dense: 17 at 128 bits (a block of 16 tokens and a remainder), 40 at 256
     * (32 + 8), 70 at 512 (64 + a part-filled vector).
     */
    static final int[] TOKENS = {1, 3, 17, 40, 70};

    static List<SparseEncoding> encodings() {
        List<SparseEncoding> l = new ArrayList<>(SparseEncoding.nmEncodings());
        for (Values v : Values.values()) {
            for (int c : new int[] {1, 2, 15, 77, 128, 200, 256}) {
                l.add(SparseEncoding.bitmap(v, c));
            }
        }
        return l;
    }

    static int[] cols(SparseEncoding e) {
        int bs = e.blockSize();
        return bs == 32 ? new int[] {32, 64, 96, 128, 160, 2048} : new int[] {256, 512, 768, 1024, 1280, 2048};
    }

    @TestFactory
    Stream<DynamicTest> sparseKernelsMatchScalarAndDense() {
        return encodings().stream().map(e -> DynamicTest.dynamicTest(e.name(), () -> {
            Random rnd = new Random(e.ggmlType());
            try (Arena arena = Arena.ofConfined()) {
                for (int rows : ROWS) {
                    for (int cols : cols(e)) {
                        Tensor w = PanamaKernelsTest.randomTensor(e, rows, cols, rnd, arena);
                        // The dense twin: the same weights, zeros and all, as F32.
                        Tensor dense = Tensor.allocate("d", F32Encoding.INSTANCE, arena, cols, rows);
                        float[] all = w.toFloatArray();
                        F32Encoding.INSTANCE.quantize(all, 0, dense.data(), 0, all.length);
                        for (int tokens : TOKENS) {
                            float[] x = PanamaKernelsTest.gaussian(rnd, tokens * cols);
                            float[] ref = PanamaKernelsTest.run(ScalarKernels.INSTANCE, w, x, tokens, 0, rows);
                            for (int bits : new int[] {128, 256, 512}) {
                                PanamaKernels k = PanamaKernels.create(bits);
                                assertFalse(k.kernelFor(e) instanceof ScalarFallback, e.name());
                                float[] got = PanamaKernelsTest.run(k, w, x, tokens, 0, rows);
                                float[] den = PanamaKernelsTest.run(k, dense, x, tokens, 0, rows);
                                String where = bits + " " + e.name() + " rows=" + rows + " cols=" + cols + " tokens=" + tokens;
                                double eRef = PanamaKernelsTest.nmse(got, ref, w, x, tokens, 0, rows);
                                double eDense = PanamaKernelsTest.nmse(got, den, w, x, tokens, 0, rows);
                                assertTrue(eRef <= PanamaKernelsTest.NMSE_FLOAT, where + " vs scalar: nmse " + eRef);
                                assertTrue(eDense <= PanamaKernelsTest.NMSE_FLOAT, where + " vs dense: nmse " + eDense);
                            }
                        }
                    }
                }
            }
        }));
    }

    /**
     * Long prompts on the stored-values path go by groups of tokens (8 token blocks: 128, 256 and 512
     * tokens at 128, 256 and 512 bits); 600 tokens cross a group boundary at every width.
     */
    @TestFactory
    Stream<DynamicTest> longPromptsMatchTheReferenceAcrossTokenGroups() {
        return Stream.of(SparseEncoding.bitmap(Values.Q8, 40), SparseEncoding.bitmap(Values.Q4, 26))
                .map(e -> DynamicTest.dynamicTest(e.name(), () -> {
                    Random rnd = new Random(31);
                    try (Arena arena = Arena.ofConfined()) {
                        int rows = 9, cols = 512, tokens = 600;
                        Tensor w = PanamaKernelsTest.randomTensor(e, rows, cols, rnd, arena);
                        float[] x = PanamaKernelsTest.gaussian(rnd, tokens * cols);
                        float[] ref = PanamaKernelsTest.run(ScalarKernels.INSTANCE, w, x, tokens, 0, rows);
                        for (int bits : new int[] {128, 256, 512}) {
                            float[] got = PanamaKernelsTest.run(PanamaKernels.create(bits), w, x, tokens, 0, rows);
                            double err = PanamaKernelsTest.nmse(got, ref, w, x, tokens, 0, rows);
                            assertTrue(err <= PanamaKernelsTest.NMSE_FLOAT, bits + " " + e.name() + ": nmse " + err);
                        }
                    }
                }));
    }

    /**
     * The padded bitmap layouts ({@code Q8_B77_P}, ...) that the loader makes at 512 bits follow the
     * scalar reference on the unpadded file layout at every width: decode (1, 2 tokens), prompt tiles
     * and the stored-values prompts; 512-bit kernels ask for them only for odd-sized blocks.
     */
    @TestFactory
    Stream<DynamicTest> paddedBitmapLayoutsFollowTheReference() {
        return Stream.of(Values.values()).map(v -> DynamicTest.dynamicTest(v.name(), () -> {
            Random rnd = new Random(23 + v.ordinal());
            for (int c : new int[] {77, 26}) {
                SparseEncoding e = SparseEncoding.bitmap(v, c), p = e.padded();
                try (Arena arena = Arena.ofConfined()) {
                    int rows = 11, cols = 768;
                    Tensor w = PanamaKernelsTest.randomTensor(e, rows, cols, rnd, arena);
                    Tensor wp = Tensor.allocate("p", p, arena, cols, rows);
                    p.repackMatrix(e, w.data(), wp.data(), rows, cols);
                    for (int tokens : new int[] {1, 2, 5, 70}) {
                        everyWidthFollowsTheReference(w, wp, PanamaKernelsTest.gaussian(rnd, tokens * cols), tokens, rows);
                    }
                    assertSame(v == Values.Q4 ? dev.sieve.core.quant.Q4_0SlicedEncoding.INSTANCE : e.blockBytes() % 8 != 0 ? p : e,
                            PanamaKernels.preferredLayout(e, 512), e.name()); // Q4: as Q4_0 (PreferredLayoutTest)
                    assertSame(e, PanamaKernels.preferredLayout(e, 256), e.name());
                }
            }
        }));
    }

    /**
     * Bitmap blocks whose masks hold any number of bits (fewer than the capacity: the last values
     * are unused; more: positions past the capacity decode to zero) follow the reference exactly,
     * at every width, for decode and prompts. The values and scales stay those quantize wrote, so
     * they are finite.
     */
    @TestFactory
    Stream<DynamicTest> bitmapKernelsFollowTheReferenceOnAnyMask() {
        return Stream.of(Values.values()).map(v -> DynamicTest.dynamicTest(v.name(), () -> {
            Random rnd = new Random(17 + v.ordinal());
            SparseEncoding e = SparseEncoding.bitmap(v, 77);
            try (Arena arena = Arena.ofConfined()) {
                int rows = 9, cols = 1024;
                Tensor w = PanamaKernelsTest.randomTensor(e, rows, cols, rnd, arena);
                long blocks = w.byteSize() / e.blockBytes();
                for (long b = 0; b < blocks; b++) {
                    for (int t = 0; t < e.tiles(); t++) {
                        // Densities from nearly empty to nearly full, so blocks land on both sides of 77.
                        long m = rnd.nextLong() & rnd.nextLong();
                        m = (b % 3 == 0) ? m : (b % 3 == 1 ? m | rnd.nextLong() : m & rnd.nextLong());
                        w.data().set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, b * e.blockBytes() + e.masksAt() + 8L * t, m);
                    }
                }
                for (int tokens : TOKENS) {
                    everyWidthFollowsTheReference(w, w, PanamaKernelsTest.gaussian(rnd, tokens * cols), tokens, rows);
                }
            }
        }));
    }

    /** {@code t} (the same weights as {@code w}, maybe another layout) at 128, 256 and 512 bits against the scalar reference on {@code w}. */
    private static void everyWidthFollowsTheReference(Tensor w, Tensor t, float[] x, int tokens, int rows) {
        float[] ref = PanamaKernelsTest.run(ScalarKernels.INSTANCE, w, x, tokens, 0, rows);
        for (int bits : new int[] {128, 256, 512}) {
            float[] got = PanamaKernelsTest.run(PanamaKernels.create(bits), t, x, tokens, 0, rows);
            double err = PanamaKernelsTest.nmse(got, ref, w, x, tokens, 0, rows);
            assertTrue(err <= PanamaKernelsTest.NMSE_FLOAT, bits + " " + t.encoding().name() + " tokens=" + tokens + ": nmse " + err);
        }
    }
}
