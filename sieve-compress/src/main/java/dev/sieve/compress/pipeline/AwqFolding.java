package dev.sieve.compress.pipeline;

import dev.sieve.compress.calib.LayerStatistics;
import dev.sieve.compress.linalg.Matrices;
import dev.sieve.compress.quantize.AwqScaler;
import dev.sieve.compress.quantize.RtnQuantizer;
import dev.sieve.core.quant.BlockGrid;
import dev.sieve.model.spec.ModelConfig;
import java.util.List;

/**
 * AWQ at the level of a block: one scale vector per shared input, searched jointly over the
 * matrices that read it, then folded so the block computes the same function while the matrices
 * carry W·diag(s):
 *
 * <ul>
 *   <li>q/k/v (input norm(x)·attn_norm): attn_norm ÷ s, columns of Wq, Wk, Wv × s;
 *   <li>o (input: attention output, a mix of V rows): V's rows (and bias) ÷ s, columns of Wo × s.
 *       With grouped-query attention one V channel feeds several heads, so the scales are tied
 *       across the heads of a group (means averaged over them before the search);
 *   <li>gate/up (input norm(x)·ffn_norm): ffn_norm ÷ s, columns of Wgate, Wup × s;
 *   <li>down (input silu(gate)·up): up's rows ÷ s, columns of Wdown × s.
 * </ul>
 */
public final class AwqFolding {
    private AwqFolding() {}

    /**
     * α minimizing Σ ‖(W − Q(W·diag s)·diag s⁻¹)X‖² over the group (α = 0 is plain RTN), for
     * s = mean|x|^α normalized; returns s.
     */
    public static float[] search(List<float[]> ws, List<Integer> rows, int cols, LayerStatistics stats, double[] meanAbs,
            BlockGrid grid, int steps) {
        double[] h = stats.hessian();
        float[] best = null;
        double bestErr = Double.POSITIVE_INFINITY;
        for (int k = 0; k <= steps; k++) {
            float[] s = AwqScaler.scales(meanAbs, (double) k / steps);
            double err = 0;
            for (int m = 0; m < ws.size(); m++) {
                float[] w = ws.get(m);
                float[] scaled = scaleColumns(w, cols, s, false);
                float[] q = RtnQuantizer.quantize(scaled, rows.get(m), cols, grid).values();
                err += Matrices.outputError(w, scaleColumns(q, cols, s, true), rows.get(m), cols, h);
            }
            if (err < bestErr) {
                bestErr = err;
                best = s;
            }
        }
        return best;
    }

    /** mean|x| of the attention output tied across the query heads that share one KV head. */
    public static double[] tiedMeanAbs(double[] meanAbs, ModelConfig c) {
        int hd = c.headDim();
        int group = c.heads() / c.kvHeads();
        double[] out = new double[meanAbs.length];
        for (int kv = 0; kv < c.kvHeads(); kv++) {
            for (int i = 0; i < hd; i++) {
                double sum = 0;
                for (int g = 0; g < group; g++) {
                    sum += meanAbs[((kv * group) + g) * hd + i];
                }
                for (int g = 0; g < group; g++) {
                    out[((kv * group) + g) * hd + i] = sum / group;
                }
            }
        }
        return out;
    }

    /** q/k/v: attn_norm ÷ s, their columns × s. */
    public static void foldQkv(BlockFloats b, float[] s) {
        divide(b.attnNorm, s);
        for (int r : new int[] {BlockFloats.Q, BlockFloats.K, BlockFloats.V}) {
            b.w[r] = scaleColumns(b.w[r], b.cols(r), s, false);
        }
    }

    /** o: V rows (and V bias) ÷ s of their channel, Wo columns × s; s must be tied across each head group. */
    public static void foldO(BlockFloats b, float[] s, ModelConfig c) {
        int hd = c.headDim();
        int group = c.heads() / c.kvHeads();
        float[] sv = new float[c.kvDim()];
        for (int kv = 0; kv < c.kvHeads(); kv++) {
            for (int i = 0; i < hd; i++) {
                sv[kv * hd + i] = s[(kv * group) * hd + i];
            }
        }
        divideRows(b.w[BlockFloats.V], b.cols(BlockFloats.V), sv);
        if (b.bv != null) {
            divide(b.bv, sv);
        }
        b.w[BlockFloats.O] = scaleColumns(b.w[BlockFloats.O], b.cols(BlockFloats.O), s, false);
    }

    /** gate/up: ffn_norm ÷ s, their columns × s. */
    public static void foldGateUp(BlockFloats b, float[] s) {
        divide(b.ffnNorm, s);
        for (int r : new int[] {BlockFloats.GATE, BlockFloats.UP}) {
            b.w[r] = scaleColumns(b.w[r], b.cols(r), s, false);
        }
    }

    /** down: up's rows ÷ s, Wdown columns × s (silu(gate)·up is linear in up). */
    public static void foldDown(BlockFloats b, float[] s) {
        divideRows(b.w[BlockFloats.UP], b.cols(BlockFloats.UP), s);
        b.w[BlockFloats.DOWN] = scaleColumns(b.w[BlockFloats.DOWN], b.cols(BlockFloats.DOWN), s, false);
    }

    static float[] scaleColumns(float[] w, int cols, float[] s, boolean divide) {
        float[] out = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            out[i] = divide ? w[i] / s[i % cols] : w[i] * s[i % cols];
        }
        return out;
    }

    private static void divide(float[] v, float[] s) {
        for (int i = 0; i < v.length; i++) {
            v[i] /= s[i];
        }
    }

    private static void divideRows(float[] w, int cols, float[] s) {
        for (int i = 0; i < w.length; i++) {
            w[i] /= s[i / cols];
        }
    }
}
