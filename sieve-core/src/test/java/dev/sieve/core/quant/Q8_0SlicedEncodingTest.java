package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Q8_0_R16 is Q8_0 with 16 rows interleaved, a row's weights in pairs: the same values, bytes where its layout says. */
class Q8_0SlicedEncodingTest {
    static final Q8_0SlicedEncoding S = Q8_0SlicedEncoding.INSTANCE;
    static final Q8_0Encoding Q = Q8_0Encoding.INSTANCE;

    @Test
    void sizesAndIdentity() {
        assertEquals("Q8_0_R16", S.name());
        assertEquals(Q.byteSize(2048), S.byteSize(2048));
        assertEquals(16, S.rowGroup());
        assertTrue(S.repacks(Q));
        assertEquals(Q, S.activationEncoding());
    }

    /** Weight k of row l's block b lands at slice block b, offset 32 + 32·(k/2) + 2·l + k%2; its scale at 2·l. */
    @Test
    void everyByteLandsWhereTheLayoutSays() {
        int rows = 32, cols = 64;
        try (Arena arena = Arena.ofConfined()) {
            long rb = Q.byteSize(cols);
            MemorySegment src = arena.allocate(rows * rb), dst = arena.allocate(rows * rb);
            for (long i = 0; i < src.byteSize(); i++) {
                src.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 131 + 7));
            }
            S.repackMatrix(Q, src, dst, rows, cols);
            for (int r = 0; r < rows; r++) {
                for (int b = 0; b < cols / 32; b++) {
                    long from = r * rb + 34L * b, slice = (r / 16) * 16 * rb + 544L * b;
                    int l = r % 16;
                    assertEquals(src.get(ValueLayout.JAVA_SHORT_UNALIGNED, from), dst.get(ValueLayout.JAVA_SHORT_UNALIGNED, slice + 2L * l));
                    for (int k = 0; k < 32; k++) {
                        assertEquals(src.get(ValueLayout.JAVA_BYTE, from + 2 + k),
                                dst.get(ValueLayout.JAVA_BYTE, slice + 32 + 32L * (k / 2) + 2L * l + k % 2), "row " + r + " block " + b + " weight " + k);
                    }
                }
            }
        }
    }

    @Test
    void everyRowDecodesAndMultipliesBitForBitAsQ8_0() {
        Random rnd = new Random(8);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : new int[][] {{16, 32}, {48, 96}, {32, 2080}}) {
                int rows = shape[0], cols = shape[1];
                float[] w = new float[rows * cols];
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) rnd.nextGaussian();
                }
                Tensor t = Tensor.allocate("w", Q, arena, cols, rows);
                Q.quantize(w, 0, t.data(), 0, w.length);
                Tensor sl = Tensor.allocate("w", S, arena, cols, rows);
                S.repackMatrix(Q, t.data(), sl.data(), rows, cols);
                assertArrayEquals(t.toFloatArray(), sl.toFloatArray(), 0f);
                float[] x = new float[cols];
                for (int i = 0; i < cols; i++) {
                    x[i] = (float) rnd.nextGaussian();
                }
                MemorySegment a = arena.allocate(Q.byteSize(cols));
                Q.quantize(x, 0, a, 0, cols);
                for (int r = 0; r < rows; r++) {
                    assertEquals(Q.dotRow(t.data(), t.rowBytes(), r, a, 0, cols), S.dotRow(sl.data(), sl.rowBytes(), r, a, 0, cols),
                            0f, rows + "x" + cols + " row " + r);
                }
            }
        }
    }

    @Test
    void refusesPartialSlicesAndOtherSources() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(Q.byteSize(24 * 64));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> S.repackMatrix(Q, m, arena.allocate(m.byteSize()), 24, 64));
            assertTrue(e.getMessage().contains("24 x 64"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> S.repackMatrix(Q4_0Encoding.INSTANCE, m, arena.allocate(m.byteSize()), 16, 32));
            assertThrows(UnsupportedOperationException.class, () -> S.dequantize(m, 0, new float[32], 0, 32));
        }
    }
}
