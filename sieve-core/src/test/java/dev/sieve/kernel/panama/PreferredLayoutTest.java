package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sieve.core.quant.F16Encoding;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q4_0RepackedEncoding;
import dev.sieve.core.quant.Q4_0SlicedEncoding;
import dev.sieve.core.quant.Q4_KEncoding;
import dev.sieve.core.quant.Q4_KRepackedEncoding;
import dev.sieve.core.quant.Q6_KEncoding;
import dev.sieve.core.quant.Q8_0Encoding;
import org.junit.jupiter.api.Test;

/** Which layouts the loader converts to, per width (the measured choices of PanamaKernels). */
class PreferredLayoutTest {
    @Test
    void belowFiveTwelveBitsBothFourBitEncodingsAreRepacked() {
        for (int bits : new int[] {128, 256}) {
            assertEquals(Q4_KRepackedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_KEncoding.INSTANCE, bits));
            assertEquals(Q4_0RepackedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_0Encoding.INSTANCE, bits));
        }
    }

    @Test
    void atFiveTwelveBitsQ4_KAndQ4_0AreInterleavedBy16Rows() {
        assertEquals(dev.sieve.core.quant.Q4_KSlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_KEncoding.INSTANCE, 512));
        assertEquals(Q4_0SlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_0Encoding.INSTANCE, 512));
    }

    @Test
    void q8_0AndQ6_KAreInterleavedAtFiveTwelveBitsAndOthersKeepTheirLayout() {
        for (int bits : new int[] {128, 256, 512}) {
            assertEquals(bits == 512 ? dev.sieve.core.quant.Q8_0SlicedEncoding.INSTANCE : Q8_0Encoding.INSTANCE,
                    PanamaKernels.preferredLayout(Q8_0Encoding.INSTANCE, bits));
            assertEquals(bits == 512 ? dev.sieve.core.quant.Q6_KSlicedEncoding.INSTANCE : Q6_KEncoding.INSTANCE,
                    PanamaKernels.preferredLayout(Q6_KEncoding.INSTANCE, bits));
            assertEquals(F16Encoding.INSTANCE, PanamaKernels.preferredLayout(F16Encoding.INSTANCE, bits));
        }
    }

    /**
     * Bitmap Q4 decodes as Q4_0 at 512 bits (its own layout's decode is slower than Q4_0's at every
     * sparsity), except where it takes the tile-indexed layout (VPEXPANDB's CPUs, up to c = 73); at 256
     * bits it keeps its rows.
     */
    @Test
    void bitmapQ4IsQ4_0AtFiveTwelveBitsUnlessTileIndexed() {
        for (boolean vbmi2 : new boolean[] {false, true}) {
            for (int c : new int[] {74, 127, 128, 160, 256}) {
                assertEquals(Q4_0SlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(
                        dev.sieve.core.quant.SparseEncoding.bitmap(dev.sieve.core.quant.SparseEncoding.Values.Q4, c), 512, vbmi2));
            }
            dev.sieve.core.quant.SparseEncoding sparse = dev.sieve.core.quant.SparseEncoding.bitmap(dev.sieve.core.quant.SparseEncoding.Values.Q4, 73);
            assertEquals(vbmi2 ? dev.sieve.core.quant.SlicedTileIndexedEncoding.of(sparse) : Q4_0SlicedEncoding.INSTANCE,
                    PanamaKernels.preferredLayout(sparse, 512, vbmi2));
            assertEquals(sparse, PanamaKernels.preferredLayout(sparse, 256, vbmi2));
        }
    }
}
