package dev.sieve.compress.prune;

import dev.sieve.compress.linalg.Selection;

/**
 * Magnitude pruning (Han et al., 2015): zero the weights of smallest |w|, with no data. Unstructured
 * sparsity is chosen over the whole layer (exactly round(s·rows·cols) zeros); N:M per group.
 */
public final class MagnitudePruner {
    private MagnitudePruner() {}

    public static Pruned prune(float[] w, int rows, int cols, SparsityPattern pattern) {
        SparsityPattern.checkShape(w, rows, cols, pattern);
        double[] score = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            score[i] = Math.abs(w[i]);
        }
        boolean[] kept = new boolean[w.length];
        switch (pattern) {
            case SparsityPattern.Unstructured u -> {
                boolean[] drop = Selection.smallest(score, w.length, u.pruned(w.length));
                for (int i = 0; i < w.length; i++) {
                    kept[i] = !drop[i];
                }
            }
            case SparsityPattern.NofM nm -> Masks.nOfM(score, rows, cols, nm.n(), nm.m(), kept);
        }
        return new Pruned(rows, cols, Masks.apply(w, kept), kept);
    }
}
