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

    @Test
    void refusesPartialSlicesOtherSourcesAndRowlessCalls() {
        SlicedEncodingChecks.refusesPartialSlicesOtherSourcesAndRowlessCalls(Q, S, Q8_0Encoding.INSTANCE);
    }
}
