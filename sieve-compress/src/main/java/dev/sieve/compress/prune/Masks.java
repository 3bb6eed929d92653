package dev.sieve.compress.prune;

import dev.sieve.compress.linalg.Selection;

/** Mask selection from a score matrix (lower score = pruned first), shared by the pruners. */
final class Masks {
    private Masks() {}

    /** In every row, prunes the {@code count} lowest scores. */
    static void perRow(double[] score, int rows, int cols, int count, boolean[] kept) {
        double[] row = new double[cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(score, r * cols, row, 0, cols);
            boolean[] drop = Selection.smallest(row, cols, count);
            for (int c = 0; c < cols; c++) {
                kept[r * cols + c] = !drop[c];
            }
        }
    }

    /** In every row, in each group of m consecutive columns, keeps the n highest scores. */
    static void nOfM(double[] score, int rows, int cols, int n, int m, boolean[] kept) {
        double[] g = new double[m];
        for (int r = 0; r < rows; r++) {
            for (int c0 = 0; c0 < cols; c0 += m) {
                System.arraycopy(score, r * cols + c0, g, 0, m);
                boolean[] drop = Selection.smallest(g, m, m - n);
                for (int i = 0; i < m; i++) {
                    kept[r * cols + c0 + i] = !drop[i];
                }
            }
        }
    }

    static float[] apply(float[] w, boolean[] kept) {
        float[] out = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            out[i] = kept[i] ? w[i] : 0f;
        }
        return out;
    }
}
