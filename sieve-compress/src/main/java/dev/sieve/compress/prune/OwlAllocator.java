package dev.sieve.compress.prune;

import dev.sieve.compress.calib.LayerStatistics;

/**
 * Outlier-weighted layer-wise sparsity (OWL, Yin et al., 2024): layers with more activation
 * outliers are pruned less. A layer's outlier ratio D is the fraction of its Wanda scores
 * |W_ij|·‖X_j‖ above M times their mean (M ≈ 5–10). Ratios are min-max normalized to [0, 2λ],
 * centered on their mean and subtracted from the target s, so the mean sparsity stays s (as in
 * the OWL code); if a layer would leave [s − λ, s + λ], all deviations shrink by one common
 * factor, which keeps the mean and the order.
 */
public final class OwlAllocator {
    private OwlAllocator() {}

    /** Fraction of |W_ij|·‖X_j‖ greater than {@code m} times their mean. */
    public static double outlierRatio(float[] w, int rows, int cols, LayerStatistics stats, double m) {
        double[] s = WandaPruner.scores(w, cols, stats);
        double mean = 0;
        for (double v : s) {
            mean += v;
        }
        mean /= s.length;
        int count = 0;
        for (double v : s) {
            if (v > m * mean) {
                count++;
            }
        }
        return (double) count / s.length;
    }

    /** Per-layer sparsities with mean {@code target}, each in [target − λ, target + λ]. */
    public static double[] allocate(double[] outlierRatios, double target, double lambda) {
        int n = outlierRatios.length;
        if (n == 0) {
            return new double[0];
        }
        if (!(lambda >= 0) || target - lambda < 0 || target + lambda >= 1) {
            throw new IllegalArgumentException("need 0 ≤ target − λ and target + λ < 1: target "
                    + target + ", λ " + lambda);
        }
        double min = Double.MAX_VALUE;
        double max = -Double.MAX_VALUE;
        for (double r : outlierRatios) {
            min = Math.min(min, r);
            max = Math.max(max, r);
        }
        double[] dev = new double[n];
        if (max > min) {
            double mean = 0;
            for (int i = 0; i < n; i++) {
                dev[i] = (outlierRatios[i] - min) / (max - min) * 2 * lambda;
                mean += dev[i];
            }
            mean /= n;
            double worst = 0;
            for (int i = 0; i < n; i++) {
                dev[i] -= mean;
                worst = Math.max(worst, Math.abs(dev[i]));
            }
            double shrink = worst > lambda ? lambda / worst : 1;
            for (int i = 0; i < n; i++) {
                dev[i] *= shrink;
            }
        }
        double[] sparsity = new double[n];
        for (int i = 0; i < n; i++) {
            sparsity[i] = target - dev[i];
        }
        return sparsity;
    }
}
