package dev.sieve.compress.lowrank;

import dev.sieve.compress.linalg.Cholesky;
import dev.sieve.compress.linalg.Matrices;
import dev.sieve.compress.linalg.Svd;

/**
 * Activation-aware (whitened) truncated SVD, as in SVD-LLM (Wang et al., 2024): with H = XᵀX =
 * S·Sᵀ (Cholesky), ‖(W − W')X‖² = ‖(W − W')S‖_F², so truncating the SVD of W·S is optimal for the
 * output error:
 *
 * <pre>
 *   S = chol(H + δI);  W·S = UΣVᵀ
 *   A = U_r·Σ_r^½,  B = Σ_r^½·V_rᵀ·S⁻¹;   ‖(W − AB)S‖² = Σ_{i>r} σᵢ²
 * </pre>
 *
 * δ = relDamp·mean(diag H) (raised ×10 until H + δI factors). The pipeline passes its {@code damp:}
 * (default 0.01): undamped whitening fits the few calibration inputs' small directions and did
 * worse than plain SVD on held-out text.
 */
public final class WhitenedSvdFactorizer {
    private WhitenedSvdFactorizer() {}

    public static LowRankFactors factor(float[] w, int rows, int cols, double[] h, RankSelection selection, double relDamp) {
        if ((long) rows * cols != w.length || h.length != cols * cols) {
            throw new IllegalArgumentException("shapes: W " + rows + "×" + cols + " (" + w.length
                    + "), H " + h.length);
        }
        double[] s = Cholesky.factorDamped(h, cols, relDamp);
        double[] ws = Matrices.multiply(Matrices.toDouble(w), s, rows, cols, cols);
        Svd svd = Svd.of(ws, rows, cols);
        return SvdFactorizer.truncate(svd, selection, Cholesky.invertLower(s, cols));
    }

    public static LowRankFactors factor(float[] w, int rows, int cols, double[] h, RankSelection selection) {
        return factor(w, rows, cols, h, selection, 0);
    }
}
