package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/** What every dense 16-row layout promises about its source encoding (Q4_0_R16, Q8_0_R16): shared checks. */
final class SlicedEncodingChecks {
    private SlicedEncodingChecks() {}

    /**
     * Random matrices of one slice, three slices and a long row: every row decodes to the source's
     * values and multiplies Q8_0 activations to the source's float, bit for bit, and blocks 1-2 of row
     * 21 alone (as the kernels' row decoder asks) are that row's.
     */
    static void rowsAreTheSourceRows(WeightEncoding source, SlicedEncoding sliced, long seed) {
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : new int[][] {{16, 32}, {48, 96}, {32, 2080}}) {
                int rows = shape[0], cols = shape[1];
                float[] w = new float[rows * cols];
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) rnd.nextGaussian();
                }
                Tensor t = Tensor.allocate("w", source, arena, cols, rows);
                source.quantize(w, 0, t.data(), 0, w.length);
                Tensor sl = Tensor.allocate("w", sliced, arena, cols, rows);
                sliced.repackMatrix(source, t.data(), sl.data(), rows, cols);
                assertArrayEquals(t.toFloatArray(), sl.toFloatArray(), 0f);
                float[] x = new float[cols];
                for (int i = 0; i < cols; i++) {
                    x[i] = (float) rnd.nextGaussian();
                }
                MemorySegment a = arena.allocate(Q8_0Encoding.INSTANCE.byteSize(cols));
                Q8_0Encoding.INSTANCE.quantize(x, 0, a, 0, cols);
                for (int r = 0; r < rows; r++) {
                    assertEquals(source.dotRow(t.data(), t.rowBytes(), r, a, 0, cols), sliced.dotRow(sl.data(), sl.rowBytes(), r, a, 0, cols),
                            0f, rows + "x" + cols + " row " + r);
                }
                if (rows > 16 && cols >= 96) {
                    float[] part = new float[64], row = new float[cols];
                    sliced.dequantizeBlocks(sl.data(), SlicedEncoding.sliceOffset(sl.rowBytes(), 21), cols / 32, 5, 1, 2, part, 0);
                    t.dequantizeRow(21, row, 0);
                    assertArrayEquals(java.util.Arrays.copyOfRange(row, 32, 96), part, 0f);
                }
            }
        }
    }

    /**
     * Every byte of two slices of a patterned source matrix (rows × 64 columns, 32-column blocks whose
     * first two bytes are an f16 scale) lands where the layout says: row l's scale of block b at slice
     * block b, offset 2·l; its byte j after the scale at {@code where.applyAsInt(j, l)}.
     */
    static void everyByteLandsAt(WeightEncoding source, SlicedEncoding sliced, java.util.function.IntBinaryOperator where) {
        int rows = 32, cols = 64, bb = source.blockBytes();
        try (Arena arena = Arena.ofConfined()) {
            long rb = source.byteSize(cols);
            MemorySegment src = arena.allocate(rows * rb), dst = arena.allocate(rows * rb);
            for (long i = 0; i < src.byteSize(); i++) {
                int v = (int) (i * 131 + 7);
                // A scale's high byte with its exponent's top bit clear: a finite f16 (Q4_0_R16 refuses others).
                src.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i % rb % bb == 1 ? v & ~0x40 : v));
            }
            sliced.repackMatrix(source, src, dst, rows, cols);
            for (int r = 0; r < rows; r++) {
                for (int b = 0; b < cols / 32; b++) {
                    long from = r * rb + (long) bb * b, slice = (r / 16) * 16 * rb + 16L * bb * b;
                    int l = r % 16;
                    assertEquals(src.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, from),
                            dst.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, slice + 2L * l), "row " + r + " block " + b + " scale");
                    for (int j = 0; j < bb - 2; j++) {
                        assertEquals(src.get(java.lang.foreign.ValueLayout.JAVA_BYTE, from + 2 + j),
                                dst.get(java.lang.foreign.ValueLayout.JAVA_BYTE, slice + where.applyAsInt(j, l)),
                                "row " + r + " block " + b + " byte " + j);
                    }
                }
            }
        }
    }

    /** Part slices, another source and the row-less sequence calls are refused with a clear error. */
    static void refusesPartialSlicesOtherSourcesAndRowlessCalls(WeightEncoding source, SlicedEncoding sliced, WeightEncoding other) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(source.byteSize(24 * 64));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> sliced.repackMatrix(source, m, arena.allocate(m.byteSize()), 24, 64));
            assertTrue(e.getMessage().contains("24 x 64"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> sliced.repackMatrix(other, m, arena.allocate(m.byteSize()), 16, 32));
            assertThrows(UnsupportedOperationException.class, () -> sliced.dequantize(m, 0, new float[32], 0, 32));
            assertThrows(UnsupportedOperationException.class, () -> sliced.dotQuantized(m, 0, m, 0, 32));
        }
    }
}
