package dev.sieve.compress.prune;

import dev.sieve.compress.calib.LayerStatistics;

/**
 * Wanda (Sun et al., 2023): prune by weight times input norm, S_ij = |W_ij|·‖X_j‖₂, compared
 * within each output row (exactly round(s·cols) zeros per row), no weight update. N:M picks
 * within each group of the row.
 */
public final class WandaPruner {
    private WandaPruner() {}

    public static Pruned prune(float[] w, int rows, int cols, LayerStatistics stats, SparsityPattern pattern) {
        SparsityPattern.checkShape(w, rows, cols, pattern);
        if (stats.inFeatures() != cols) {
            throw new IllegalArgumentException("statistics are for " + stats.inFeatures() + " inputs, W has " + cols);
        }
        double[] score = scores(w, cols, stats);
        boolean[] kept = new boolean[w.length];
        switch (pattern) {
            case SparsityPattern.Unstructured u -> Masks.perRow(score, rows, cols, u.pruned(cols), kept);
            case SparsityPattern.NofM nm -> Masks.nOfM(score, rows, cols, nm.n(), nm.m(), kept);
        }
        return new Pruned(rows, cols, Masks.apply(w, kept), kept);
    }

    /** |W_ij|·‖X_j‖ for every weight. */
    public static double[] scores(float[] w, int cols, LayerStatistics stats) {
        double[] norms = stats.channelNorms();
        double[] s = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            s[i] = Math.abs(w[i]) * norms[i % cols];
        }
        return s;
    }
}
