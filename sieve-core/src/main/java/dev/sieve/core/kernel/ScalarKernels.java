package dev.sieve.core.kernel;

import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * The reference kernels: simple loops over each encoding's own scalar codecs. Every fast kernel
 * is tested against these.
 */
public final class ScalarKernels implements Kernels {
    public static final ScalarKernels INSTANCE = new ScalarKernels();

    private ScalarKernels() {}

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void prepare(Tensor w, Activations x) {
        WeightEncoding act = w.encoding().activationEncoding();
        MemorySegment dst = x.reserve(act);
        long rowBytes = act.byteSize(x.cols);
        for (int t = 0; t < x.tokens; t++) {
            act.quantize(x.x, t * x.cols, dst, t * rowBytes, x.cols);
        }
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        WeightEncoding e = w.encoding();
        WeightEncoding act = e.activationEncoding();
        if (x.encoding() != act) {
            throw new IllegalStateException("activations not prepared for " + e.name());
        }
        long rowBytes = w.rowBytes();
        long actRowBytes = act.byteSize(x.cols);
        MemorySegment a = x.encoded();
        for (int t = 0; t < x.tokens; t++) {
            for (int r = r0; r < r1; r++) {
                out[t * outStride + r] = e.dotRow(w.data(), rowBytes, r, a, t * actRowBytes, x.cols);
            }
        }
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    @Override
    public void dots(float[] q, int qOff, float[] x, int xOff, int stride, int rows, int n, float[] out, int outOff) {
        for (int r = 0; r < rows; r++) {
            out[outOff + r] = dot(q, qOff, x, xOff + r * stride, n);
        }
    }

    @Override
    public float expSum(float[] x, int off, int n, float max) {
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        return sum;
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }

    @Override
    public void weightedSum(float[] w, int wOff, float[] x, int xOff, int stride, int rows, float[] y, int yOff, int n) {
        for (int r = 0; r < rows; r++) {
            axpy(w[wOff + r], x, xOff + r * stride, y, yOff, n);
        }
    }

    @Override
    public void swiglu(float[] gate, float[] up, int off, int n) {
        for (int i = off; i < off + n; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }

    @Override
    public void sparseRows(int[] rowPtr, int[] col, float[] values, float[] xT, int n, float[] yT, int r0, int r1) {
        sparseRows(rowPtr, col, values, xT, n, 0, n, yT, r0, r1);
    }

    /** {@link #sparseRows} for the tokens in {@code [t0, t1)} only (a vector kernel's leftover tokens). */
    public static void sparseRows(int[] rowPtr, int[] col, float[] values, float[] xT, int n, int t0, int t1,
            float[] yT, int r0, int r1) {
        if (n == 1 && t0 == 0 && t1 == 1) { // decode: the same sums without a token stride's index arithmetic
            for (int r = r0; r < r1; r++) {
                float s = 0;
                for (int k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
                    s += values[k] * xT[col[k]];
                }
                yT[r] += s;
            }
            return;
        }
        for (int r = r0; r < r1; r++) {
            for (int t = t0; t < t1; t++) {
                float s = 0;
                for (int k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
                    s += values[k] * xT[col[k] * n + t];
                }
                yT[r * n + t] += s;
            }
        }
    }

    @Override
    public void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps) {
        double ss = 0;
        for (int i = 0; i < n; i++) {
            ss += (double) x[xOff + i] * x[xOff + i];
        }
        float scale = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (int i = 0; i < n; i++) {
            out[outOff + i] = x[xOff + i] * scale * w[i];
        }
    }

    @Override
    public void dequantizeInt8(byte[] codes, int cOff, float[] scales, int sOff, int group, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) {
            out[outOff + i] = codes[cOff + i] * scales[sOff + i / group];
        }
    }

    @Override
    public void dequantizeUint4(byte[] codes, int cOff, float[] scales, float[] mins, int sOff, int group, float[] out,
            int outOff, int n) {
        int half = group / 2;
        for (int g = 0; g < n / group; g++) {
            float scale = scales[sOff + g];
            float min = mins[sOff + g];
            for (int j = 0; j < half; j++) {
                int b = codes[cOff + g * half + j];
                out[outOff + g * group + j] = Math.fma((float) (b & 15), scale, min);
                out[outOff + g * group + half + j] = Math.fma((float) ((b >> 4) & 15), scale, min);
            }
        }
    }

    @Override
    public void channelDotInt8(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out,
            int outOff, int outStride) {
        for (int h = 0; h < heads; h++) {
            for (int r = 0; r < rows; r++) {
                float acc = 0f;
                for (int c = 0; c < n; c++) {
                    acc = Math.fma((float) codes[cOff + c * rows + r], x[xOff + h * n + c], acc);
                }
                out[outOff + h * outStride + r] = acc;
            }
        }
    }

    @Override
    public void channelDotUint4(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out,
            int outOff, int outStride) {
        int half = rows / 2;
        for (int h = 0; h < heads; h++) {
            for (int r = 0; r < rows; r++) {
                float acc = 0f;
                for (int c = 0; c < n; c++) {
                    int b = codes[cOff + c * half + r % half];
                    int code = r < half ? b & 15 : (b >> 4) & 15;
                    acc = Math.fma((float) code, x[xOff + h * n + c], acc);
                }
                out[outOff + h * outStride + r] = acc;
            }
        }
    }
}
