package dev.sieve.kernel.panama.vec;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@code FloatPathKernel.twoTokens()} is derived from whether a kernel overrides {@code dot1x2}: the
 * kernels with a two-token decoder report it (decode batches then take it), the others do not (their
 * batches stay on the one-token or tile paths, never reaching the base class's throwing dot1x2).
 */
class TwoTokenDecodersTest {

    @Test
    void kernelsThatOverrideDot1x2ReportTwoTokens() {
        assertTrue(new Q4_0Kernel().twoTokens(), "Q4_0");
        assertTrue(new Q8_0Kernel().twoTokens(), "Q8_0");
        assertTrue(new Q6_KKernel().twoTokens(), "Q6_K");
    }

    @Test
    void kernelsWithoutDot1x2DoNot() {
        assertFalse(new F32Kernel().twoTokens(), "F32");
        assertFalse(new Q4_KKernel().twoTokens(), "Q4_K");
    }
}
