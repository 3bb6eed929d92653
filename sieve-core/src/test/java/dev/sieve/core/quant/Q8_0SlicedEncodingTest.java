package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
        SlicedEncodingChecks.rowsAreTheSourceRows(Q, S, 8);
    }

    @Test
    void refusesPartialSlicesOtherSourcesAndRowlessCalls() {
        SlicedEncodingChecks.refusesPartialSlicesOtherSourcesAndRowlessCalls(Q, S, Q4_0Encoding.INSTANCE);
    }
}
