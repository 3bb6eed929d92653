package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Dense-and-sparse encodings: two Q4_0/Q8_0 blocks per 64 weights plus the largest weight as an f16 outlier. */
class OutlierEncodingTest {
    private static final int BLOCK = OutlierEncoding.BLOCK;

    /** Gaussian weights with a large spike in most blocks: the case outliers are for. */
    private static float[] spiky(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * 0.02);
        }
        for (int b = 0; b < n / BLOCK; b++) {
            if (b % 4 != 3) {
                x[b * BLOCK + r.nextInt(BLOCK)] = (float) ((r.nextBoolean() ? 1 : -1) * (0.5 + r.nextDouble()));
            }
        }
        return x;
    }

    private static float[] roundTrip(WeightEncoding e, float[] x, Arena arena) {
        MemorySegment q = arena.allocate(e.byteSize(x.length));
        e.quantize(x, 0, q, 0, x.length);
        float[] y = new float[x.length];
        e.dequantize(q, 0, y, 0, x.length);
        return y;
    }

    private static double relRmse(float[] y, float[] x) {
        double err = 0, ss = 0;
        for (int i = 0; i < x.length; i++) {
            err += (y[i] - x[i]) * (double) (y[i] - x[i]);
            ss += (double) x[i] * x[i];
        }
        return Math.sqrt(err / ss);
    }

    @Test
    void theLargestWeightOfEachBlockComesBackAsAHalfAndTheRestAsTheDenseEncodingStoresThem() {
        Random r = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            for (OutlierEncoding e : OutlierEncoding.encodings()) {
                float[] x = spiky(r, 16 * BLOCK);
                float[] y = roundTrip(e, x, arena);
                for (int b = 0; b < 16; b++) {
                    int base = b * BLOCK;
                    int big = 0; // oracle: the first position of largest magnitude
                    for (int i = 0; i < BLOCK; i++) {
                        big = Math.abs(x[base + i]) > Math.abs(x[base + big]) ? i : big;
                    }
                    assertEquals(Float.float16ToFloat(Float.floatToFloat16(x[base + big])), y[base + big], 0f,
                            e.name() + " block " + b + " outlier at " + big);
                    float[] rest = Arrays.copyOfRange(x, base, base + BLOCK);
                    rest[big] = 0f;
                    float[] want = roundTrip(e.dense(), rest, arena);
                    for (int i = 0; i < BLOCK; i++) {
                        if (i != big) {
                            assertEquals(want[i], y[base + i], 0f, e.name() + " block " + b + " dense weight " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void outliersCutTheErrorOfSpikyWeights() {
        Random r = new Random(9);
        float[] x = spiky(r, 256 * BLOCK);
        try (Arena arena = Arena.ofConfined()) {
            for (OutlierEncoding e : OutlierEncoding.encodings()) {
                double dense = relRmse(roundTrip(e.dense(), x, arena), x);
                double both = relRmse(roundTrip(e, x, arena), x);
                // The spikes set the blocks' scales: without them the grid fits the Gaussian part.
                assertTrue(both < dense / 3, e.name() + " " + both + " vs " + e.dense().name() + " " + dense);
            }
        }
    }

    @Test
    void theOutlierIsAddedAtItsPositionModuloTheBlock() {
        OutlierEncoding e = OutlierEncoding.Q4_0_O;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q = arena.allocate(e.blockBytes());
            e.quantize(new float[BLOCK], 0, q, 0, BLOCK); // all zero
            for (int pos : new int[] {0, 37, 63, 64 + 5, 255}) {
                q.set(ValueLayout.JAVA_BYTE, e.positionAt(), (byte) pos);
                Half.putF16(q, e.valueAt(), 1.5f);
                float[] y = new float[BLOCK];
                e.dequantize(q, 0, y, 0, BLOCK);
                for (int i = 0; i < BLOCK; i++) {
                    assertEquals(i == pos % BLOCK ? 1.5f : 0f, y[i], 0f, "position " + pos + ", weight " + i);
                }
            }
        }
    }

    @Test
    void layoutNamesAndIds() {
        assertEquals(2 * 18 + 3, OutlierEncoding.Q4_0_O.blockBytes());
        assertEquals(4.875, OutlierEncoding.Q4_0_O.bitsPerWeight(), 1e-12);
        assertEquals(2 * 34 + 3, OutlierEncoding.Q8_0_O.blockBytes());
        assertEquals(8.875, OutlierEncoding.Q8_0_O.bitsPerWeight(), 1e-12);
        for (OutlierEncoding e : OutlierEncoding.encodings()) {
            assertSame(e, WeightEncodings.byName(e.name().toLowerCase()).orElseThrow());
            assertSame(e, WeightEncodings.byGgmlType(e.ggmlType()).orElseThrow());
            assertTrue(SparseEncoding.byGgmlType(e.ggmlType()).isEmpty(), e.name() + ": id taken by a sparse encoding");
            assertTrue(WeightEncodings.all().contains(e), e.name() + " is in the table tests loop over");
        }
        for (String bad : new String[] {"Q4_0_O4", "Q4_1_O", "Q4_0O"}) {
            assertTrue(WeightEncodings.byName(bad).isEmpty(), bad);
        }
    }
}
