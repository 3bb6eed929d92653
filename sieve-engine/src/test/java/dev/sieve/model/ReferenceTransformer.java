package dev.sieve.model;

import dev.sieve.model.layers.LayerWeights;
import dev.sieve.model.layers.ModelWeights;
import dev.sieve.model.spec.ModelConfig;
import dev.sieve.model.spec.RopeType;

/**
 * The oracle for the forward pass: llama2.c-style plain loops over weights decoded to float with
 * each encoding's reference codec, one token at a time, double accumulators, textbook softmax. No
 * kernels, no batching, no thread pool: nothing shared with {@code Transformer} but the weights.
 */
final class ReferenceTransformer {
    private final ModelConfig c;
    private final ModelWeights w;
    private final float[][] keyCache;
    private final float[][] valueCache;
    private int pos;

    ReferenceTransformer(ModelConfig c, ModelWeights w, int capacity) {
        this.c = c;
        this.w = w;
        keyCache = new float[c.layers()][capacity * c.kvDim()];
        valueCache = new float[c.layers()][capacity * c.kvDim()];
    }

    /** Logits after feeding {@code token} at the next position. */
    float[] step(int token) {
        int dim = c.dim();
        float[] x = row(w.tokenEmbedding(), token);
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers().get(l);
            float[] xb = rmsNorm(x, lw.attnNorm());
            float[] q = matvec(lw.wq(), xb);
            float[] k = matvec(lw.wk(), xb);
            float[] v = matvec(lw.wv(), xb);
            if (lw.bq() != null) {
                add(q, lw.bq());
                add(k, lw.bk());
                add(v, lw.bv());
            }
            if (lw.qNorm() != null) {
                perHeadNorm(q, lw.qNorm());
                perHeadNorm(k, lw.kNorm());
            }
            rope(q, pos);
            rope(k, pos);
            System.arraycopy(k, 0, keyCache[l], pos * c.kvDim(), c.kvDim());
            System.arraycopy(v, 0, valueCache[l], pos * c.kvDim(), c.kvDim());
            float[] att = new float[c.qDim()];
            int hd = c.headDim();
            int group = c.heads() / c.kvHeads();
            for (int h = 0; h < c.heads(); h++) {
                int kvh = h / group;
                double[] scores = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p <= pos; p++) {
                    double s = 0;
                    for (int i = 0; i < hd; i++) {
                        s += (double) q[h * hd + i] * keyCache[l][p * c.kvDim() + kvh * hd + i];
                    }
                    scores[p] = s / Math.sqrt(hd);
                    max = Math.max(max, scores[p]);
                }
                double sum = 0;
                for (int p = 0; p <= pos; p++) {
                    scores[p] = Math.exp(scores[p] - max);
                    sum += scores[p];
                }
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int p = 0; p <= pos; p++) {
                        a += scores[p] / sum * valueCache[l][p * c.kvDim() + kvh * hd + i];
                    }
                    att[h * hd + i] = (float) a;
                }
            }
            add(x, matvec(lw.wo(), att));
            xb = rmsNorm(x, lw.ffnNorm());
            float[] g = matvec(lw.wGate(), xb);
            float[] u = matvec(lw.wUp(), xb);
            for (int i = 0; i < g.length; i++) {
                g[i] = (float) (g[i] / (1 + Math.exp(-g[i])) * u[i]);
            }
            add(x, matvec(lw.wDown(), g));
        }
        pos++;
        return matvec(w.output(), rmsNorm(x, w.outputNorm()));
    }

    private static float[] row(dev.sieve.core.tensor.Tensor t, int r) {
        float[] out = new float[t.cols()];
        t.dequantizeRow(r, out, 0);
        return out;
    }

    /**
     * A factored projection multiplies by the dense product A·B, formed here in double; sparse
     * outliers are added to W entry by entry before the product (W + S, not W·x + S·x).
     */
    private static float[] matvec(dev.sieve.model.layers.Projection p, float[] x) {
        float[] y = matvecDense(p, x);
        var s = p.outliers();
        if (s == null) {
            return y;
        }
        for (int o = 0; o < p.out(); o++) {
            double acc = y[o];
            for (int k = s.rowPtr()[o]; k < s.rowPtr()[o + 1]; k++) {
                acc += (double) s.values()[k] * x[s.col()[k]];
            }
            y[o] = (float) acc;
        }
        return y;
    }

    private static float[] matvecDense(dev.sieve.model.layers.Projection p, float[] x) {
        if (!p.isFactored()) {
            return matvec(p.dense(), x);
        }
        int r = p.rank();
        float[] a = p.a().toFloatArray(); // out × r
        float[] b = p.b().toFloatArray(); // r × in
        float[] out = new float[p.out()];
        for (int o = 0; o < p.out(); o++) {
            double s = 0;
            for (int i = 0; i < p.in(); i++) {
                double wi = 0;
                for (int k = 0; k < r; k++) {
                    wi += (double) a[o * r + k] * b[k * p.in() + i];
                }
                s += wi * x[i];
            }
            out[o] = (float) s;
        }
        return out;
    }

    private static float[] matvec(dev.sieve.core.tensor.Tensor t, float[] x) {
        float[] out = new float[t.rows()];
        float[] wr = new float[t.cols()];
        for (int r = 0; r < t.rows(); r++) {
            t.dequantizeRow(r, wr, 0);
            double s = 0;
            for (int i = 0; i < wr.length; i++) {
                s += (double) wr[i] * x[i];
            }
            out[r] = (float) s;
        }
        return out;
    }

    private float[] rmsNorm(float[] x, float[] g) {
        double ss = 0;
        for (float v : x) {
            ss += (double) v * v;
        }
        double scale = 1 / Math.sqrt(ss / x.length + c.rmsEps());
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) (x[i] * scale * g[i]);
        }
        return out;
    }

    private void perHeadNorm(float[] y, float[] g) {
        int hd = c.headDim();
        for (int h = 0; h < y.length / hd; h++) {
            float[] head = java.util.Arrays.copyOfRange(y, h * hd, (h + 1) * hd);
            System.arraycopy(rmsNorm(head, g), 0, y, h * hd, hd);
        }
    }

    private static void add(float[] y, float[] b) {
        for (int i = 0; i < y.length; i++) {
            y[i] += b[i];
        }
    }

    /** RoPE from its definition: pair i turns by pos · base^(−2i/d) (÷ the Llama 3.1 factor). */
    private void rope(float[] y, int p) {
        int hd = c.headDim();
        int half = c.ropeDim() / 2;
        for (int h = 0; h < y.length / hd; h++) {
            for (int i = 0; i < half; i++) {
                double freq = Math.pow(c.ropeTheta(), -2.0 * i / c.ropeDim());
                if (w.ropeFreqFactors() != null) {
                    freq /= w.ropeFreqFactors()[i];
                }
                double a = p * freq;
                int i0 = c.ropeType() == RopeType.NEOX ? h * hd + i : h * hd + 2 * i;
                int i1 = c.ropeType() == RopeType.NEOX ? h * hd + i + half : h * hd + 2 * i + 1;
                double x0 = y[i0];
                double x1 = y[i1];
                y[i0] = (float) (x0 * Math.cos(a) - x1 * Math.sin(a));
                y[i1] = (float) (x0 * Math.sin(a) + x1 * Math.cos(a));
            }
        }
    }
}
