package dev.sieve.compress.prune;

import dev.sieve.compress.linalg.Cholesky;
import dev.sieve.compress.linalg.Selection;

/**
 * SparseGPT (Frantar &amp; Alistarh, 2023): one-shot pruning with optimal-brain-surgeon updates.
 * Columns are processed left to right with the upper Cholesky factor U of H⁻¹; each pruned weight's
 * error is compensated on the remaining columns, as in GPTQ with "round to zero":
 *
 * <pre>
 *   H += λ·mean(diag H)·I;  U = chol(H⁻¹) upper
 *   for each block of B (=128) columns [i1, i2):
 *     unstructured: prune the round(s·rows·B) smallest w²/U_jj² of the block (all rows)
 *     for i in [i1, i2):
 *       N:M: at i ≡ 0 mod M, in each row prune the M−N smallest w²/U_jj² of columns [i, i+M)
 *       q = pruned ? 0 : w_i;  e = (w_i − q)/U_ii;  w_j −= e·U_ij for j in (i, i2)
 *     W[:, i2:] −= E·U[i1:i2, i2:]
 * </pre>
 *
 * The mask scores use the current, already-updated weights.
 */
public final class SparseGptPruner {

    public record Options(double damp, int blockSize) {
        public static final Options DEFAULT = new Options(0.01, 128);

        public Options {
            if (!(damp >= 0) || blockSize < 1) {
                throw new IllegalArgumentException("need damp ≥ 0 and blockSize ≥ 1: " + damp + ", " + blockSize);
            }
        }
    }

    private final Options options;

    public SparseGptPruner(Options options) {
        this.options = options;
    }

    public SparseGptPruner() {
        this(Options.DEFAULT);
    }

    public Pruned prune(float[] w, int rows, int cols, double[] hIn, SparsityPattern pattern) {
        SparsityPattern.checkShape(w, rows, cols, pattern);
        if (hIn.length != cols * cols) {
            throw new IllegalArgumentException("Hessian is not " + cols + "×" + cols);
        }
        int bw = options.blockSize();
        if (pattern instanceof SparsityPattern.NofM nm && bw % nm.m() != 0) {
            throw new IllegalArgumentException("block size " + bw + " is not a multiple of M = " + nm.m());
        }
        double[] h = hIn.clone();
        double[] wp = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            wp[i] = w[i];
        }
        for (int j = 0; j < cols; j++) {
            if (h[j * cols + j] == 0) {
                h[j * cols + j] = 1;
                for (int r = 0; r < rows; r++) {
                    wp[r * cols + j] = 0; // a dead input: its weight never matters
                }
            }
        }
        double mean = 0;
        for (int j = 0; j < cols; j++) {
            mean += h[j * cols + j];
        }
        double delta = options.damp() * mean / cols;
        for (int j = 0; j < cols; j++) {
            h[j * cols + j] += delta;
        }
        double[] u = Cholesky.inverseUpperFactor(h, cols);

        boolean[] kept = new boolean[w.length];
        java.util.Arrays.fill(kept, true);
        double[] err = new double[rows * bw];
        for (int i1 = 0; i1 < cols; i1 += bw) {
            int i2 = Math.min(i1 + bw, cols);
            int width = i2 - i1;
            if (pattern instanceof SparsityPattern.Unstructured un) {
                double[] score = new double[rows * width];
                for (int r = 0; r < rows; r++) {
                    for (int j = 0; j < width; j++) {
                        double d = u[(i1 + j) * cols + i1 + j];
                        double v = wp[r * cols + i1 + j];
                        score[r * width + j] = v * v / (d * d);
                    }
                }
                boolean[] drop = Selection.smallest(score, score.length, un.pruned(score.length));
                for (int r = 0; r < rows; r++) {
                    for (int j = 0; j < width; j++) {
                        kept[r * cols + i1 + j] = !drop[r * width + j];
                    }
                }
            }
            for (int i = i1; i < i2; i++) {
                if (pattern instanceof SparsityPattern.NofM nm && (i - i1) % nm.m() == 0) {
                    int m = nm.m();
                    double[] g = new double[m];
                    for (int r = 0; r < rows; r++) {
                        for (int j = 0; j < m; j++) {
                            double d = u[(i + j) * cols + i + j];
                            double v = wp[r * cols + i + j];
                            g[j] = v * v / (d * d);
                        }
                        boolean[] drop = Selection.smallest(g, m, m - nm.n());
                        for (int j = 0; j < m; j++) {
                            kept[r * cols + i + j] = !drop[j];
                        }
                    }
                }
                double d = u[i * cols + i];
                int uo = i * cols;
                for (int r = 0; r < rows; r++) {
                    int ro = r * cols;
                    double wv = wp[ro + i];
                    double q = kept[ro + i] ? wv : 0;
                    wp[ro + i] = q;
                    double e = (wv - q) / d;
                    err[r * bw + (i - i1)] = e;
                    if (e != 0) {
                        for (int j = i + 1; j < i2; j++) {
                            wp[ro + j] -= e * u[uo + j];
                        }
                    }
                }
            }
            if (i2 < cols) {
                for (int r = 0; r < rows; r++) {
                    int ro = r * cols;
                    for (int k = i1; k < i2; k++) {
                        double e = err[r * bw + (k - i1)];
                        if (e == 0) {
                            continue;
                        }
                        int uo = k * cols;
                        for (int j = i2; j < cols; j++) {
                            wp[ro + j] -= e * u[uo + j];
                        }
                    }
                }
            }
        }
        float[] out = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            out[i] = kept[i] ? (float) wp[i] : 0f;
        }
        return new Pruned(rows, cols, out, kept);
    }
}
