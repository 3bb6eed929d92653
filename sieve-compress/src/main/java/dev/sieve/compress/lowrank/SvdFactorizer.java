package dev.sieve.compress.lowrank;

import dev.sieve.compress.linalg.Matrices;
import dev.sieve.compress.linalg.Svd;

/**
 * Truncated SVD (Eckart–Young): W = UΣVᵀ, keep the r largest singular triplets. This minimizes
 * the Frobenius error, which equals Σ_{i>r} σᵢ². The factors split Σ evenly, A = U_r·Σ_r^½ and
 * B = Σ_r^½·V_rᵀ, so both have comparable ranges for later quantization.
 */
public final class SvdFactorizer {
    private SvdFactorizer() {}

    public static LowRankFactors factor(float[] w, int rows, int cols, RankSelection selection) {
        if ((long) rows * cols != w.length) {
            throw new IllegalArgumentException(rows + "×" + cols + " ≠ " + w.length + " weights");
        }
        Svd svd = Svd.of(Matrices.toDouble(w), rows, cols);
        return truncate(svd, selection, null);
    }

    /**
     * Splits the leading r triplets of {@code svd} into A and B; when {@code sInverse} (cols×cols)
     * is given, B is multiplied by it on the right (the whitened form's S⁻¹).
     */
    static LowRankFactors truncate(Svd svd, RankSelection selection, double[] sInverse) {
        int rows = svd.m();
        int cols = svd.n();
        int k = svd.k();
        int r = selection.rank(svd.s(), rows, cols);
        float[] a = new float[rows * r];
        double[] b = new double[r * cols];
        for (int t = 0; t < r; t++) {
            double root = Math.sqrt(svd.s()[t]);
            for (int i = 0; i < rows; i++) {
                a[i * r + t] = (float) (svd.u()[i * k + t] * root);
            }
            for (int j = 0; j < cols; j++) {
                b[t * cols + j] = svd.vt()[t * cols + j] * root;
            }
        }
        if (sInverse != null) {
            b = Matrices.multiply(b, sInverse, r, cols, cols);
        }
        double dropped = 0;
        for (int t = r; t < k; t++) {
            dropped += svd.s()[t] * svd.s()[t];
        }
        return new LowRankFactors(rows, r, cols, a, Matrices.toFloat(b), svd.s().clone(), dropped);
    }
}
