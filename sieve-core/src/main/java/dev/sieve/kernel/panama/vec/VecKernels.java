package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.kernel.panama.EncodingKernel;
import dev.sieve.kernel.panama.KernelTable;
import dev.sieve.kernel.panama.ScalarFallback;
import java.util.IdentityHashMap;
import java.util.Map;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The kernels of one width (this class is loaded once per width, see {@code WidthLoader}): the
 * per-encoding registry and the vectorized dot, axpy and rmsNorm. Public only for that loader.
 */
public final class VecKernels implements Kernels, KernelTable {
    private final Map<WeightEncoding, EncodingKernel> table = new IdentityHashMap<>();

    public VecKernels(boolean int8Activations) {
        // The registry: one line per fast kernel. Everything else falls back to the reference.
        register(new F32Kernel());
        register(new F16Kernel());
        register(new BF16Kernel());
        register(int8Activations ? new Q8_0IntKernel() : new Q8_0Kernel());
        // Q4_0 decode: int16 products against Q8_0 activations won on AVX2 (1.3x, 16 shorts per
        // block fill a 256-bit vector); at 512 bits the float decoder does two blocks' halves per
        // vector and measured 2x the int16 one (docs/performance.md), so the width decides.
        register(Vec.BITS >= 512 ? new Q4_0Kernel() : new Q4_0IntKernel());
        register(new Q3_KKernel());
        register(new Q4_KKernel());
        register(new Q5_KKernel());
        register(new Q6_KKernel());
        // Sparse encodings: one kernel class, one instance per N:M type and per bitmap capacity.
        for (SparseEncoding s : SparseEncoding.nmEncodings()) {
            register(new SparseKernel(s));
        }
        for (SparseEncoding s : SparseEncoding.bitmapEncodings()) {
            register(new SparseKernel(s));
        }
        for (WeightEncoding e : WeightEncodings.all()) {
            table.putIfAbsent(e, new ScalarFallback(e));
        }
    }

    private void register(EncodingKernel k) {
        table.put(k.encoding(), k);
    }

    @Override
    public EncodingKernel kernelFor(WeightEncoding e) {
        EncodingKernel k = table.get(e);
        return k != null ? k : new ScalarFallback(e); // only for encodings outside the registry
    }

    @Override
    public String name() {
        return "panama-" + Vec.BITS;
    }

    @Override
    public void prepare(Tensor w, Activations x) {
        kernelFor(w.encoding()).prepare(w, x);
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        kernelFor(w.encoding()).matmul(w, x, out, outStride, r0, r1);
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        int i = 0;
        for (int bound = n - n % (2 * N); i < bound; i += 2 * N) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
            s1 = FloatVector.fromArray(F, a, aOff + i + N).fma(FloatVector.fromArray(F, b, bOff + i + N), s1);
        }
        float s = Vec.sum(s0.add(s1));
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += N) {
            FloatVector.fromArray(F, x, xOff + i).fma(FloatVector.broadcast(F, a), FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }

    @Override
    public void weightedSum(float[] w, int wOff, float[] x, int xOff, int stride, int rows, float[] y, int yOff, int n) {
        // Four vectors of y at a time stay in registers over all rows; each lane sees the fused
        // multiply-adds of axpy in the same row order, so the result is axpy's bit for bit.
        int i = 0;
        for (; i + 4 * N <= n; i += 4 * N) {
            FloatVector a0 = FloatVector.fromArray(F, y, yOff + i);
            FloatVector a1 = FloatVector.fromArray(F, y, yOff + i + N);
            FloatVector a2 = FloatVector.fromArray(F, y, yOff + i + 2 * N);
            FloatVector a3 = FloatVector.fromArray(F, y, yOff + i + 3 * N);
            for (int r = 0; r < rows; r++) {
                FloatVector b = FloatVector.broadcast(F, w[wOff + r]);
                int o = xOff + r * stride + i;
                a0 = FloatVector.fromArray(F, x, o).fma(b, a0);
                a1 = FloatVector.fromArray(F, x, o + N).fma(b, a1);
                a2 = FloatVector.fromArray(F, x, o + 2 * N).fma(b, a2);
                a3 = FloatVector.fromArray(F, x, o + 3 * N).fma(b, a3);
            }
            a0.intoArray(y, yOff + i);
            a1.intoArray(y, yOff + i + N);
            a2.intoArray(y, yOff + i + 2 * N);
            a3.intoArray(y, yOff + i + 3 * N);
        }
        for (; i + N <= n; i += N) {
            FloatVector a = FloatVector.fromArray(F, y, yOff + i);
            for (int r = 0; r < rows; r++) {
                a = FloatVector.fromArray(F, x, xOff + r * stride + i).fma(FloatVector.broadcast(F, w[wOff + r]), a);
            }
            a.intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            float a = y[yOff + i];
            for (int r = 0; r < rows; r++) {
                a += w[wOff + r] * x[xOff + r * stride + i];
            }
            y[yOff + i] = a;
        }
    }

    @Override
    public void dequantizeInt8(byte[] codes, int cOff, float[] scales, int sOff, int group, float[] out, int outOff, int n) {
        KvDequant.int8(codes, cOff, scales, sOff, group, out, outOff, n);
    }

    @Override
    public void dequantizeUint4(byte[] codes, int cOff, float[] scales, float[] mins, int sOff, int group, float[] out,
            int outOff, int n) {
        KvDequant.uint4(codes, cOff, scales, mins, sOff, group, out, outOff, n);
    }

    @Override
    public void channelDotInt8(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out,
            int outOff, int outStride) {
        KvChannelDot.int8(x, xOff, heads, n, codes, cOff, rows, out, outOff, outStride);
    }

    @Override
    public void channelDotUint4(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out,
            int outOff, int outStride) {
        KvChannelDot.uint4(x, xOff, heads, n, codes, cOff, rows, out, outOff, outStride);
    }

    @Override
    public void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps) {
        FloatVector acc = FloatVector.zero(F);
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += N) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + i);
            acc = v.fma(v, acc);
        }
        double ss = Vec.sum(acc);
        for (; i < n; i++) {
            ss += (double) x[xOff + i] * x[xOff + i];
        }
        float scale = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (i = 0; i < bound; i += N) {
            FloatVector.fromArray(F, x, xOff + i).mul(scale).mul(FloatVector.fromArray(F, w, i))
                    .intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = x[xOff + i] * scale * w[i];
        }
    }
}
