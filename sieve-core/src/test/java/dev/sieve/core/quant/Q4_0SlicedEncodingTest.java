package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Q4_0_R16 is Q4_0 with 16 rows interleaved: the same values, bytes where its layout says, nothing else. */
class Q4_0SlicedEncodingTest {
    static final Q4_0SlicedEncoding S = Q4_0SlicedEncoding.INSTANCE;
    static final Q4_0Encoding Q = Q4_0Encoding.INSTANCE;

    @Test
    void sizesAndIdentity() {
        assertEquals("Q4_0_R16", S.name());
        assertEquals(Q.blockBytes(), S.blockBytes());
        assertEquals(Q.byteSize(2048), S.byteSize(2048));
        assertEquals(16, S.rowGroup());
        assertTrue(S.repacks(Q));
        assertEquals(Q8_0Encoding.INSTANCE, S.activationEncoding());
    }

    /** Byte j of row l's block b lands at slice block b, offset 32 + 16·j + l; its scale at 2·l. */
    @Test
    void everyByteLandsWhereTheLayoutSays() {
        SlicedEncodingChecks.everyByteLandsAt(Q, S, (j, l) -> 32 + 16 * j + l);
    }

    @Test
    void everyRowDecodesAndMultipliesBitForBitAsQ4_0() {
        SlicedEncodingChecks.rowsAreTheSourceRows(Q, S, 5);
    }

    /**
     * Bitmap Q4 (capacities 128, 77 with its high-nibble-only byte, and 256) made Q4_0_R16: every row decodes
     * as the bitmap reference does, value for value (a tile's scale on both of its blocks, zeros where
     * nothing is stored), also with set bits past the capacity (the reference reads them as zero).
     */
    @Test
    void bitmapQ4RowsBecomeTheSameValues() {
        java.util.Random r = new java.util.Random(3);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            for (int c : new int[] {128, 77, 256}) {
                SparseEncoding e = SparseEncoding.bitmap(SparseEncoding.Values.Q4, c);
                assertTrue(S.repacks(e), e.name());
                int rows = 32, cols = 512;
                float[] w = new float[rows * cols];
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) r.nextGaussian();
                }
                e.prune(w, 0, w.length);
                dev.sieve.core.tensor.Tensor t = dev.sieve.core.tensor.Tensor.allocate("w", e, arena, cols, rows);
                e.quantize(w, 0, t.data(), 0, w.length);
                if (c < 256) { // row 3's first tile: every bit set, more than its share of the capacity
                    t.data().set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 3 * t.rowBytes() + e.masksAt(), -1L);
                }
                dev.sieve.core.tensor.Tensor sl = dev.sieve.core.tensor.Tensor.allocate("w", S, arena, cols, rows);
                S.repackMatrix(e, t.data(), sl.data(), rows, cols);
                float[] want = new float[cols], got = new float[cols];
                for (int row = 0; row < rows; row++) {
                    t.dequantizeRow(row, want, 0);
                    sl.dequantizeRow(row, got, 0);
                    org.junit.jupiter.api.Assertions.assertArrayEquals(want, got, 0f, e.name() + " row " + row);
                }
            }
        }
        assertTrue(!S.repacks(SparseEncoding.bitmap(SparseEncoding.Values.Q8, 128)));
        assertTrue(!S.repacks(SparseEncoding.bitmap(SparseEncoding.Values.Q4, 77).padded()));
    }

    /**
     * Its 16-bit decode reads scales as finite halves, so the layout refuses a block whose scale is
     * infinite or NaN, naming the block and the row (the largest finite half passes).
     */
    @Test
    void refusesInfiniteAndNaNScales() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            int rows = 16, cols = 64;
            for (short half : new short[] {(short) 0x7C00, (short) 0xFC00, (short) 0x7E01, (short) 0x7BFF}) {
                dev.sieve.core.tensor.Tensor t = dev.sieve.core.tensor.Tensor.allocate("w", Q, arena, cols, rows);
                for (long b = 0; b < t.data().byteSize(); b += Q.blockBytes()) {
                    t.data().set(Half.SHORT_LE, b, (short) 0x3C00); // 1.0
                }
                t.data().set(Half.SHORT_LE, 5 * t.rowBytes() + Q.blockBytes(), half); // row 5, block 1
                dev.sieve.core.tensor.Tensor sl = dev.sieve.core.tensor.Tensor.allocate("w", S, arena, cols, rows);
                if (half == (short) 0x7BFF) {
                    S.repackMatrix(Q, t.data(), sl.data(), rows, cols);
                    org.junit.jupiter.api.Assertions.assertArrayEquals(t.toFloatArray(), sl.toFloatArray(), 0f);
                    continue;
                }
                IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                        () -> S.repackMatrix(Q, t.data(), sl.data(), rows, cols));
                assertTrue(e.getMessage().contains("block 1 of row 5") && e.getMessage().contains(half == (short) 0x7E01 ? "NaN" : "infinite"),
                        e.getMessage());
            }
        }
    }

    @Test
    void refusesPartialSlicesOtherSourcesAndRowlessCalls() {
        SlicedEncodingChecks.refusesPartialSlicesOtherSourcesAndRowlessCalls(Q, S, Q8_0Encoding.INSTANCE);
    }
}
