package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.quant.SlicedBitmapEncoding;
import dev.sieve.core.quant.SlicedTileIndexedEncoding;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.SparseEncoding.Values;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Sparse bitmap Q8 and Q4 with each stored value beside its column ({@link SlicedTileIndexedEncoding}), at
 * 90%, 70% and a nearly empty capacity, at every width, against its scalar reference (Q8_K activations) and the
 * dense F32 kernel on the same weights and rounded activations: 1–5, 16, 17 and 25 tokens (two a pass and
 * an odd last one at 16 lanes, the tiles below), an odd number of 256-column blocks, and thread
 * ranges that start and end inside a slice ({@link IndexedSparseKernelsTest#bothLayoutsMatch}).
 */
class SlicedTileIndexedKernelsTest {
    // A matrix shares its room among its blocks: one of a single block would fit only as often as a block
    // needs no more than the average (a random 16 x 256 matrix may not; the loader then keeps the bitmap rows).
    private static final int[][] SHAPES = {{64, 2304}, {48, 512}, {32, 768}, {160, 2304}};

    @TestFactory
    Stream<DynamicTest> bothLayoutsMatchScalarAndDense() {
        return SlicedBitmapKernelsTest.bothLayoutsMatch(new int[] {26, 77, 3}, SlicedTileIndexedEncoding::of, SHAPES);
    }

    /**
     * A step adds two products in each 16-bit lane before widening: every stored level at −127 against
     * activation levels of ±127 is the largest sum a lane holds, and must come out exact (a lane that
     * wrapped would be off by 65536 levels), in the one-token and the two-token pass.
     */
    @Test
    void theLargestSixteenBitSumsStayExact() {
        largestSumsExact(Values.Q8, 26, (r, i) -> (i * 7 + r) % 256 < 26); // c of each 256 stored, spread over the tiles
    }

    /**
     * Q4's pairs add up over a whole tile in 16 bits: a row whose 64 columns of a tile are all stored at
     * −8 takes 16 steps there, and against activation levels of ±127 its lane reaches 16·2·8·127 = 32512,
     * the largest a tile can hold, which must come out exact in both passes.
     */
    @Test
    void q4TilesAddUpInSixteenBitsUpToTheirFullestTile() {
        largestSumsExact(Values.Q4, 64, (r, i) -> i % 256 < 64); // the first tile of each block whole (16 steps), the rest empty
    }

    /** A 32 × 512 matrix of capacity c with −1 where {@code stored(row, column)}, else 0: {@link SlicedBitmapKernelsTest#largestSumsExact}. */
    private static void largestSumsExact(Values v, int c, java.util.function.BiPredicate<Integer, Integer> stored) {
        int rows = 32, cols = 512;
        SparseEncoding e = SparseEncoding.bitmap(v, c);
        float[] g = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) {
                g[r * cols + i] = stored.test(r, i) ? -1f : 0f;
            }
        }
        SlicedBitmapKernelsTest.largestSumsExact(e, SlicedTileIndexedEncoding.of(e), g, rows, cols, c);
    }

    /**
     * Bitmap Q8 and Q4 take the tile-indexed layout where its mean held bytes come within 5% of the dense
     * twin's (Q8 up to c = 116, Q4 up to c = 73); past that Q8 keeps its bitmap slices and Q4 decodes as
     * Q4_0_R16 (its slices decode slower than Q4_0), unless asked to keep them.
     */
    @Test
    void sparseBitmapTakesTheTileIndexedLayoutUpToTheDenseTwinsMemory() {
        for (int c : new int[] {1, 26, 77, 94, 102, 108, 116}) {
            SparseEncoding e = SparseEncoding.bitmap(Values.Q8, c);
            assertSame(SlicedTileIndexedEncoding.of(e), PanamaKernels.preferredLayout(e, 512, true));
            assertSame(SlicedBitmapEncoding.of(e), PanamaKernels.preferredLayout(e, 512, true, false));
            assertSame(e.blockBytes() % 8 == 0 ? e : e.padded(), PanamaKernels.preferredLayout(e, 512, false));
            assertSame(e, PanamaKernels.preferredLayout(e, 256, true));
        }
        for (int c : new int[] {117, 128, 256}) { // denser: the bitmap's 16-row layout, smaller than dense Q8_0
            SparseEncoding e = SparseEncoding.bitmap(Values.Q8, c);
            assertSame(SlicedBitmapEncoding.of(e), PanamaKernels.preferredLayout(e, 512, true));
        }
        double q8_0 = dev.sieve.core.quant.Q8_0Encoding.INSTANCE.byteSize(256), q4_0 = dev.sieve.core.quant.Q4_0Encoding.INSTANCE.byteSize(256);
        assertTrue(SlicedTileIndexedEncoding.of(SparseEncoding.bitmap(Values.Q8, 116)).meanBlockBytes() <= 1.05 * q8_0);
        assertTrue(SlicedTileIndexedEncoding.of(SparseEncoding.bitmap(Values.Q8, 117)).meanBlockBytes() > 1.05 * q8_0);
        SparseEncoding q4 = SparseEncoding.bitmap(Values.Q4, 73); // Q4 values too (their levels in nibbles)
        assertSame(SlicedTileIndexedEncoding.of(q4), PanamaKernels.preferredLayout(q4, 512, true));
        assertTrue(SlicedTileIndexedEncoding.of(q4).meanBlockBytes() <= 1.05 * q4_0);
        for (int c : new int[] {74, 77, 128, 256}) { // past it, and from 50% on, bitmap Q4 decodes as Q4_0
            SparseEncoding more = SparseEncoding.bitmap(Values.Q4, c);
            assertSame(dev.sieve.core.quant.Q4_0SlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(more, 512, true));
        }
    }

    /**
     * A matrix whose rows crowd their values into one tile each (row l's 26 in tile l mod 4) needs 7 steps
     * a tile, 28 a block, more than the layout's room: for that matrix the kernels ask for the layout the
     * type takes without the tile-indexed one (Q8: the bitmap's 16-row slices; Q4: Q4_0_R16), and a random
     * one of the same type takes the tile-indexed layout.
     */
    @Test
    void aMatrixThatDoesNotFitTakesTheLayoutWithoutTheTileIndex() {
        int rows = 32, cols = 512, c = 26;
        PanamaKernels k = PanamaKernels.create(512);
        for (Values v : new Values[] {Values.Q8, Values.Q4}) {
            SparseEncoding e = SparseEncoding.bitmap(v, c);
            org.junit.jupiter.api.Assumptions.assumeTrue(k.preferredLayout(e) == SlicedTileIndexedEncoding.of(e),
                    "this CPU has no VPEXPANDB: bitmap types keep their rows");
            float[] g = new float[rows * cols];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < cols; i++) {
                    g[r * cols + i] = i % 256 / 64 == r % 4 && i % 64 < c ? 1f + i % 5 : 0f;
                }
            }
            try (Arena arena = Arena.ofConfined()) {
                Tensor crowded = Tensor.allocate("w", e, arena, cols, rows);
                e.quantize(g, 0, crowded.data(), 0, g.length);
                assertSame(v == Values.Q8 ? SlicedBitmapEncoding.of(e) : dev.sieve.core.quant.Q4_0SlicedEncoding.INSTANCE,
                        k.preferredLayout(crowded), e.name());
                Tensor random = PanamaKernelsTest.randomTensor(e, rows, cols, new java.util.Random(3), arena);
                assertSame(SlicedTileIndexedEncoding.of(e), k.preferredLayout(random), e.name());
            }
        }
    }
}
