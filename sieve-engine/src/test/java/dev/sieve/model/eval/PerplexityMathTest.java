package dev.sieve.model.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The scoring functions against hand-computed values. */
class PerplexityMathTest {

    @Test
    void logSoftmaxOfUniformLogitsIsMinusLogVocab() {
        float[] l = new float[8];
        java.util.Arrays.fill(l, 3.5f);
        assertEquals(-Math.log(8), Perplexity.logSoftmaxAt(l, 0, 8, 5), 1e-12);
    }

    @Test
    void logSoftmaxMatchesDefinition() {
        float[] l = {0, 0, 1f, 2f, -1f};
        double z = Math.exp(1) + Math.exp(2) + Math.exp(-1) + Math.exp(0) ; // first slot is an offset
        assertEquals(2 - Math.log(z), Perplexity.logSoftmaxAt(l, 1, 4, 2), 1e-6);
    }

    @Test
    void klDivergenceOfIdenticalDistributionsIsZeroAndShiftInvariant() {
        float[] a = {1, 2, 3, 0.5f};
        float[] b = {11, 12, 13, 10.5f}; // same softmax
        assertEquals(0, Perplexity.klDivergence(a, b, 0, 4), 1e-9);
    }

    @Test
    void klDivergenceMatchesHandComputedValue() {
        // p = (0.5, 0.5), q = (0.25, 0.75): KL = 0.5 ln 2 + 0.5 ln(2/3)
        float[] p = {0, 0};
        float[] q = {(float) Math.log(0.25), (float) Math.log(0.75)};
        assertEquals(0.5 * Math.log(2) + 0.5 * Math.log(2.0 / 3), Perplexity.klDivergence(p, q, 0, 2), 1e-6);
    }
}
