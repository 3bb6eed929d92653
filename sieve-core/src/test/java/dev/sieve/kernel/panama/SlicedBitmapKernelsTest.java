package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;

import dev.sieve.core.quant.SlicedBitmapEncoding;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.SparseEncoding.Values;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Bitmap Q8 and Q4 (50%, 70% and a nearly empty capacity) in the row layout and in 16-row slices ({@link
 * SlicedBitmapEncoding}), at every width, against the scalar reference and the dense F32 kernel on the
 * same weights: one to three tokens (the 16-bit expanded steps, two slices a pass, an odd slice), four
 * and five (the decoded blocks one token at a time), 16, 17 and 25 (groups of eight and tails), an odd
 * number of 256-column blocks, and thread ranges that start and end inside a slice
 * ({@link IndexedSparseKernelsTest#bothLayoutsMatch}).
 */
class SlicedBitmapKernelsTest {
    private static final int[][] SHAPES = {{16, 256}, {48, 512}, {32, 768}, {160, 2304}};

    @TestFactory
    Stream<DynamicTest> bothLayoutsMatchScalarAndDense() {
        return bothLayoutsMatch(new int[] {128, 77, 3}, SlicedBitmapEncoding::of, SHAPES);
    }

    /**
     * Per bitmap Q8 and Q4 type of these capacities, its 16-row {@code layout} against the row layout
     * ({@link IndexedSparseKernelsTest#bothLayoutsMatch}): 1–5, 16, 17 and 25 tokens, these shapes.
     */
    static Stream<DynamicTest> bothLayoutsMatch(int[] capacities, java.util.function.Function<SparseEncoding, WeightEncoding> layout,
            int[][] shapes) {
        return Stream.of(Values.Q8, Values.Q4).flatMap(v -> Arrays.stream(capacities).mapToObj(c -> SparseEncoding.bitmap(v, c)))
                .map(e -> DynamicTest.dynamicTest(e.name(),
                () -> IndexedSparseKernelsTest.bothLayoutsMatch(e, layout.apply(e), new int[] {1, 2, 3, 4, 5, 16, 17, 25},
                        PanamaKernelsTest.NMSE_FLOAT, shapes)));
    }

    /**
     * The one- and two-token passes sum products in 16-bit lanes (Q4: eight steps of 32 columns, then two column
     * pairs folded) before widening: every stored level at its most negative (Q4 −8, Q8 −127) against
     * activations at ±127 levels is the largest sum a lane can hold, and must come out exact (a lane that
     * wrapped would be off by 65536 levels).
     */
    @Test
    void theLargestSixteenBitSumsStayExact() {
        int rows = 32, cols = 512;
        for (Values v : new Values[] {Values.Q8, Values.Q4}) {
            for (int c : new int[] {128, 256}) {
                SparseEncoding e = SparseEncoding.bitmap(v, c);
                SlicedBitmapEncoding s = SlicedBitmapEncoding.of(e);
                float[] g = new float[rows * cols];
                for (int i = 0; i < g.length; i++) {
                    g[i] = c == 256 || (i + i / cols) % 2 == 0 ? -1f : 0f; // c of each 256 stored, all at the lowest level
                }
                largestSumsExact(e, s, g, rows, cols, c);
            }
        }
    }

    /**
     * {@code g} (rows × cols, c of each 256 at −1, the rest 0) stored in bitmap {@code e} and laid out as
     * {@code s}: against activations of all +1 and all −1 (levels ±127), one token and two, the layout's
     * reference gives −sign·c·cols/256 (each value at its lowest level, scaled) and the 512-bit kernel the
     * reference's sums to float precision.
     */
    static void largestSumsExact(SparseEncoding e, WeightEncoding s, float[] g, int rows, int cols, int c) {
        PanamaKernels k = PanamaKernels.create(512);
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = Tensor.allocate("w", e, arena, cols, rows);
            e.quantize(g, 0, w.data(), 0, g.length);
            Tensor sliced = Tensor.allocate("s", s, arena, cols, rows);
            s.repackMatrix(e, w.data(), sliced.data(), rows, cols);
            for (int tokens = 1; tokens <= 2; tokens++) {
                for (float sign : new float[] {1f, -1f}) {
                    float[] x = new float[tokens * cols];
                    Arrays.fill(x, sign);
                    float[] got = PanamaKernelsTest.run(k, sliced, x, tokens, 0, rows);
                    // The sliced layout's own reference rounds the activations as its kernel does.
                    float[] ref = PanamaKernelsTest.run(ScalarKernels.INSTANCE, sliced, x, tokens, 0, rows);
                    for (int i = 0; i < tokens * rows; i++) {
                        assertEquals(-sign * c * cols / 256f, ref[i], 1e-3f * c, s.name() + " reference output " + i);
                        assertEquals(ref[i], got[i], 1e-6f * Math.abs(ref[i]), s.name() + " x=" + sign + " tokens=" + tokens + " output " + i);
                    }
                }
            }
        }
    }

    /**
     * At 512 bits bitmap Q8 takes the tile-indexed layout where it holds about the dense twin's bytes
     * (SlicedTileIndexedKernelsTest) and these 16-row slices denser, where bytes expand in one
     * instruction, else its rows; bitmap Q4 decodes as Q4_0_R16 wherever it takes no tile-indexed
     * layout (its slices decode slower than Q4_0: PanamaKernels.Q4_BITMAP_SLICES).
     */
    @Test
    void the512BitKernelsAskForSlicesOfBitmapQ8WhereBytesExpandInOneInstruction() {
        for (int c : new int[] {1, 77, 117, 128, 256}) {
          for (Values v : new Values[] {Values.Q8, Values.Q4}) {
            SparseEncoding e = SparseEncoding.bitmap(v, c);
            boolean tileIndexed = c <= (v == Values.Q8 ? 116 : 73);
            boolean asQ4_0 = v == Values.Q4 && !tileIndexed;
            assertSame(asQ4_0 ? dev.sieve.core.quant.Q4_0SlicedEncoding.INSTANCE
                    : tileIndexed ? dev.sieve.core.quant.SlicedTileIndexedEncoding.of(e) : SlicedBitmapEncoding.of(e),
                    PanamaKernels.preferredLayout(e, 512, true));
            assertSame(v == Values.Q4 ? dev.sieve.core.quant.Q4_0SlicedEncoding.INSTANCE : e.blockBytes() % 8 == 0 ? e : e.padded(),
                    PanamaKernels.preferredLayout(e, 512, false));
            assertSame(e, PanamaKernels.preferredLayout(e, 256, true));
          }
        }
        for (Values v : new Values[] {Values.F16, Values.BF16}) { // the two-byte value types keep their rows
            SparseEncoding e = SparseEncoding.bitmap(v, 128);
            assertSame(e, PanamaKernels.preferredLayout(e, 512, true));
        }
    }
}
