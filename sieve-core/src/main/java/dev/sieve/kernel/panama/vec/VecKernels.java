package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.quant.BF16Encoding;
import dev.sieve.core.quant.F16Encoding;
import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.Q3_KEncoding;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q4_0RepackedEncoding;
import dev.sieve.core.quant.Q4_0SlicedEncoding;
import dev.sieve.core.quant.Q4_KEncoding;
import dev.sieve.core.quant.Q4_KRepackedEncoding;
import dev.sieve.core.quant.Q4_KSlicedEncoding;
import dev.sieve.core.quant.Q5_KEncoding;
import dev.sieve.core.quant.Q6_KEncoding;
import dev.sieve.core.quant.Q6_KSlicedEncoding;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.Q8_0SlicedEncoding;
import dev.sieve.core.quant.IndexedSparseEncoding;
import dev.sieve.core.quant.OutlierEncoding;
import dev.sieve.core.quant.SlicedIndexedEncoding;
import dev.sieve.core.quant.SlicedBitmapEncoding;
import dev.sieve.core.quant.SlicedTileIndexedEncoding;
import dev.sieve.core.quant.SlicedNMEncoding;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.kernel.panama.EncodingKernel;
import dev.sieve.kernel.panama.KernelTable;
import dev.sieve.kernel.panama.ScalarFallback;
import java.util.concurrent.ConcurrentHashMap;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The kernels of one width (this class is loaded once per width, see {@code WidthLoader}): the
 * per-encoding registry and the vectorized dot, axpy and rmsNorm. Public only for that loader.
 */
public final class VecKernels implements Kernels, KernelTable {
    /** Each encoding's kernel, made the first time a matrix of it is multiplied ({@link #make}). */
    private final ConcurrentHashMap<WeightEncoding, EncodingKernel> table = new ConcurrentHashMap<>();
    private final boolean int8Activations;

    public VecKernels(boolean int8Activations) {
        this.int8Activations = int8Activations;
    }

    @Override
    public EncodingKernel kernelFor(WeightEncoding e) {
        EncodingKernel k = table.get(e);
        return k != null ? k : table.computeIfAbsent(e, this::make);
    }

    /**
     * The registry: one line per fast kernel, everything else the reference ({@link ScalarFallback}). Made
     * on demand: built up front, the registry's ~3,000 kernels (a sparse family per capacity and value
     * type, with their layouts) took 0.32 s of a command's start, where a model needs a handful.
     */
    private EncodingKernel make(WeightEncoding e) {
        // One row per encoding (the dense ones are final singletons, so a type names the encoding).
        // Sparse encodings: one kernel class, one instance per type. N:M, bitmap (every capacity) and the
        // bitmap's padded layout in rows; 2:4 and 4:8 Q8 and Q4 in 16-row slices, bitmap Q8 and Q4 in
        // 16-row slices or with each value's column (made at load where sparse enough); indexed N:16 in
        // rows and in 16-row slices; dense-and-sparse per dense type and outlier count.
        return switch (e) {
            case F32Encoding _ -> new F32Kernel();
            case F16Encoding _ -> new F16Kernel();
            case BF16Encoding _ -> new BF16Kernel();
            // Q8_0 decode: int16 products, bytes split even/odd in place, won on AVX2 (11.5-12.2 against
            // 8.5-9.5 GB/s a thread); at 512 bits the float decoder stays (13-19 GB/s there) unless the
            // int8-activation variant asks for the integer path.
            case Q8_0Encoding _ -> int8Activations || Vec.BITS < 512 ? new Q8_0IntKernel() : new Q8_0Kernel();
            // Q4_0 decode: int16 products against Q8_0 activations won on AVX2 (1.3x, 16 shorts per
            // block fill a 256-bit vector); at 512 bits the float decoder does two blocks' halves per
            // vector and measured 2x the int16 one (docs/performance.md), so the width decides.
            case Q4_0Encoding _ -> Vec.BITS >= 512 ? new Q4_0Kernel() : new Q4_0IntKernel();
            case Q3_KEncoding _ -> new Q3_KKernel();
            case Q4_KEncoding _ -> new Q4_KKernel();
            case Q5_KEncoding _ -> new Q5_KKernel();
            case Q6_KEncoding _ -> new Q6_KKernel();
            case Q4_KRepackedEncoding _ -> new Q4_KRIntKernel();
            case Q4_0RepackedEncoding _ -> new Q4_0RIntKernel();
            case Q4_0SlicedEncoding _ -> new SlicedQ4_0Kernel();
            case Q4_KSlicedEncoding _ -> new SlicedQ4_KKernel();
            case Q6_KSlicedEncoding _ -> new SlicedQ6_KKernel();
            case Q8_0SlicedEncoding _ -> new SlicedQ8_0Kernel();
            case SparseEncoding s -> new SparseKernel(s);
            case SlicedNMEncoding s -> new SlicedNMKernel(s);
            case SlicedBitmapEncoding s -> new SlicedBitmapKernel(s);
            case SlicedTileIndexedEncoding s -> new SlicedTileIndexedKernel(s);
            case IndexedSparseEncoding s -> new IndexedSparseKernel(s);
            case SlicedIndexedEncoding s -> new SlicedIndexedKernel(s);
            case OutlierEncoding o -> OutlierKernel.of(o);
            default -> otherOrReference(e);
        };
    }

    /** Q4_1, Q5_0 and Q5_1's kernel, or for any other encoding the reference. */
    private static EncodingKernel otherOrReference(WeightEncoding e) {
        for (FloatPathKernel k : Q5Kernels.all()) {
            if (k.encoding() == e) {
                return k;
            }
        }
        return new ScalarFallback(e);
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

    /**
     * Four rows per pass: each query vector load feeds four FMA chains, and the four sums reduce
     * together ({@link Vec#sums4}) instead of one {@link #dot} call and reduction per row. Measured
     * together with {@link #expSum} only (135m, AVX2: decode at depth 1024 +6-10%, pp512 +6%,
     * docs/performance.md).
     */
    @Override
    public void dots(float[] q, int qOff, float[] x, int xOff, int stride, int rows, int n, float[] out, int outOff) {
        int bound = F.loopBound(n);
        int r = 0;
        // The exact copy keeps the order of its row-by-row dot, so its results (compress, eval) stay
        // those of the files and tables made before this kernel existed.
        for (; r + 4 <= rows && !Vec.EXACT; r += 4) {
            int x0 = xOff + r * stride, x1 = x0 + stride, x2 = x1 + stride, x3 = x2 + stride;
            FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
            for (int i = 0; i < bound; i += N) {
                FloatVector qv = FloatVector.fromArray(F, q, qOff + i);
                c0 = FloatVector.fromArray(F, x, x0 + i).fma(qv, c0);
                c1 = FloatVector.fromArray(F, x, x1 + i).fma(qv, c1);
                c2 = FloatVector.fromArray(F, x, x2 + i).fma(qv, c2);
                c3 = FloatVector.fromArray(F, x, x3 + i).fma(qv, c3);
            }
            int o = outOff + r;
            Vec.sums4(c0, c1, c2, c3, out, o);
            for (int i = bound; i < n; i++) {
                float qi = q[qOff + i];
                out[o] += qi * x[x0 + i];
                out[o + 1] += qi * x[x1 + i];
                out[o + 2] += qi * x[x2 + i];
                out[o + 3] += qi * x[x3 + i];
            }
        }
        for (; r < rows; r++) {
            out[outOff + r] = dot(q, qOff, x, xOff + r * stride, n);
        }
    }

    /**
     * The float exponential of the Vector API (on x86 an intrinsic: 0.6-0.9 against 8-13 ns per value
     * for {@code Math.exp} in a microbenchmark on AVX2, largest relative difference 1.1e-7). The exact copy keeps the reference's {@code Math.exp} and sum order: a vector math call
     * has no fixed result between its interpreted and compiled forms.
     */
    @Override
    public float expSum(float[] x, int off, int n, float max) {
        float sum = 0f;
        int i = 0;
        if (!Vec.EXACT) {
            FloatVector acc = FloatVector.zero(F);
            for (int bound = F.loopBound(n); i < bound; i += N) {
                FloatVector e = FloatVector.fromArray(F, x, off + i).sub(max).lanewise(VectorOperators.EXP);
                e.intoArray(x, off + i);
                acc = acc.add(e);
            }
            sum = acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        return sum;
    }

    /**
     * The vector exponential (SVML on x86) instead of a scalar {@code Math.exp} per element: 0.78 against
     * 7.3 ns an element on AVX2, where a batched decode step of the 135m shape gates 8 × 1536 values in
     * each of 30 layers (~2.7 ms of a 36 ms step, on one thread while the others wait). The exact copy
     * runs the reference itself.
     */
    @Override
    public void swiglu(float[] gate, float[] up, int off, int n) {
        int i = off;
        if (!Vec.EXACT) {
            for (int bound = off + F.loopBound(n); i < bound; i += N) {
                FloatVector g = FloatVector.fromArray(F, gate, i);
                FloatVector e = g.neg().lanewise(VectorOperators.EXP);
                g.div(e.add(1f)).mul(FloatVector.fromArray(F, up, i)).intoArray(gate, i);
            }
        }
        ScalarKernels.INSTANCE.swiglu(gate, up, i, off + n - i); // the tail, or all of it in the exact copy
    }

    /**
     * Tokens {@code N} at a time in the lanes: for each entry of a row, its value broadcast times the
     * {@code N} consecutive activations of its column, accumulated onto the row's {@code N} outputs,
     * so a row's entries are read once per {@code N} tokens instead of once per token. A single token
     * (decode) has nothing to put in the lanes: one row's ~20 entries at 1% density are a scalar loop
     * (a gather by column index, VGATHERDPS, measured no faster on AVX2). The exact copy runs the
     * reference.
     */
    @Override
    public void sparseRows(int[] rowPtr, int[] col, float[] values, float[] xT, int n, float[] yT, int r0, int r1) {
        int tiles = Vec.EXACT ? 0 : n / N * N;
        for (int r = r0; r < r1; r++) {
            int t = 0;
            // Four tiles a pass: four independent FMA chains (one chain waits on the FMA latency at
            // every entry) and an entry's column and value loaded once for 4N tokens. (Token blocks
            // outside the rows, to keep a block's activations in L2, measured slower.)
            for (; t + 4 * N <= tiles; t += 4 * N) {
                int y = r * n + t;
                FloatVector a0 = FloatVector.fromArray(F, yT, y), a1 = FloatVector.fromArray(F, yT, y + N);
                FloatVector a2 = FloatVector.fromArray(F, yT, y + 2 * N), a3 = FloatVector.fromArray(F, yT, y + 3 * N);
                for (int k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
                    FloatVector v = FloatVector.broadcast(F, values[k]);
                    int o = col[k] * n + t;
                    a0 = FloatVector.fromArray(F, xT, o).fma(v, a0);
                    a1 = FloatVector.fromArray(F, xT, o + N).fma(v, a1);
                    a2 = FloatVector.fromArray(F, xT, o + 2 * N).fma(v, a2);
                    a3 = FloatVector.fromArray(F, xT, o + 3 * N).fma(v, a3);
                }
                a0.intoArray(yT, y);
                a1.intoArray(yT, y + N);
                a2.intoArray(yT, y + 2 * N);
                a3.intoArray(yT, y + 3 * N);
            }
            for (; t < tiles; t += N) {
                FloatVector acc = FloatVector.fromArray(F, yT, r * n + t);
                for (int k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
                    acc = FloatVector.fromArray(F, xT, col[k] * n + t).fma(FloatVector.broadcast(F, values[k]), acc);
                }
                acc.intoArray(yT, r * n + t);
            }
        }
        // The remaining tokens (all of them for one token, or in the exact copy): the reference.
        ScalarKernels.sparseRows(rowPtr, col, values, xT, n, tiles, n, yT, r0, r1);
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
