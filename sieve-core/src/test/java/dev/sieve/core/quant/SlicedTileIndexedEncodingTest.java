package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.quant.SparseEncoding.Values;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Bitmap Q8 and Q4 with each stored value beside its column, 32 rows packed as a unit: the same weights as
 * the row layout at several capacities (blocks with fewer set bits than the capacity, and set bits past it,
 * which decode to zero; an odd number of slices, whose last unit is one slice), each row's dot product with
 * Q8_K activations the row layout's with the values those activations hold, part of a row decoded alone;
 * the steps a block may take against sampled random pruning; and a matrix that needs more refused with its
 * count.
 */
class SlicedTileIndexedEncodingTest {
    // A matrix shares its steps among its blocks (a random single block may need more than the average).
    private static final int[][] SHAPES = {{64, 2304}, {48, 512}, {32, 2304}};

    @Test
    void slicesHoldEveryRowBitForBit() {
        Random r = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            for (Values values : new Values[] {Values.Q8, Values.Q4}) {
              for (int c : new int[] {26, 77, 1, 102}) {
                SparseEncoding e = SparseEncoding.bitmap(values, c);
                SlicedTileIndexedEncoding s = SlicedTileIndexedEncoding.of(e);
                assertEquals(e.name() + "_X", s.name());
                assertEquals(16, s.rowGroup());
                assertEquals(((values == Values.Q4 ? 96 : 128) * s.steps() + 128 + 64 + 80) / 16, s.blockBytes());
                for (int[] shape : SHAPES) {
                    int rows = shape[0], cols = shape[1];
                    float[] w = SlicedBitmapEncodingTest.gaussian(r, rows * cols);
                    for (int i = 0; i < w.length; i += 5) { // blocks with fewer non-zeros than the capacity
                        w[i] = 0;
                    }
                    e.prune(w, 0, w.length);
                    Tensor t = stored(e, w, rows, cols, arena);
                    assertTrue(s.holds(e, t.data(), rows, cols));
                    Tensor sl = packed(s, e, t, arena);
                    // The room past the packed slices is never read: garbage there changes nothing.
                    long held = sl.heldBytes();
                    assertTrue(held <= sl.byteSize() && held > 0, held + " of " + sl.byteSize());
                    sl.data().asSlice(held).fill((byte) 0x55);
                    assertArrayEquals(t.toFloatArray(), sl.toFloatArray(), 0f, s.name());
                    SlicedNMEncodingTest.rowsAgree(e, t, s, sl, SlicedBitmapEncodingTest.gaussian(r, cols), arena);
                    if (rows > 16 && cols >= 768) {
                        SlicedNMEncodingTest.partOfRowAgrees(s, sl, t);
                    }
                }
              }
            }
        }
    }

    /**
     * A block may take a step over the mean need of random pruning, computed from the hypergeometric tile
     * counts; sampled (units of 32 random rows of c of 256, 50,000 units, each tile taking its fullest row's
     * and its 17th fullest row's steps) the means are 6.04 (c = 13), 10.19 (26), 17.23 (51), 23.80 (77) and
     * 30.74 (102) a block of 16 rows, against 7.93, 11.99, 19.32, 26.39 and 33.00 for a lone slice's 16 rows
     * (each tile its fullest row's: 200,000 blocks). Every position stored needs 16 steps a tile.
     */
    @Test
    void aBlockMayTakeWhatRandomPruningNeedsOnAverage() {
        double[][] sampledMean = {{13, 6.04}, {26, 10.19}, {51, 17.23}, {77, 23.80}, {102, 30.74}};
        double[][] sampledLone = {{13, 7.93}, {26, 11.99}, {51, 19.32}, {77, 26.39}, {102, 33.00}};
        for (int i = 0; i < sampledMean.length; i++) {
            int c = (int) sampledMean[i][0];
            double mean = SlicedTileIndexedEncoding.meanSteps(c), lone = SlicedTileIndexedEncoding.meanLoneSteps(c);
            assertEquals(sampledMean[i][1], mean, 0.05, "c=" + c);
            assertEquals(sampledLone[i][1], lone, 0.05, "c=" + c);
            assertEquals((int) Math.ceil(mean + 1), SlicedTileIndexedEncoding.stepsFor(c));
            assertEquals((int) Math.ceil(lone + 1), SlicedTileIndexedEncoding.of(SparseEncoding.bitmap(Values.Q8, c)).loneSteps());
        }
        for (int c = 2; c <= 256; c++) {
            assertTrue(SlicedTileIndexedEncoding.stepsFor(c) >= SlicedTileIndexedEncoding.stepsFor(c - 1), "c=" + c);
        }
        assertEquals(65, SlicedTileIndexedEncoding.stepsFor(256));
    }

    /**
     * What a packed matrix of randomly pruned rows holds, a row's share of a block ({@link
     * SlicedTileIndexedEncoding#heldBytes} over rows × blocks; its offset table and the counts' line
     * padding included), is the mean the kernels choose the layout by, to 1.5%: 512 × 2048 matrices (256
     * slice blocks).
     */
    @Test
    void aRandomMatrixHoldsTheMeanBlockBytes() {
        Random r = new Random(11);
        int rows = 512, cols = 2048;
        try (Arena arena = Arena.ofConfined()) {
            for (Values values : new Values[] {Values.Q8, Values.Q4}) {
                for (int c : new int[] {26, 67, 102}) {
                    SparseEncoding e = SparseEncoding.bitmap(values, c);
                    SlicedTileIndexedEncoding s = SlicedTileIndexedEncoding.of(e);
                    float[] w = SlicedBitmapEncodingTest.gaussian(r, rows * cols);
                    e.prune(w, 0, w.length);
                    Tensor t = stored(e, w, rows, cols, arena);
                    Tensor sl = packed(s, e, t, arena);
                    double perBlock = sl.heldBytes() / ((double) rows * (cols / 256));
                    assertEquals(s.meanBlockBytes(), perBlock, 0.015 * perBlock, s.name());
                }
            }
        }
    }

    @Test
    void bitsPastTheCapacityDecodeToZero() {
        SparseEncoding e = SparseEncoding.bitmap(Values.Q8, 26);
        SlicedTileIndexedEncoding s = SlicedTileIndexedEncoding.of(e);
        int rows = 32, cols = 256;
        float[] w = SlicedBitmapEncodingTest.gaussian(new Random(9), rows * cols);
        e.prune(w, 0, w.length);
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = stored(e, w, rows, cols, arena);
            // Row 3's last tile mask: every bit set, past the block's 26 values; the reference reads zeros there.
            t.data().asSlice((long) 3 * e.blockBytes() + e.masksAt() + 24, 8).fill((byte) -1);
            Tensor sl = packed(s, e, t, arena);
            assertArrayEquals(t.toFloatArray(), sl.toFloatArray(), 0f);
        }
    }

    @Test
    void aLoneSliceThatNeedsMoreStepsThanItMayTakeIsRefused() {
        SparseEncoding e = SparseEncoding.bitmap(Values.Q8, 26);
        SlicedTileIndexedEncoding s = SlicedTileIndexedEncoding.of(e);
        int rows = 16, cols = 256;
        float[] w = new float[rows * cols];
        crowd(w, cols, 0, rows);
        try (Arena arena = Arena.ofConfined()) {
            refused(e, s, w, rows, cols, "needs 28.00", arena);
        }
    }

    /** Rows {@code from..to − 1} of {@code w} each with its 26 values in tile r mod 4 of the first block: 7 steps each tile. */
    private static void crowd(float[] w, int cols, int from, int to) {
        for (int r = from; r < to; r++) {
            for (int i = 0; i < 26; i++) {
                w[r * cols + 64 * (r % 4) + i] = 1 + i;
            }
        }
    }

    /** {@code w}, {@code rows} × {@code cols}, quantized into bitmap type {@code e}. */
    private static Tensor stored(SparseEncoding e, float[] w, int rows, int cols, Arena arena) {
        Tensor t = Tensor.allocate("w", e, arena, cols, rows);
        e.quantize(w, 0, t.data(), 0, w.length);
        return t;
    }

    /** {@code t} (bitmap type {@code e}) packed into {@code s}. */
    private static Tensor packed(SlicedTileIndexedEncoding s, SparseEncoding e, Tensor t, Arena arena) {
        int rows = t.rows(), cols = t.cols();
        Tensor sl = Tensor.allocate("w", s, arena, cols, rows);
        s.repackMatrix(e, t.data(), sl.data(), rows, cols);
        return sl;
    }

    /** {@code w} stored in {@code e} does not fit {@code s}: {@code holds} says no and packing is refused with {@code needs}. */
    private static void refused(SparseEncoding e, SlicedTileIndexedEncoding s, float[] w, int rows, int cols, String needs, Arena arena) {
        Tensor t = stored(e, w, rows, cols, arena);
        assertFalse(s.holds(e, t.data(), rows, cols));
        Tensor sl = Tensor.allocate("w", s, arena, cols, rows);
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> s.repackMatrix(e, t.data(), sl.data(), rows, cols));
        assertTrue(x.getMessage().contains(needs), x.getMessage());
    }

    /**
     * A light slice (four non-zeros a row, one a tile, which the quantizer pads to 26 stored values with
     * zeros at the first free columns: 6 steps in tile 0, one in each other) and a crowded one (each row's 26
     * in one tile, 7 steps) make one unit, whose tiles take group A's fullest row (a crowded one, 7) and
     * group B's (a light one: 6 in tile 0, 1 in the others): 13 + 8 + 8 + 8 = 37 steps, past the 2 · 12 two
     * slices may take, refused with 18.5 a block; the light slice alone, a lone slice, takes its 9.
     */
    @Test
    void aCrowdedUnitIsRefusedWithWhatItNeedsAndALightSliceAloneFits() {
        SparseEncoding e = SparseEncoding.bitmap(Values.Q8, 26);
        SlicedTileIndexedEncoding s = SlicedTileIndexedEncoding.of(e);
        int rows = 32, cols = 256;
        float[] w = new float[rows * cols];
        for (int r = 0; r < 16; r++) {
            for (int t = 0; t < 4; t++) {
                w[r * cols + 64 * t + r] = 1 + t;
            }
        }
        crowd(w, cols, 16, rows);
        try (Arena arena = Arena.ofConfined()) {
            refused(e, s, w, rows, cols, "needs 18.50", arena);
            // The light slice alone fits, and packs as the row layout decodes.
            Tensor light = stored(e, java.util.Arrays.copyOf(w, 16 * cols), 16, cols, arena);
            assertTrue(s.holds(e, light.data(), 16, cols));
            assertArrayEquals(light.toFloatArray(), packed(s, e, light, arena).toFloatArray(), 0f);
        }
    }

    /**
     * A matrix of one slice is a unit of its own, whose header is a whole unit's (32 rows' scales and
     * lanes): random rows at c = 26 need about 12 steps a block, within what a lone slice may take (13), but
     * with that header they pass the matrix's room (12 steps a block and a slice's share of a header), so
     * the matrix is refused by its room and keeps a bitmap layout; with one non-zero a row and tile (the
     * quantizer fills each block's 26 with zeros at the first free columns: 6 steps in tile 0, one in each
     * other, 9 a block) it fits.
     */
    @Test
    void aLoneSliceThatPassesTheRoomIsRefusedAndASparseOneFits() {
        SparseEncoding e = SparseEncoding.bitmap(Values.Q8, 26);
        SlicedTileIndexedEncoding s = SlicedTileIndexedEncoding.of(e);
        int rows = 16, cols = 512;
        float[] w = SlicedBitmapEncodingTest.gaussian(new Random(4), rows * cols);
        e.prune(w, 0, w.length);
        try (Arena arena = Arena.ofConfined()) {
            refused(e, s, w, rows, cols, "passes the matrix's room", arena);
            float[] sparse = new float[rows * cols];
            for (int i = 0; i < sparse.length; i += 64) {
                sparse[i] = 1 + i % 7;
            }
            Tensor t = stored(e, sparse, rows, cols, arena);
            assertTrue(s.holds(e, t.data(), rows, cols));
            assertArrayEquals(t.toFloatArray(), packed(s, e, t, arena).toFloatArray(), 0f);
        }
    }
}
