package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Indexed N:16 sparsity: pruning keeps the N largest of every 16, quantizing stores exactly those
 * (Q8_0's or Q4_0's rounding, or F16's and BF16's round-to-nearest-even, computed here
 * independently), and the 16-row layout made at load holds every value of the row layout, bit for bit.
 */
class IndexedSparseEncodingTest {
    private static final int[] NS = {1, 2, 5, 8, 15, 16};

    @Test
    void namesIdsAndSizes() {
        IndexedSparseEncoding q8 = IndexedSparseEncoding.of(5, SparseEncoding.Values.Q8);
        assertEquals("Q8_I5", q8.name());
        assertEquals(2 + 3 * 5, q8.blockBytes()); // 4.25 bits per weight
        assertEquals(4.25, q8.bitsPerWeight(), 1e-12);
        assertEquals(5.0 / 16, q8.density(), 1e-12);
        IndexedSparseEncoding q4 = IndexedSparseEncoding.of(8, SparseEncoding.Values.Q4);
        assertEquals(2 + 2 * 8, q4.blockBytes());
        IndexedSparseEncoding f16 = IndexedSparseEncoding.of(8, SparseEncoding.Values.F16);
        assertEquals("F16_I8", f16.name());
        assertEquals(5 * 8, f16.blockBytes()); // no scale: indices, then two bytes per value
        assertEquals(10.0, f16.bitsPerWeight(), 1e-12);
        assertEquals(0, f16.indexAt());
        assertEquals("BF16_I3", IndexedSparseEncoding.of(3, SparseEncoding.Values.BF16).name());
        java.util.Set<Integer> ids = new java.util.HashSet<>();
        for (IndexedSparseEncoding e : IndexedSparseEncoding.encodings()) {
            assertSame(e, WeightEncodings.byGgmlType(e.ggmlType()).orElseThrow());
            assertSame(e, WeightEncodings.byName(e.name().toLowerCase()).orElseThrow());
            SlicedIndexedEncoding s = SlicedIndexedEncoding.of(e);
            assertSame(e, s.source());
            assertTrue(ids.add(e.ggmlType()) && ids.add(s.ggmlType()), e.name() + ": ids repeat");
        }
        assertEquals(64, IndexedSparseEncoding.encodings().size());
        assertEquals(2320, IndexedSparseEncoding.of(1, SparseEncoding.Values.Q8).ggmlType()); // files written before the two-byte types
        assertEquals(2351, IndexedSparseEncoding.of(16, SparseEncoding.Values.Q4).ggmlType());
        assertSame(IndexedSparseEncoding.of(5, SparseEncoding.Values.Q8),
                IndexedSparseEncoding.forSparsity(0.7, SparseEncoding.Values.Q8));
        assertSame(IndexedSparseEncoding.of(8, SparseEncoding.Values.Q4), IndexedSparseEncoding.forPattern("8:16", 0.5, "q4"));
        assertThrows(IllegalArgumentException.class, () -> IndexedSparseEncoding.forPattern("8:16", 0.7, "q4"));
        assertSame(f16, IndexedSparseEncoding.forPattern("8:16", 0.5, "F16"));
        assertThrows(IllegalArgumentException.class, () -> IndexedSparseEncoding.forPattern("indexed", 0.5, "q2"));
        assertThrows(IllegalArgumentException.class, () -> IndexedSparseEncoding.of(17, SparseEncoding.Values.Q8));
    }

    @Test
    void pruneKeepsTheNLargestOfEvery16() {
        Random r = new Random(1);
        for (int n : NS) {
            IndexedSparseEncoding e = IndexedSparseEncoding.of(n, SparseEncoding.Values.Q8);
            float[] x = gaussian(r, 96);
            x[3] = x[7]; // a tie: the lower column is kept first
            float[] orig = x.clone();
            e.prune(x, 0, x.length);
            for (int g = 0; g < x.length / 16; g++) {
                int kept = 0;
                float minKept = Float.MAX_VALUE, maxDropped = 0;
                for (int i = 16 * g; i < 16 * g + 16; i++) {
                    if (x[i] != 0) {
                        kept++;
                        assertEquals(orig[i], x[i]);
                        minKept = Math.min(minKept, Math.abs(orig[i]));
                    } else {
                        maxDropped = Math.max(maxDropped, Math.abs(orig[i]));
                    }
                }
                assertEquals(n, kept, "N=" + n + " group " + g);
                assertTrue(minKept >= maxDropped, "N=" + n + " kept a smaller value than it dropped");
            }
        }
    }

    @Test
    void quantizeStoresThePrunedValuesWithQ8_0AndQ4_0Rounding() {
        Random r = new Random(2);
        for (SparseEncoding.Values v : new SparseEncoding.Values[] {SparseEncoding.Values.Q8, SparseEncoding.Values.Q4}) {
            for (int n : NS) {
                IndexedSparseEncoding e = IndexedSparseEncoding.of(n, v);
                float[][] xy = prunedRoundTrip(e, r);
                float[] x = xy[0], y = xy[1];
                for (int b = 0; b < x.length / 32; b++) {
                    float amax = 0, max = 0;
                    for (int i = 32 * b; i < 32 * b + 32; i++) {
                        if (Math.abs(x[i]) > amax) {
                            amax = Math.abs(x[i]);
                            max = x[i];
                        }
                    }
                    // ggml's reference: d = amax / 127 (Q8_0) or max / −8 (Q4_0), id = 1 / d, stored as f16.
                    float dq = v == SparseEncoding.Values.Q8 ? amax / 127f : max / -8f;
                    float id = 1f / dq;
                    float d = Half.roundF16(dq);
                    for (int i = 32 * b; i < 32 * b + 32; i++) {
                        float want = v == SparseEncoding.Values.Q8
                                ? d * Math.round(x[i] * id) // no ties in Gaussian data: half-away equals Math.round
                                : d * (Math.min(15, (int) (x[i] * id + 8.5f)) - 8);
                        assertEquals(want, y[i], 0f, e.name() + " weight " + i);
                    }
                }
            }
        }
    }

    /** F16 and BF16 values: each kept weight rounded to nearest even on its own (no scale), the pruned ones zero. */
    @Test
    void quantizeStoresTwoByteValuesRoundedToNearestEven() {
        Random r = new Random(4);
        for (SparseEncoding.Values v : new SparseEncoding.Values[] {SparseEncoding.Values.F16, SparseEncoding.Values.BF16}) {
            for (int n : NS) {
                IndexedSparseEncoding e = IndexedSparseEncoding.of(n, v);
                float[][] xy = prunedRoundTrip(e, r);
                float[] x = xy[0], y = xy[1];
                for (int i = 0; i < x.length; i++) {
                    float want = v == SparseEncoding.Values.F16 ? Float.float16ToFloat(Float.floatToFloat16(x[i])) : nearestBf16(x[i]);
                    assertEquals(want, y[i], 0f, e.name() + " weight " + i);
                }
            }
        }
    }

    /** 128 random weights pruned for {@code e}, and what quantizing and dequantizing them gives. */
    private static float[][] prunedRoundTrip(IndexedSparseEncoding e, Random r) {
        float[] x = gaussian(r, 128);
        e.prune(x, 0, x.length);
        MemorySegment q = MemorySegment.ofArray(new byte[(int) e.byteSize(x.length)]);
        e.quantize(x, 0, q, 0, x.length);
        float[] y = new float[x.length];
        e.dequantize(q, 0, y, 0, x.length);
        return new float[][] {x, y};
    }

    /** The nearest bfloat16 (ties to an even last bit), by comparing the two candidates' distances in double. */
    private static float nearestBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        float lo = Float.intBitsToFloat(bits & 0xFFFF0000), hi = Float.intBitsToFloat((bits & 0xFFFF0000) + 0x10000);
        double dl = Math.abs((double) x - lo), dh = Math.abs((double) hi - x);
        if (dl != dh) {
            return dl < dh ? lo : hi;
        }
        return (Float.floatToRawIntBits(lo) & 0x10000) == 0 ? lo : hi;
    }

    @Test
    void quantizeRejectsAGroupWithTooManyNonZerosAndPadsOneWithFewer() {
        IndexedSparseEncoding e = IndexedSparseEncoding.of(2, SparseEncoding.Values.Q8);
        float[] x = new float[32];
        x[16] = 1;
        x[17] = 2;
        x[20] = 3;
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> e.quantize(x, 0, MemorySegment.ofArray(new byte[e.blockBytes()]), 0, 32));
        assertTrue(ex.getMessage().contains("column 16") && ex.getMessage().contains("3 non-zeros"), ex.getMessage());
        x[20] = 0;
        x[5] = -1; // half A: one non-zero, padded with a stored zero at column 0
        MemorySegment q = MemorySegment.ofArray(new byte[e.blockBytes()]);
        e.quantize(x, 0, q, 0, 32);
        assertEquals(0 | 0 << 4, Half.u8(q, IndexedSparseEncoding.IDX)); // pair 0: A column 0 (padding), B column 0
        assertEquals(5 | 1 << 4, Half.u8(q, IndexedSparseEncoding.IDX + 1));
        float[] y = new float[32];
        e.dequantize(q, 0, y, 0, 32);
        assertArrayEquals(x, y, 0.01f);
    }

    @Test
    void aRepeatedIndexAddsBothValues() {
        IndexedSparseEncoding e = IndexedSparseEncoding.of(2, SparseEncoding.Values.Q8);
        byte[] b = new byte[e.blockBytes()];
        MemorySegment q = MemorySegment.ofArray(b);
        Half.putF16(q, 0, 0.5f);
        b[2] = 0x33; // pair 0: A column 3, B column 3
        b[3] = 0x33; // pair 1: the same columns again
        b[4] = 2; // A values
        b[5] = 4;
        b[6] = -2; // B values
        b[7] = -6;
        float[] y = new float[32];
        e.dequantize(q, 0, y, 0, 32);
        assertEquals(3f, y[3]);
        assertEquals(-4f, y[19]);
        float[] x = new float[32];
        x[3] = 1;
        x[19] = 10;
        MemorySegment a = MemorySegment.ofArray(new byte[32 * 4]);
        F32Encoding.INSTANCE.quantize(x, 0, a, 0, 32);
        assertEquals(3f - 40f, e.dotQuantized(q, 0, a, 0, 32));
    }

    /**
     * 4:8 rows (every value type) interleaved as {@code Q8_I8_R}, {@code Q4_I8_R}, ...: the same weights
     * as the 4:8 reference decodes them; only N = 8 of the same value type takes them.
     */
    @Test
    void fourOfEightRowsBecomeIndexedSlicesOfTheSameWeights() {
        Random r = new Random(9);
        try (Arena arena = Arena.ofConfined()) {
            for (SparseEncoding.Values v : SparseEncoding.Values.values()) {
                SparseEncoding e = SparseEncoding.nm(4, 8, v);
                SlicedIndexedEncoding s = SlicedIndexedEncoding.of(IndexedSparseEncoding.of(8, v));
                assertTrue(s.repacks(e));
                assertFalse(s.repacks(SparseEncoding.nm(2, 4, v)));
                assertFalse(SlicedIndexedEncoding.of(IndexedSparseEncoding.of(5, v)).repacks(e));
                for (int[] shape : new int[][] {{16, 32}, {48, 96}, {32, 2080}}) {
                    Tensor[] ts = prunedAndSliced(e, s, shape[0], shape[1], r, arena);
                    Tensor t = ts[0], sl = ts[1];
                    // Equal as numbers (a stored zero may lose its sign: the indexed layout adds its values into zeros).
                    assertArrayEquals(t.toFloatArray(), sl.toFloatArray(), 0f, s.name() + " from " + e.name());
                }
            }
            SlicedIndexedEncoding q8 = SlicedIndexedEncoding.of(IndexedSparseEncoding.of(8, SparseEncoding.Values.Q8));
            SparseEncoding q4 = SparseEncoding.nm(4, 8, SparseEncoding.Values.Q4);
            MemorySegment m = arena.allocate(q4.byteSize(16 * 32));
            assertThrows(IllegalArgumentException.class, () -> q8.repackMatrix(q4, m, arena.allocate(q8.byteSize(16 * 32)), 16, 32));
        }
    }

    /**
     * A 4:8 block whose mask breaks the pattern (no valid file has one, but any bytes decode): the
     * first half with ten set positions, the second with six. The 4:8 reference gives value r to the
     * r-th set bit; the indexed layout keeps the first half's first eight (positions 8 and 9 become
     * zero), the second half's six, and pads it with zeros: every other column as the reference.
     */
    @Test
    void aFourOfEightBlockThatBreaksThePatternKeepsEightAHalf() {
        try (Arena arena = Arena.ofConfined()) {
            for (SparseEncoding.Values v : SparseEncoding.Values.values()) {
                SparseEncoding e = SparseEncoding.nm(4, 8, v);
                SlicedIndexedEncoding s = SlicedIndexedEncoding.of(IndexedSparseEncoding.of(8, v));
                // positions 0-3 of every group of eight; row 7: ten set in columns 0-15, six in 16-31
                float[][] rg = SlicedNMEncodingTest.rowBothWays(e, s, SlicedNMEncodingTest.keptAt(8, 4, 7), 7, mask -> 0x3FF | 0x3F << 16, arena);
                float[] ref = rg[0], got = rg[1];
                assertNotEquals(0f, ref[8], v + ": the reference gives position 8 the block's value 8");
                for (int c = 0; c < ref.length; c++) {
                    assertEquals(c == 8 || c == 9 ? 0f : ref[c], got[c], 0f, s.name() + " column " + c);
                }
            }
        }
    }

    @Test
    void slicedLayoutHoldsEveryRowBitForBit() {
        Random r = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            for (SparseEncoding.Values v : SparseEncoding.Values.values()) {
                for (int n : NS) {
                    IndexedSparseEncoding e = IndexedSparseEncoding.of(n, v);
                    SlicedIndexedEncoding s = SlicedIndexedEncoding.of(e);
                    assertSame(s, SlicedIndexedEncoding.of(e));
                    assertEquals(e.blockBytes(), s.blockBytes());
                    assertEquals(16, s.rowGroup());
                    for (int[] shape : new int[][] {{16, 32}, {48, 96}, {32, 2080}}) {
                        int rows = shape[0], cols = shape[1];
                        Tensor[] ts = prunedAndSliced(e, s, rows, cols, r, arena);
                        Tensor t = ts[0], sl = ts[1];
                        assertArrayEquals(t.toFloatArray(), sl.toFloatArray(), 0f, s.name());
                        // Each layout's activations in its own encoding (Q4: Q8_0), the row
                        // layout given the values those hold; bit for bit where both are F32.
                        MemorySegment[] acts = SlicedNMEncodingTest.activations(s, gaussian(r, cols), new float[cols], arena);
                        MemorySegment as = acts[0], a = acts[1];
                        assertEquals(s.sixteenBit() ? Q8_0Encoding.INSTANCE : F32Encoding.INSTANCE, s.activationEncoding());
                        for (int row = 0; row < rows; row++) {
                            float want = e.dotRow(t.data(), t.rowBytes(), row, a, 0, cols);
                            assertEquals(want, s.dotRow(sl.data(), sl.rowBytes(), row, as, 0, cols),
                                    s.sixteenBit() ? 1e-5f * (1 + Math.abs(want)) : 0f, s.name() + " row " + row);
                        }
                        // Row l's scale of block j (the row layout's block's first bytes) at 2·l of the block's
                        // 32 scale bytes: for Q4 in groups of 32 blocks, each group's scales first (block
                        // j's at 32·(j mod 32) in its group, after j / 32 whole groups of 32 · 16 blocks' bytes);
                        // otherwise each block (16 rows' bytes) starts with its own.
                        assertEquals(v == SparseEncoding.Values.Q4, s.scalesLead(), s.name());
                        assertEquals(v == SparseEncoding.Values.Q4, s.sixteenBit(), s.name());
                        assertEquals(e.scaled(), s.scaled(), s.name());
                        for (int row = 0; e.scaled() && row < rows; row++) {
                            for (int j = 0; j < cols / 32; j++) {
                                long at = s.scalesLead() ? 32L * (j % 32) + j / 32 * 32 * 16L * e.blockBytes() : 16L * j * e.blockBytes();
                                assertEquals(t.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, row * t.rowBytes() + j * e.blockBytes()),
                                        sl.data().get(ValueLayout.JAVA_SHORT_UNALIGNED,
                                                SlicedEncoding.sliceOffset(sl.rowBytes(), row) + at + 2 * (row % 16)), s.name());
                            }
                        }
                        if (rows > 16) { // blocks 1-2 of row 21 alone, as the kernels' row decoder asks
                            float[] part = new float[64], whole = new float[cols];
                            s.dequantizeBlocks(sl.data(), SlicedEncoding.sliceOffset(sl.rowBytes(), 21), cols / 32, 5, 1, 2, part, 0);
                            t.dequantizeRow(21, whole, 0);
                            assertArrayEquals(java.util.Arrays.copyOfRange(whole, 32, 96), part, 0f, s.name());
                        }
                    }
                }
            }
            IndexedSparseEncoding e = IndexedSparseEncoding.of(4, SparseEncoding.Values.Q8);
            MemorySegment m = arena.allocate(e.byteSize(8 * 64));
            assertThrows(IllegalArgumentException.class,
                    () -> SlicedIndexedEncoding.of(e).repackMatrix(e, m, arena.allocate(m.byteSize()), 8, 64));
            assertThrows(UnsupportedOperationException.class, () -> SlicedIndexedEncoding.of(e).dequantize(m, 0, new float[32], 0, 32));
        }
    }

    /** Random weights pruned and quantized in {@code e} ({@code rows × cols}), and the same matrix in its sliced layout {@code s}. */
    static Tensor[] prunedAndSliced(WeightEncoding e, SlicedEncoding s, int rows, int cols, Random r, Arena arena) {
        float[] w = gaussian(r, rows * cols);
        e.prune(w, 0, w.length);
        Tensor t = Tensor.allocate("w", e, arena, cols, rows);
        e.quantize(w, 0, t.data(), 0, w.length);
        Tensor sl = Tensor.allocate("w", s, arena, cols, rows);
        s.repackMatrix(e, t.data(), sl.data(), rows, cols);
        return new Tensor[] {t, sl};
    }

    private static float[] gaussian(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * 0.05);
        }
        return x;
    }
}
