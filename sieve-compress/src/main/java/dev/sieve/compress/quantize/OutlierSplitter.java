package dev.sieve.compress.quantize;

import dev.sieve.compress.calib.LayerStatistics;
import dev.sieve.compress.linalg.Selection;
import dev.sieve.core.quant.BlockGrid;

/**
 * Dense-and-sparse quantization (SpQR, Dettmers et al. 2023; SqueezeLLM, Kim et al. 2023): the
 * most salient fraction of weights is kept (in f16) in a sparse side tensor and the rest is
 * quantized, with the outliers excluded from the scale fit so they do not stretch the grid.
 *
 * <pre>
 *   saliency_ij = w_ij²·H_jj        (HESSIAN, SpQR-style)   or   |w_ij|·‖X_j‖  (ACTIVATION)
 *   O = top ⌈fraction·rows·cols⌉ by saliency
 *   dense  = quantize(W) with O ignored by the fit (RTN, or GPTQ with zero error at O)
 *   sparse = (target − dense) on O, f16;   W ≈ dense + sparse
 * </pre>
 *
 * With GPTQ the target at an outlier is its error-compensated value, so the outliers also absorb
 * the propagated error of earlier columns instead of rounding it away.
 */
public final class OutlierSplitter {
    private OutlierSplitter() {}

    public enum Saliency { HESSIAN, ACTIVATION }

    /** The two parts: {@code sparse.addTo(dense.values())} is the reconstruction. */
    public record Split(QuantizedWeights dense, SparseOutliers sparse, boolean[] outliers) {
        public float[] reconstruct() {
            return sparse.addTo(dense.values());
        }
    }

    /** The saliency of every weight, row-major like W. */
    public static double[] saliency(float[] w, int rows, int cols, LayerStatistics stats, Saliency kind) {
        double[] per = kind == Saliency.HESSIAN ? stats.squaredNorms() : stats.channelNorms();
        double[] s = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            double x = w[i];
            s[i] = kind == Saliency.HESSIAN ? x * x * per[i % cols] : Math.abs(x) * per[i % cols];
        }
        return s;
    }

    /**
     * @param fraction of weights kept exact, in [0, 1)
     * @param gptq null for RTN, else the GPTQ quantizer to use for the dense part
     */
    public static Split split(float[] w, int rows, int cols, LayerStatistics stats, double fraction,
            Saliency kind, BlockGrid grid, GptqQuantizer gptq) {
        if (!(fraction >= 0 && fraction < 1)) {
            throw new IllegalArgumentException("outlier fraction must be in [0, 1): " + fraction);
        }
        int k = (int) Math.round(fraction * w.length);
        boolean[] outliers = Selection.largest(saliency(w, rows, cols, stats, kind), w.length, k);
        QuantizedWeights dense;
        float[] targets;
        if (gptq == null) {
            dense = RtnQuantizer.quantize(w, rows, cols, grid, outliers);
            targets = w;
        } else {
            targets = new float[w.length];
            dense = gptq.quantize(w, rows, cols, stats.hessian(), grid, outliers, targets);
        }
        float[] residual = new float[w.length];
        float[] d = dense.values();
        for (int i = 0; i < w.length; i++) {
            if (outliers[i]) {
                residual[i] = targets[i] - d[i];
            }
        }
        return new Split(dense, SparseOutliers.of(rows, cols, outliers, residual), outliers);
    }
}
