package dev.sieve.compress.prune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.compress.Fixtures;
import dev.sieve.compress.calib.LayerStatistics;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PruneTest {
    static final int ROWS = 24;
    static final int COLS = 192; // 1.5 SparseGPT blocks: exercises the lazy update and a short last block
    static final int TOKENS = 320;

    final Random random = new Random(21);
    final float[] w = Fixtures.gaussian(random, ROWS * COLS, 0.05);
    final float[] x = Fixtures.correlatedInputs(random, TOKENS, COLS);
    final LayerStatistics stats = Fixtures.statistics(x, TOKENS, COLS);

    double err(float[] wHat) {
        return Fixtures.outputError(w, wHat, ROWS, COLS, x, TOKENS);
    }

    static int nonZeros(float[] a, int from, int len) {
        int c = 0;
        for (int i = from; i < from + len; i++) {
            c += a[i] != 0 ? 1 : 0;
        }
        return c;
    }

    /** Zeros exactly where the mask says, and the kept weights untouched (for the non-updating pruners). */
    void assertMaskConsistent(Pruned p, boolean keepsValues) {
        for (int i = 0; i < w.length; i++) {
            if (!p.kept()[i]) {
                assertEquals(0f, p.weights()[i]);
            } else {
                assertTrue(p.weights()[i] != 0, "kept weight " + i + " is zero");
                if (keepsValues) {
                    assertEquals(w[i], p.weights()[i]);
                }
            }
        }
    }

    @Test
    void unstructuredCountsAreExact() {
        SparsityPattern.Unstructured half = new SparsityPattern.Unstructured(0.5);
        Pruned mag = MagnitudePruner.prune(w, ROWS, COLS, half);
        assertEquals(w.length / 2, mag.prunedCount());
        assertMaskConsistent(mag, true);
        Pruned wanda = WandaPruner.prune(w, ROWS, COLS, stats, new SparsityPattern.Unstructured(0.3));
        for (int r = 0; r < ROWS; r++) {
            assertEquals(COLS - Math.round(0.3 * COLS), nonZeros(wanda.weights(), r * COLS, COLS), "Wanda row " + r);
        }
        assertMaskConsistent(wanda, true);
        Pruned sgpt = new SparseGptPruner().prune(w, ROWS, COLS, stats.hessian(), new SparsityPattern.Unstructured(0.6));
        // Per block of 128 columns (all rows): round(0.6·24·128) + round(0.6·24·64).
        assertEquals(Math.round(0.6 * ROWS * 128) + Math.round(0.6 * ROWS * 64), sgpt.prunedCount());
        assertMaskConsistent(sgpt, false);
    }

    @Test
    void nOfMKeepsExactlyNInEveryGroup() {
        for (int[] nm : new int[][] {{2, 4}, {4, 8}}) {
            SparsityPattern.NofM p = new SparsityPattern.NofM(nm[0], nm[1]);
            Pruned[] all = {
                MagnitudePruner.prune(w, ROWS, COLS, p),
                WandaPruner.prune(w, ROWS, COLS, stats, p),
                new SparseGptPruner().prune(w, ROWS, COLS, stats.hessian(), p)
            };
            for (Pruned pr : all) {
                for (int r = 0; r < ROWS; r++) {
                    for (int g = 0; g < COLS; g += nm[1]) {
                        assertEquals(nm[0], nonZeros(pr.weights(), r * COLS + g, nm[1]), nm[0] + ":" + nm[1] + " row " + r + " group " + g);
                    }
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> MagnitudePruner.prune(w, ROWS, COLS, new SparsityPattern.NofM(2, 5)));
    }

    @Test
    void wandaAndSparseGptBeatMagnitude() {
        for (SparsityPattern p : new SparsityPattern[] {new SparsityPattern.Unstructured(0.5), new SparsityPattern.NofM(2, 4)}) {
            double mag = err(MagnitudePruner.prune(w, ROWS, COLS, p).weights());
            double wanda = err(WandaPruner.prune(w, ROWS, COLS, stats, p).weights());
            double sgpt = err(new SparseGptPruner().prune(w, ROWS, COLS, stats.hessian(), p).weights());
            assertTrue(wanda < mag, p + ": Wanda " + wanda + " vs magnitude " + mag);
            assertTrue(sgpt < 0.7 * mag, p + ": SparseGPT " + sgpt + " vs magnitude " + mag);
            assertTrue(sgpt < wanda, p + ": SparseGPT " + sgpt + " vs Wanda " + wanda);
        }
    }

    @Test
    void owlKeepsTheMeanAndBoundsAndPrunesOutlierLayersLess() {
        double[] ratios = {0.01, 0.05, 0.02, 0.10, 0.03, 0.00};
        double[] s = OwlAllocator.allocate(ratios, 0.5, 0.08);
        double mean = 0;
        for (double v : s) {
            mean += v;
            assertTrue(v >= 0.5 - 0.08 - 1e-12 && v <= 0.5 + 0.08 + 1e-12, "in [s−λ, s+λ]: " + v);
        }
        assertEquals(0.5, mean / s.length, 1e-12);
        for (int i = 0; i < ratios.length; i++) {
            for (int j = 0; j < ratios.length; j++) {
                if (ratios[i] > ratios[j]) {
                    assertTrue(s[i] < s[j], "more outliers → less sparsity");
                }
            }
        }
        // Equal ratios: uniform sparsity.
        for (double v : OwlAllocator.allocate(new double[] {0.2, 0.2, 0.2}, 0.4, 0.1)) {
            assertEquals(0.4, v, 1e-15);
        }
        assertThrows(IllegalArgumentException.class, () -> OwlAllocator.allocate(ratios, 0.05, 0.1));
        // The outlier ratio sees the ×8 channels of the fixture.
        double r = OwlAllocator.outlierRatio(w, ROWS, COLS, stats, 5);
        assertTrue(r > 0 && r < 0.1, "ratio " + r);
    }
}
