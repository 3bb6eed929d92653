package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
 * Bitmap Q8 and Q4 in 16-row slices: the same weights as the row layout, at several capacities
 * (blocks with fewer set bits than the capacity too), each row's dot product with Q8_0 activations the
 * row layout's with the values those activations hold, part of a row decoded alone, and set bits past a
 * block's capacity decoding to zero as the reference decodes them.
 */
class SlicedBitmapEncodingTest {
    private static final int[][] SHAPES = {{16, 256}, {48, 512}, {32, 2304}};

    @Test
    void slicesHoldEveryRowBitForBit() {
        Random r = new Random(7);
        try (Arena arena = Arena.ofConfined()) {
            for (int c : new int[] {128, 77, 1, 256}) {
              for (Values values : new Values[] {Values.Q8, Values.Q4}) {
                SparseEncoding e = SparseEncoding.bitmap(values, c);
                SlicedBitmapEncoding s = SlicedBitmapEncoding.of(e);
                // Q4: two bytes a row more a block, for each step's run of nibbles to start on a whole byte.
                assertEquals(e.blockBytes() + (values == Values.Q4 ? 2 : 0), s.blockBytes());
                assertEquals(16, s.rowGroup());
                assertEquals(e.name() + "_R", s.name());
                for (int[] shape : SHAPES) {
                    int rows = shape[0], cols = shape[1];
                    float[] w = gaussian(r, rows * cols);
                    for (int i = 0; i < w.length; i += 5) { // blocks with fewer non-zeros than the capacity
                        w[i] = 0;
                    }
                    e.prune(w, 0, w.length);
                    Tensor t = Tensor.allocate("w", e, arena, cols, rows);
                    e.quantize(w, 0, t.data(), 0, w.length);
                    Tensor sl = Tensor.allocate("w", s, arena, cols, rows);
                    s.repackMatrix(e, t.data(), sl.data(), rows, cols);
                    assertArrayEquals(t.toFloatArray(), sl.toFloatArray(), 0f, s.name());
                    SlicedNMEncodingTest.rowsAgree(e, t, s, sl, gaussian(r, cols), arena);
                    if (rows > 16 && cols >= 768) {
                        SlicedNMEncodingTest.partOfRowAgrees(s, sl, t);
                    }
                }
              }
            }
        }
    }

    /**
     * A tile mask with every bit set: the reference decodes the set bits past the capacity to zero, and so
     * do the slices (Q8 and Q4).
     */
    @Test
    void setBitsPastTheCapacityDecodeToZero() {
        Random r = new Random(3);
        for (Values values : new Values[] {Values.Q8, Values.Q4}) {
          try (Arena arena = Arena.ofConfined()) {
            SparseEncoding e = SparseEncoding.bitmap(values, 77);
            SlicedBitmapEncoding s = SlicedBitmapEncoding.of(e);
            int rows = 16, cols = 256;
            float[] w = gaussian(r, rows * cols);
            e.prune(w, 0, w.length);
            Tensor t = Tensor.allocate("w", e, arena, cols, rows);
            e.quantize(w, 0, t.data(), 0, w.length);
            t.data().set(ValueLayout.JAVA_LONG_UNALIGNED, 6 * t.rowBytes() + e.masksAt() + 8, -1L); // row 6, tile 1
            float[] ref = new float[cols];
            t.dequantizeRow(6, ref, 0);
            int zeros = 0;
            for (int k = 64; k < 256; k++) {
                zeros += ref[k] == 0 ? 1 : 0;
            }
            assertNotEquals(0, zeros, "the reference runs out of values within tiles 1-3");
            Tensor sl = Tensor.allocate("w", s, arena, cols, rows);
            s.repackMatrix(e, t.data(), sl.data(), rows, cols);
            assertArrayEquals(t.toFloatArray(), sl.toFloatArray(), 0f, s.name());
          }
        }
    }

    @Test
    void onlyBitmapQ8AndQ4HaveSlices() {
        assertFalse(SlicedBitmapEncoding.slices(SparseEncoding.bitmap(Values.BF16, 128)));
        assertFalse(SlicedBitmapEncoding.slices(SparseEncoding.bitmap(Values.Q8, 77).padded()));
        assertFalse(SlicedBitmapEncoding.slices(SparseEncoding.nm(2, 4, Values.Q8)));
        assertThrows(IllegalArgumentException.class, () -> SlicedBitmapEncoding.of(SparseEncoding.bitmap(Values.F16, 128)));
        SlicedBitmapEncoding s = SlicedBitmapEncoding.of(SparseEncoding.bitmap(Values.Q8, 128));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(s.byteSize(8 * 256));
            assertThrows(IllegalArgumentException.class, () -> s.repackMatrix(s.source(), m, arena.allocate(m.byteSize()), 8, 256));
            assertThrows(UnsupportedOperationException.class, () -> s.dequantize(m, 0, new float[256], 0, 256));
        }
    }

    static float[] gaussian(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }
}
