package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.Q6_KEncoding;
import dev.sieve.core.quant.Q6_KSlicedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Q6_K in its 16-row byte layout (Q6_K_R16): its rows decode to Q6_K's values bit for bit, and at every
 * width its products agree with (a) the scalar reference on the same layout (Q8_0 activations, the
 * layout's own: float rounding only) and (b) the dense F32 kernel on the decoded weights (within the
 * activations' Q8_0 rounding): decode in 16-bit lanes (1-3 tokens), prompts through the decoded blocks
 * (4, 5, 8, 9, 16, 17 tokens), one, two and three slices (a pair and a single one), and thread ranges
 * that start and end inside a slice.
 */
class SlicedQ6_KKernelTest {
    static final int[][] SHAPES = {{16, 256}, {48, 512}, {32, 2304}, {160, 2048}};
    static final int[] TOKENS = {1, 2, 3, 4, 5, 8, 9, 16, 17};
    static final int[][] RANGES = {{0, 16}, {5, 13}};

    @Test
    void rowsDecodeToQ6_KsValuesBitForBit() {
        Random rnd = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 48, cols = 768;
            Tensor w = PanamaKernelsTest.randomTensor(Q6_KEncoding.INSTANCE, rows, cols, rnd, arena);
            Tensor sliced = Tensor.allocate("s", Q6_KSlicedEncoding.INSTANCE, arena, cols, rows);
            Q6_KSlicedEncoding.INSTANCE.repackMatrix(Q6_KEncoding.INSTANCE, w.data(), sliced.data(), rows, cols);
            assertEquals(rows * (cols / 256) * 274L, sliced.byteSize(), "274 bytes a row's block");
            assertArrayEquals(w.toFloatArray(), sliced.toFloatArray(), 0f);
        }
    }

    @Test
    void matchesTheScalarReferenceAndDenseAtEveryWidth() {
        Random rnd = new Random(11);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : SHAPES) {
                int rows = shape[0], cols = shape[1];
                Tensor w = PanamaKernelsTest.randomTensor(Q6_KEncoding.INSTANCE, rows, cols, rnd, arena);
                Tensor sliced = Tensor.allocate("s", Q6_KSlicedEncoding.INSTANCE, arena, cols, rows);
                Q6_KSlicedEncoding.INSTANCE.repackMatrix(Q6_KEncoding.INSTANCE, w.data(), sliced.data(), rows, cols);
                Tensor dense = Tensor.allocate("d", F32Encoding.INSTANCE, arena, cols, rows);
                float[] all = w.toFloatArray();
                F32Encoding.INSTANCE.quantize(all, 0, dense.data(), 0, all.length);
                for (int tokens : TOKENS) {
                    float[] x = PanamaKernelsTest.gaussian(rnd, tokens * cols);
                    for (int[] range : RANGES) {
                        int r0 = rows * range[0] / 16, r1 = rows * range[1] / 16;
                        float[] ref = PanamaKernelsTest.run(ScalarKernels.INSTANCE, sliced, x, tokens, r0, r1);
                        for (int bits : new int[] {128, 256, 512}) {
                            PanamaKernels k = PanamaKernels.create(bits);
                            float[] den = PanamaKernelsTest.run(k, dense, x, tokens, r0, r1);
                            float[] got = PanamaKernelsTest.run(k, sliced, x, tokens, r0, r1);
                            String where = bits + " " + rows + "x" + cols + " tokens=" + tokens + " rows " + r0 + ".." + r1;
                            for (int i = 0; i < got.length; i++) {
                                int row = i % rows;
                                assertEquals(row >= r0 && row < r1, !Float.isNaN(got[i]), where + ": output " + i);
                            }
                            double eRef = PanamaKernelsTest.nmse(got, ref, w, x, tokens, r0, r1);
                            double eDense = PanamaKernelsTest.nmse(got, den, w, x, tokens, r0, r1);
                            assertTrue(eRef <= PanamaKernelsTest.NMSE_FLOAT, where + " vs scalar: nmse " + eRef);
                            assertTrue(eDense <= PanamaKernelsTest.NMSE_QUANTIZED_ACTIVATIONS, where + " vs dense: nmse " + eDense);
                        }
                    }
                }
            }
        }
    }

    @Test
    void takenAtFiveTwelveBitsOnly() {
        assertSame(Q6_KSlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q6_KEncoding.INSTANCE, 512, CpuVendor.INTEL));
        assertSame(Q6_KSlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q6_KEncoding.INSTANCE, 512, CpuVendor.AMD));
        assertSame(Q6_KEncoding.INSTANCE, PanamaKernels.preferredLayout(Q6_KEncoding.INSTANCE, 256, CpuVendor.INTEL));
    }
}
