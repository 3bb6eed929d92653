package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.sieve.core.quant.SparseEncoding.Values;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * 2:4 (Q8, Q4, BF16, F16 values) and 4:8 (Q8, Q4) in 16-row slices: the same weights as the row layout for
 * every valid block (and for blocks whose groups hold fewer than N values), each row's dot product the row
 * layout's, part of a row decoded alone, and a group with more than N set positions keeping its first N.
 */
class SlicedNMEncodingTest {
    private static final int[][] SHAPES = {{16, 32}, {48, 96}, {32, 2080}};

    @Test
    void slicesHoldEveryRowBitForBit() {
        Random r = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            for (SlicedNMEncoding s : SlicedNMEncoding.encodings()) {
                SparseEncoding e = s.source();
                assertEquals(e.blockBytes(), s.blockBytes());
                assertEquals(16, s.rowGroup());
                for (int[] shape : SHAPES) {
                    int rows = shape[0], cols = shape[1];
                    float[] w = gaussian(r, rows * cols);
                    e.prune(w, 0, w.length);
                    for (int i = 0; i < w.length; i += 7) { // some groups with one value or none
                        w[i] = 0;
                    }
                    Tensor t = Tensor.allocate("w", e, arena, cols, rows);
                    e.quantize(w, 0, t.data(), 0, w.length);
                    Tensor sl = Tensor.allocate("w", s, arena, cols, rows);
                    s.repackMatrix(e, t.data(), sl.data(), rows, cols);
                    assertArrayEquals(t.toFloatArray(), sl.toFloatArray(), s.name()); // exactly, the sign of a stored zero too
                    rowsAgree(e, t, s, sl, gaussian(r, cols), arena);
                    if (rows > 16) {
                        partOfRowAgrees(s, sl, t);
                    }
                }
            }
        }
    }

    /**
     * A group with one set position too many in row 3's first block: for 2:4 positions 0 and 1 of every
     * group and also 2 in group 0, for 4:8 positions 0–3 and also 4 (the row layout gives values 0..N to
     * group 0's set positions and the following values to the later groups): the slices keep the group's
     * first N values, drop the extra one, and decode every later group as the row layout does.
     */
    @Test
    void aGroupWithMoreThanNSetPositionsKeepsItsFirstN() {
        try (Arena arena = Arena.ofConfined()) {
            for (SlicedNMEncoding s : SlicedNMEncoding.encodings()) {
                int m = s.source().groupSize(), extra = m / 2;
                float[][] rg = rowBothWays(s.source(), s, keptAt(m, m / 2, 5), 3, mask -> mask | 1 << extra, arena);
                float[] ref = rg[0], got = rg[1];
                assertNotEquals(0f, ref[extra], "the reference gives position " + extra + " the block's value " + extra);
                assertEquals(0f, got[extra], 0f, s.name() + ": the extra set position is dropped");
                for (int c = 0; c < ref.length; c++) { // every other position as the reference: the later values follow the set bits
                    if (c != extra) {
                        assertEquals(ref[c], got[c], 0f, s.name() + " column " + c);
                    }
                }
            }
        }
    }

    /**
     * A mask whose groups hold fewer than two set positions (no valid file has one, but any bytes
     * decode): group 0 one at position 2, group 1 none, group 2 one at position 1. The reference gives
     * value r to the r-th set bit; the slices place a lone value at its set position and a zero at the
     * first unset one (the first value then takes the later column: the relayout swaps the pair), and
     * decode every column as the reference does.
     */
    @Test
    void groupsWithFewerThanTwoSetPositionsDecodeAsTheReference() {
        try (Arena arena = Arena.ofConfined()) {
            for (SlicedNMEncoding s : twoOfFour()) {
                float[][] rg = rowBothWays(s.source(), s, keptAt(4, 2, 7), 5, mask -> mask & ~0xFFF | 0x4 | 0x0 << 4 | 0x2 << 8, arena);
                assertNotEquals(0f, rg[0][2], "the reference gives position 2 the block's value 0");
                assertArrayEquals(rg[0], rg[1], 0f, s.name());
            }
        }
    }

    /**
     * 4:8 groups with fewer than four set positions, each pair's columns then from filled places: group
     * 0 one value at its last position (7, so its pairs are 0–1 and 2–7, the second from column 2 of the
     * group), group 1 none, group 2 three at 1, 3 and 6, group 3 four (0–3): every column as the reference.
     */
    @Test
    void fourOfEightGroupsWithFewerSetPositionsDecodeAsTheReference() {
        try (Arena arena = Arena.ofConfined()) {
            for (SlicedNMEncoding s : fourOfEight()) {
                float[][] rg = rowBothWays(s.source(), s, keptAt(8, 4, 7), 5, mask -> 0x80 | 0x00 << 8 | 0x4A << 16 | 0x0F << 24, arena);
                assertNotEquals(0f, rg[0][7], "the reference gives position 7 the block's value 0");
                assertNotEquals(0f, rg[0][22], "and position 22 (group 2's third) value 3");
                assertArrayEquals(rg[0], rg[1], 0f, s.name());
            }
        }
    }

    private static java.util.List<SlicedNMEncoding> twoOfFour() {
        return SlicedNMEncoding.encodings().stream().filter(s -> s.source().groupSize() == 4).toList();
    }

    private static java.util.List<SlicedNMEncoding> fourOfEight() {
        return SlicedNMEncoding.encodings().stream().filter(s -> s.source().groupSize() == 8).toList();
    }

    /** 16 × 32 weights, non-zero at the first {@code kept} positions of every group of {@code group} (values cycling over {@code period}). */
    static float[] keptAt(int group, int kept, int period) {
        float[] w = new float[16 * 32];
        for (int i = 0; i < w.length; i++) {
            w[i] = i % group < kept ? (i % period) - period / 2f : 0;
        }
        return w;
    }

    /**
     * The 16 × 32 weights {@code w} quantized in {@code e}, row {@code row}'s first 32-bit mask rewritten
     * by {@code mask}: that row as {@code e}'s reference decodes it, and as the slices of {@code s} made
     * from it do.
     */
    static float[][] rowBothWays(SparseEncoding e, SlicedEncoding s, float[] w, int row, java.util.function.IntUnaryOperator mask,
            Arena arena) {
        int rows = 16, cols = 32;
        Tensor t = Tensor.allocate("w", e, arena, cols, rows);
        e.quantize(w, 0, t.data(), 0, w.length);
        long at = row * t.rowBytes() + e.masksAt();
        t.data().set(ValueLayout.JAVA_INT_UNALIGNED, at, mask.applyAsInt(t.data().get(ValueLayout.JAVA_INT_UNALIGNED, at)));
        float[] ref = new float[cols], got = new float[cols];
        t.dequantizeRow(row, ref, 0);
        Tensor sl = Tensor.allocate("w", s, arena, cols, rows);
        s.repackMatrix(e, t.data(), sl.data(), rows, cols);
        sl.dequantizeRow(row, got, 0);
        return new float[][] {ref, got};
    }

    @Test
    void twoToFourAndFourToEightWithQuantizedValuesHaveSlices() {
        assertEquals(6, SlicedNMEncoding.encodings().size());
        assertEquals("Q4_S48_R", SlicedNMEncoding.of(SparseEncoding.nm(4, 8, Values.Q4)).name());
        assertThrows(IllegalArgumentException.class, () -> SlicedNMEncoding.of(SparseEncoding.nm(4, 8, Values.F16)));
        assertThrows(IllegalArgumentException.class, () -> SlicedNMEncoding.of(SparseEncoding.nm(4, 8, Values.BF16)));
        SlicedNMEncoding s = SlicedNMEncoding.of(SparseEncoding.nm(2, 4, Values.Q4));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(s.byteSize(8 * 64));
            assertThrows(IllegalArgumentException.class, () -> s.repackMatrix(s.source(), m, arena.allocate(m.byteSize()), 8, 64));
            assertThrows(UnsupportedOperationException.class, () -> s.dequantize(m, 0, new float[32], 0, 32));
        }
    }

    /**
     * Every row of {@code t} (row layout {@code e}) and of {@code sl} (its layout {@code s}, which may
     * take other activations: Q8_0 for the 16-bit kernels), and {@code x}: each row's product in the
     * sliced layout with {@code x} in its own activation encoding equals the row layout's with the values
     * that encoding holds, to float summation's error (bounded by Σ|w·x|, not by the sum).
     */
    static void rowsAgree(WeightEncoding e, Tensor t, WeightEncoding s, Tensor sl, float[] x, Arena arena) {
        int cols = t.cols();
        float[] held = new float[cols], wr = new float[cols];
        MemorySegment[] acts = activations(s, x, held, arena);
        for (int row = 0; row < t.rows(); row++) {
            float want = e.dotRow(t.data(), t.rowBytes(), row, acts[1], 0, cols);
            t.dequantizeRow(row, wr, 0);
            double mass = 0;
            for (int c = 0; c < cols; c++) {
                mass += Math.abs(wr[c] * held[c]);
            }
            assertEquals(want, s.dotRow(sl.data(), sl.rowBytes(), row, acts[0], 0, cols), 1e-5 * (1 + mass), s.name() + " row " + row);
        }
    }

    /** Blocks 1–2 of row 21 decoded alone, as the kernels' row decoder asks, are the row layout's columns. */
    static void partOfRowAgrees(SlicedEncoding s, Tensor sl, Tensor t) {
        int cols = t.cols(), bs = s.blockSize();
        float[] part = new float[2 * bs], whole = new float[cols];
        s.dequantizeBlocks(sl.data(), SlicedEncoding.sliceOffset(sl.rowBytes(), 21), cols / bs, 5, 1, 2, part, 0);
        t.dequantizeRow(21, whole, 0);
        assertArrayEquals(java.util.Arrays.copyOfRange(whole, bs, 3 * bs), part, 0f, s.name());
    }

    /**
     * {@code x} in {@code s}'s activation encoding, and as F32 the values that encoding holds ({@code
     * held}, for the row layout's reference): {encoded, held as F32}.
     */
    static MemorySegment[] activations(WeightEncoding s, float[] x, float[] held, Arena arena) {
        WeightEncoding act = s.activationEncoding();
        MemorySegment as = arena.allocate(act.byteSize(x.length)), a = arena.allocate(4L * x.length);
        act.quantize(x, 0, as, 0, x.length);
        act.dequantize(as, 0, held, 0, x.length);
        F32Encoding.INSTANCE.quantize(held, 0, a, 0, x.length);
        return new MemorySegment[] {as, a};
    }

    private static float[] gaussian(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }
}
