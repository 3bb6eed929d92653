package dev.sieve.compress.lowrank;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.compress.Fixtures;
import dev.sieve.compress.calib.LayerStatistics;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LowRankTest {
    static final int ROWS = 40;
    static final int COLS = 48;
    static final int TOKENS = 200;

    final Random random = new Random(31);
    final float[] w = Fixtures.gaussian(random, ROWS * COLS, 0.05);
    final float[] x = Fixtures.correlatedInputs(random, TOKENS, COLS);
    final LayerStatistics stats = Fixtures.statistics(x, TOKENS, COLS);

    @Test
    void truncationErrorEqualsDroppedEnergy() {
        for (int r : new int[] {1, 7, 20, 39}) {
            LowRankFactors f = SvdFactorizer.factor(w, ROWS, COLS, new RankSelection.Fixed(r));
            assertEquals(r, f.rank());
            double dropped = 0;
            for (int i = r; i < f.sigma().length; i++) {
                dropped += f.sigma()[i] * f.sigma()[i];
            }
            assertEquals(dropped, f.droppedEnergy(), 1e-12 * dropped);
            double e = Fixtures.frobenius2(w, f.product());
            assertEquals(dropped, e, 1e-6 * dropped, "rank " + r);
        }
    }

    @Test
    void fullRankReconstructs() {
        LowRankFactors f = SvdFactorizer.factor(w, ROWS, COLS, new RankSelection.Fixed(COLS));
        assertEquals(ROWS, f.rank());
        float[] p = f.product();
        for (int i = 0; i < w.length; i++) {
            assertEquals(w[i], p[i], 1e-6, "at " + i);
        }
    }

    @Test
    void rankSelections() {
        LowRankFactors f = SvdFactorizer.factor(w, ROWS, COLS, new RankSelection.Energy(0.9));
        double total = 0, kept = 0, keptLess = 0;
        for (int i = 0; i < f.sigma().length; i++) {
            total += f.sigma()[i] * f.sigma()[i];
            if (i < f.rank()) {
                kept += f.sigma()[i] * f.sigma()[i];
            }
            if (i < f.rank() - 1) {
                keptLess += f.sigma()[i] * f.sigma()[i];
            }
        }
        assertTrue(kept >= 0.9 * total && keptLess < 0.9 * total, "smallest rank reaching 90%");
        LowRankFactors half = SvdFactorizer.factor(w, ROWS, COLS, new RankSelection.ParameterBudget(0.5));
        assertEquals(ROWS * COLS / 2 / (ROWS + COLS), half.rank()); // floor(960/88) = 10
        assertTrue(half.parameters() <= ROWS * COLS / 2 && (half.rank() + 1L) * (ROWS + COLS) > ROWS * COLS / 2);
    }

    @Test
    void whitenedSvdBeatsPlainSvdOnTheOutputAndItsErrorIsItsDroppedEnergy() {
        double[] h = stats.hessian();
        for (int r : new int[] {4, 12, 24}) {
            LowRankFactors plain = SvdFactorizer.factor(w, ROWS, COLS, new RankSelection.Fixed(r));
            LowRankFactors white = WhitenedSvdFactorizer.factor(w, ROWS, COLS, h, new RankSelection.Fixed(r));
            double ePlain = Fixtures.outputError(w, plain.product(), ROWS, COLS, x, TOKENS);
            double eWhite = Fixtures.outputError(w, white.product(), ROWS, COLS, x, TOKENS);
            assertTrue(eWhite < ePlain, "rank " + r + ": whitened " + eWhite + " vs plain " + ePlain);
            assertEquals(white.droppedEnergy(), eWhite, 1e-4 * eWhite, "‖(W − AB)X‖² = dropped σ² of W·S");
        }
    }

    /**
     * B = Σ^½·Vᵀ·S⁻¹ has a wide range when a few input channels are large (S⁻¹ shrinks their
     * columns), so storing the factors in Q8_0 could in principle undo whitening's gain. It does
     * not: with ×20 activation-outlier channels, whitened factors rounded to Q8_0 keep an output
     * error far below plain SVD's, rounded the same way.
     */
    @Test
    void whitenedSvdStaysBetterWithQ8_0Factors() {
        int rows = 64, cols = 128, tokens = 512, r = 32;
        Random rnd = new Random(3);
        float[] w2 = Fixtures.gaussian(rnd, rows * cols, 0.05);
        float[] x2 = Fixtures.correlatedInputs(rnd, tokens, cols);
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < cols; j += 31) {
                x2[t * cols + j] *= 20;
            }
        }
        LayerStatistics st = Fixtures.statistics(x2, tokens, cols);
        var q8 = dev.sieve.core.quant.WeightEncodings.byName("Q8_0").orElseThrow();
        LowRankFactors plain = SvdFactorizer.factor(w2, rows, cols, new RankSelection.Fixed(r));
        LowRankFactors white = WhitenedSvdFactorizer.factor(w2, rows, cols, st.hessian(), new RankSelection.Fixed(r), 0.01);
        double ePlain = Fixtures.outputError(w2, stored(plain, q8), rows, cols, x2, tokens);
        double eWhite = Fixtures.outputError(w2, stored(white, q8), rows, cols, x2, tokens);
        double eWhiteExact = Fixtures.outputError(w2, white.product(), rows, cols, x2, tokens);
        assertTrue(eWhite < 0.5 * ePlain, "whitened+Q8_0 " + eWhite + " vs plain+Q8_0 " + ePlain);
        assertTrue(eWhite < 2 * eWhiteExact, "Q8_0 storage " + eWhite + " vs exact factors " + eWhiteExact);
    }

    private static float[] stored(LowRankFactors f, dev.sieve.core.quant.WeightEncoding e) {
        float[] a = dev.sieve.compress.quantize.RtnQuantizer.roundTrip(f.a(), e);
        float[] b = dev.sieve.compress.quantize.RtnQuantizer.roundTrip(f.b(), e);
        return new LowRankFactors(f.rows(), f.rank(), f.cols(), a, b, f.sigma(), f.droppedEnergy()).product();
    }
}
