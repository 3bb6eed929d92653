package dev.sieve.compress.quantize;

import dev.sieve.compress.calib.LayerStatistics;
import dev.sieve.compress.linalg.Matrices;
import dev.sieve.core.quant.BlockGrid;

/**
 * Activation-aware weight quantization's scale search (Lin et al., 2023): input channels that
 * carry large activations matter more, so scale their weights up before rounding and fold the
 * inverse scale into the input:
 *
 * <pre>
 *   s_j = (mean|x_j|)^α,  normalized by sqrt(max s · min s)
 *   Ŵ(α) = Q(W·diag(s)) · diag(s)⁻¹
 *   α* = argmin over α ∈ {0, 1/steps, …, 1} of ‖(W − Ŵ(α))X‖² = tr(ΔW·H·ΔWᵀ)
 * </pre>
 *
 * α = 0 is plain RTN, so the result is never worse than RTN on the calibration data. The file
 * stores Q(W·diag(s)) on the encoding's grid; the model-level code must divide the preceding
 * RMSNorm weight (for q/k/v and gate/up) by s — exposed as {@link Result#scales()}.
 */
public final class AwqScaler {
    private AwqScaler() {}

    /**
     * @param scales s per input channel (multiply W's columns by these; divide the input by them)
     * @param alpha the chosen exponent
     * @param error ‖(W − Ŵ)X‖² at the chosen α
     * @param errors the error at every α tried, in order α = 0, 1/steps, …, 1
     * @param quantized Q(W·diag(s)), on the grid: the tensor to store
     */
    public record Result(float[] scales, double alpha, double error, double[] errors, QuantizedWeights quantized) {

        /** Ŵ = Q(W·diag(s))·diag(s)⁻¹: the effective weights seen by the unscaled input. */
        public float[] effectiveWeights() {
            int cols = quantized.cols();
            float[] q = quantized.values();
            float[] out = new float[q.length];
            for (int i = 0; i < q.length; i++) {
                out[i] = q[i] / scales[i % cols];
            }
            return out;
        }
    }

    public static Result search(float[] w, int rows, int cols, LayerStatistics stats, BlockGrid grid, int steps) {
        if (stats.inFeatures() != cols) {
            throw new IllegalArgumentException("statistics are for " + stats.inFeatures() + " inputs, W has " + cols);
        }
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be ≥ 1: " + steps);
        }
        double[] h = stats.hessian();
        double[] meanAbs = stats.meanAbs();
        double[] errors = new double[steps + 1];
        Result best = null;
        float[] scaled = new float[w.length];
        for (int k = 0; k <= steps; k++) {
            double alpha = (double) k / steps;
            float[] s = scales(meanAbs, alpha);
            for (int i = 0; i < w.length; i++) {
                scaled[i] = w[i] * s[i % cols];
            }
            QuantizedWeights q = RtnQuantizer.quantize(scaled, rows, cols, grid);
            Result candidate = new Result(s, alpha, 0, errors, q);
            double e = Matrices.outputError(w, candidate.effectiveWeights(), rows, cols, h);
            errors[k] = e;
            if (best == null || e < best.error()) {
                best = new Result(s, alpha, e, errors, q);
            }
        }
        return best;
    }

    /** s = mean|x|^α (floored at 1e-4 as in AWQ), normalized by sqrt(max·min); α = 0 gives all ones. */
    public static float[] scales(double[] meanAbs, double alpha) {
        int n = meanAbs.length;
        double[] s = new double[n];
        double max = 0;
        double min = Double.MAX_VALUE;
        for (int j = 0; j < n; j++) {
            s[j] = Math.pow(Math.max(meanAbs[j], 1e-4), alpha);
            max = Math.max(max, s[j]);
            min = Math.min(min, s[j]);
        }
        double norm = Math.sqrt(max * min);
        float[] out = new float[n];
        for (int j = 0; j < n; j++) {
            out[j] = (float) (s[j] / norm);
        }
        return out;
    }
}
