package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The sparse encodings: exact round trips at kept positions, pattern checks, pruning, lookups. */
class SparseEncodingTest {

    private static float[] pruned(SparseEncoding e, int n, Random r) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * 0.05);
        }
        e.prune(x, 0, n);
        return x;
    }

    /** What a kept value becomes: its value type's rounding, with the tile's scale as Q8_0/Q4_0 compute it. */
    private static float[] expected(SparseEncoding e, float[] x) {
        float[] want = new float[x.length];
        int tile = e.tileBits();
        for (int t0 = 0; t0 < x.length; t0 += tile) {
            float amax = 0, max = 0;
            for (int i = t0; i < t0 + tile; i++) {
                if (Math.abs(x[i]) > amax) {
                    amax = Math.abs(x[i]);
                    max = x[i];
                }
            }
            for (int i = t0; i < t0 + tile; i++) {
                want[i] = switch (e.values()) {
                    case F16 -> Half.roundF16(x[i]);
                    case BF16 -> Float.intBitsToFloat(Half.toBf16(x[i]) << 16);
                    case Q8 -> {
                        float d = amax / 127f;
                        yield Half.roundF16(d) * QuantMath.roundAway(x[i] * (d != 0 ? 1 / d : 0));
                    }
                    case Q4 -> {
                        float d = max / -8f;
                        int q = Math.min(15, (int) (x[i] * (d != 0 ? 1 / d : 0) + 8.5f));
                        yield (q - 8) * Half.roundF16(d);
                    }
                };
            }
        }
        return want;
    }

    @Test
    void roundTripIsExactAtKeptPositionsAndZeroElsewhere() {
        Random r = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            for (WeightEncoding w : WeightEncodings.all()) {
                if (!(w instanceof SparseEncoding e)) {
                    continue;
                }
                for (int blocks : new int[] {1, 3, 8}) {
                    int n = blocks * e.blockSize();
                    float[] x = pruned(e, n, r);
                    MemorySegment q = arena.allocate(e.byteSize(n));
                    e.quantize(x, 0, q, 0, n);
                    float[] y = new float[n];
                    e.dequantize(q, 0, y, 0, n);
                    float[] want = expected(e, x);
                    for (int i = 0; i < n; i++) {
                        if (x[i] == 0) {
                            assertEquals(0f, y[i], 0f, e.name() + " pruned position " + i);
                        } else {
                            assertEquals(want[i], y[i], 0f, e.name() + " kept position " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void pruningLeavesExactlyThePatternsCount() {
        Random r = new Random(9);
        for (WeightEncoding w : WeightEncodings.all()) {
            if (w instanceof SparseEncoding e) {
                float[] x = pruned(e, 4 * e.blockSize(), r);
                int nz = 0;
                for (float v : x) {
                    nz += v != 0 ? 1 : 0;
                }
                assertEquals(e.density() * x.length, nz, 0, e.name());
            }
        }
        // Ties at the threshold keep the earlier positions and still leave exactly N.
        float[] ties = {1, 1, 1, 1, 0.5f, 2, 0.5f, 0.5f};
        SparseEncoding.nm(2, 4, SparseEncoding.Values.F16).prune(ties, 0, 8);
        assertTrue(java.util.Arrays.equals(new float[] {1, 1, 0, 0, 0.5f, 2, 0, 0}, ties), java.util.Arrays.toString(ties));
    }

    @Test
    void rowsViolatingThePatternAreRejected() {
        SparseEncoding e = SparseEncoding.nm(2, 4, SparseEncoding.Values.Q8);
        float[] x = new float[32];
        x[4] = 1;
        x[5] = 2;
        x[6] = 3; // three non-zeros in the group at column 4
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q = arena.allocate(e.blockBytes());
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> e.quantize(x, 0, q, 0, 32));
            assertTrue(ex.getMessage().contains("column 4"), ex.getMessage());
            SparseEncoding b = SparseEncoding.bitmap(SparseEncoding.Values.Q8, 2);
            float[] y = new float[256];
            y[0] = y[100] = y[200] = 1;
            MemorySegment qb = arena.allocate(b.blockBytes());
            assertThrows(IllegalArgumentException.class, () -> b.quantize(y, 0, qb, 0, 256));
        }
    }

    @Test
    void sizesIdsAndNames() {
        assertEquals(22, SparseEncoding.nm(2, 4, SparseEncoding.Values.Q8).blockBytes()); // 5.5 bpw
        assertEquals(14, SparseEncoding.nm(2, 4, SparseEncoding.Values.Q4).blockBytes()); // 3.5 bpw
        assertEquals(22, SparseEncoding.nm(4, 8, SparseEncoding.Values.Q8).blockBytes());
        assertEquals(36, SparseEncoding.nm(4, 8, SparseEncoding.Values.F16).blockBytes());
        assertEquals(8 + 32 + 128, SparseEncoding.bitmap(SparseEncoding.Values.Q8, 128).blockBytes()); // 5.25 bpw
        assertEquals(32 + 2 * 77, SparseEncoding.bitmap(SparseEncoding.Values.F16, 77).blockBytes());
        SparseEncoding b = SparseEncoding.bitmapForSparsity(SparseEncoding.Values.Q8, 0.7);
        assertEquals("Q8_B77", b.name());
        assertSame(b, WeightEncodings.byName("q8_b77").orElseThrow());
        assertSame(b, WeightEncodings.byGgmlType(b.ggmlType()).orElseThrow());
        assertEquals(b.blockBytes(), GgmlTypes.byId(b.ggmlType()).orElseThrow().blockBytes());
        assertTrue(WeightEncodings.byName("Q8_B257").isEmpty());
        assertEquals(8 + 32 + 64, SparseEncoding.bitmap(SparseEncoding.Values.Q4, 128).blockBytes()); // 3.25 bpw
        assertEquals(8 + 32 + 39, SparseEncoding.bitmap(SparseEncoding.Values.Q4, 77).blockBytes()); // odd: one lone high nibble
        SparseEncoding q4 = SparseEncoding.bitmapForSparsity(SparseEncoding.Values.Q4, 0.7);
        assertEquals("Q4_B77", q4.name());
        assertSame(q4, WeightEncodings.byGgmlType(q4.ggmlType()).orElseThrow());
        assertTrue(WeightEncodings.byName("Q4_B0").isEmpty());
        assertThrows(IllegalArgumentException.class, () -> SparseEncoding.nm(3, 4, SparseEncoding.Values.Q8));
    }

    /**
     * The padded in-memory bitmap layouts: blocks to whole 64-byte lines where that adds at most an
     * eighth, else to 8 bytes; made only from their own type, they decode to the same weights, bit for
     * bit, with zeros in the padding.
     */
    @Test
    void paddedBitmapLayoutsHoldTheSameWeights() {
        SparseEncoding q8 = SparseEncoding.bitmap(SparseEncoding.Values.Q8, 77), q8p = q8.padded();
        assertEquals("Q8_B77_P", q8p.name());
        assertEquals(128, q8p.blockBytes()); // 117 → 128: 9% more
        assertEquals(80, SparseEncoding.bitmap(SparseEncoding.Values.Q4, 77).padded().blockBytes()); // 79 → 128 would add 62%: to 8
        assertEquals(168, SparseEncoding.bitmap(SparseEncoding.Values.Q8, 128).padded().blockBytes()); // aligned already
        assertEquals(192, SparseEncoding.bitmap(SparseEncoding.Values.F16, 77).padded().blockBytes()); // 186 → 192
        assertSame(q8p, WeightEncodings.byName("q8_b77_p").orElseThrow());
        assertSame(q8p, WeightEncodings.byGgmlType(q8p.ggmlType()).orElseThrow());
        assertSame(q8p, q8p.padded());
        assertTrue(q8p.isPadded() && !q8.isPadded());
        assertTrue(q8p.repacks(q8));
        assertTrue(!q8p.repacks(SparseEncoding.bitmap(SparseEncoding.Values.Q8, 78)) && !q8.repacks(q8p) && !q8p.repacks(q8p));
        assertThrows(UnsupportedOperationException.class, () -> SparseEncoding.nm(2, 4, SparseEncoding.Values.Q8).padded());
        Random r = new Random(12);
        for (SparseEncoding.Values v : SparseEncoding.Values.values()) {
            for (int c : new int[] {1, 26, 77, 128, 255}) {
                SparseEncoding e = SparseEncoding.bitmap(v, c), p = e.padded();
                int n = 3 * 256;
                float[] x = pruned(e, n, r);
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment q = arena.allocate(e.byteSize(n)), qp = arena.allocate(p.byteSize(n));
                    qp.fill((byte) 0x5A); // the repack must zero the padding
                    e.quantize(x, 0, q, 0, n);
                    p.repackMatrix(e, q, qp, 3, 256);
                    float[] a = new float[n], b = new float[n];
                    e.dequantize(q, 0, a, 0, n);
                    p.dequantize(qp, 0, b, 0, n);
                    assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b), p.name());
                    for (int blk = 0; blk < 3; blk++) {
                        for (long i = e.blockBytes(); i < p.blockBytes(); i++) {
                            assertEquals(0, qp.get(java.lang.foreign.ValueLayout.JAVA_BYTE, blk * p.blockBytes() + i), p.name() + " padding");
                        }
                    }
                }
            }
        }
    }
}
