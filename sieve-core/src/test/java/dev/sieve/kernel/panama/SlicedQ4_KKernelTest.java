package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.Q4_KEncoding;
import dev.sieve.core.quant.Q4_KRepackedEncoding;
import dev.sieve.core.quant.Q4_KSlicedEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Q4_K in its 16-row layout (Q4_K_R16) at every width against (a) the scalar reference on the same
 * values in the row layout Q4_K_R (Q8_0 activations, as Q4_K_R16 takes them: float rounding only)
 * and (b) the dense F32 kernel on the decoded weights (within the activations' Q8_0 rounding):
 * decode in 16-bit lanes (1-3 tokens), prompts through the decoded blocks (4, 5: single tokens after
 * no group of eight; 8, 9, 16, 17: groups of eight and a tail), an odd number of 256-column blocks,
 * one and several slices, and thread ranges that start and end inside a slice.
 */
class SlicedQ4_KKernelTest {
    static final int[][] SHAPES = {{16, 256}, {48, 512}, {32, 2304}, {160, 2048}};
    static final int[] TOKENS = {1, 2, 3, 4, 5, 8, 9, 16, 17};
    static final int[][] RANGES = {{0, 16}, {5, 13}};

    @Test
    void rowsDecodeToQ4_KsValuesBitForBit() {
        Random rnd = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 48, cols = 768;
            Tensor w = PanamaKernelsTest.randomTensor(Q4_KEncoding.INSTANCE, rows, cols, rnd, arena);
            Tensor sliced = Tensor.allocate("s", Q4_KSlicedEncoding.INSTANCE, arena, cols, rows);
            Q4_KSlicedEncoding.INSTANCE.repackMatrix(Q4_KEncoding.INSTANCE, w.data(), sliced.data(), rows, cols);
            assertEquals(Q4_KRepackedEncoding.INSTANCE.byteSize((long) rows * cols), sliced.byteSize(), "Q4_K_R's bytes, interleaved");
            assertArrayEquals(w.toFloatArray(), sliced.toFloatArray(), 0f);
        }
    }

    @Test
    void matchesTheScalarReferenceAndDenseAtEveryWidth() {
        slicedMatches(Q4_KEncoding.INSTANCE, Q4_KSlicedEncoding.INSTANCE, Q4_KRepackedEncoding.INSTANCE, 9);
    }

    /**
     * {@code sliced} made from random {@code file} matrices, at every width, against the scalar reference
     * on the same values in {@code rowLayout} (the layout whose activations {@code sliced} declares; the
     * scalar reference gives the same floats on both) and against the dense F32 kernel on the decoded
     * weights, over {@link #SHAPES}, {@link #TOKENS} and {@link #RANGES}.
     */
    static void slicedMatches(WeightEncoding file, WeightEncoding sliced, WeightEncoding rowLayout, long seed) {
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : SHAPES) {
                int rows = shape[0], cols = shape[1];
                Tensor w = PanamaKernelsTest.randomTensor(file, rows, cols, rnd, arena);
                Tensor rowsT = Tensor.allocate("r", rowLayout, arena, cols, rows);
                rowLayout.repackMatrix(file, w.data(), rowsT.data(), rows, cols);
                Tensor s = Tensor.allocate("s", sliced, arena, cols, rows);
                sliced.repackMatrix(file, w.data(), s.data(), rows, cols);
                Tensor dense = Tensor.allocate("d", F32Encoding.INSTANCE, arena, cols, rows);
                float[] all = w.toFloatArray();
                F32Encoding.INSTANCE.quantize(all, 0, dense.data(), 0, all.length);
                for (int tokens : TOKENS) {
                    float[] x = PanamaKernelsTest.gaussian(rnd, tokens * cols);
                    for (int[] range : RANGES) {
                        int r0 = rows * range[0] / 16, r1 = rows * range[1] / 16;
                        float[] ref = PanamaKernelsTest.run(ScalarKernels.INSTANCE, rowsT, x, tokens, r0, r1);
                        assertArrayEquals(ref, PanamaKernelsTest.run(ScalarKernels.INSTANCE, s, x, tokens, r0, r1), 0f,
                                "scalar reference on both layouts, " + rows + "x" + cols + " tokens=" + tokens);
                        for (int bits : new int[] {128, 256, 512}) {
                            PanamaKernels k = PanamaKernels.create(bits);
                            float[] den = PanamaKernelsTest.run(k, dense, x, tokens, r0, r1);
                            float[] got = PanamaKernelsTest.run(k, s, x, tokens, r0, r1);
                            String where = bits + " " + sliced.name() + " " + rows + "x" + cols + " tokens=" + tokens
                                    + " rows " + r0 + ".." + r1;
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
        assertSame(Q4_KSlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_KEncoding.INSTANCE, 512));
        assertSame(Q4_KRepackedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_KEncoding.INSTANCE, 256));
    }
}
