package dev.sieve.compress.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sieve.compress.Fixtures;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LayerStatisticsTest {

    @Test
    void hessianIsTheGramMatrixAndBatchesMerge() {
        int cols = 12, tokens = 40;
        float[] x = Fixtures.correlatedInputs(new Random(5), tokens, cols);
        LayerStatistics all = Fixtures.statistics(x, tokens, cols);
        LayerStatistics a = new LayerStatistics(cols);
        a.accumulate(x, 0, 15);
        LayerStatistics b = new LayerStatistics(cols);
        b.accumulate(x, 15 * cols, tokens - 15);
        a.merge(b);
        double[] h = all.hessian();
        double[] hm = a.hessian();
        for (int i = 0; i < cols; i++) {
            double sq = 0, abs = 0;
            for (int t = 0; t < tokens; t++) {
                sq += (double) x[t * cols + i] * x[t * cols + i];
                abs += Math.abs(x[t * cols + i]);
            }
            assertEquals(sq, all.squaredNorms()[i], 1e-9 * sq);
            assertEquals(Math.sqrt(sq), all.channelNorms()[i], 1e-9 * Math.sqrt(sq));
            assertEquals(abs / tokens, all.meanAbs()[i], 1e-9 * abs);
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int t = 0; t < tokens; t++) {
                    s += (double) x[t * cols + i] * x[t * cols + j];
                }
                assertEquals(s, h[i * cols + j], 1e-9 * (1 + Math.abs(s)), "H[" + i + "][" + j + "]");
                assertEquals(s, hm[i * cols + j], 1e-9 * (1 + Math.abs(s)), "merged H");
            }
        }
        assertEquals(tokens, a.tokens());
    }
}
