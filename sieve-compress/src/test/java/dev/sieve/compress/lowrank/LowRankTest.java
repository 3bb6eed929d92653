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
}
