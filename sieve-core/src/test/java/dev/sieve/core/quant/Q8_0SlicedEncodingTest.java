package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
        SlicedEncodingChecks.everyByteLandsAt(Q, S, (j, l) -> 32 + 32 * (j / 2) + 2 * l + j % 2);
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
