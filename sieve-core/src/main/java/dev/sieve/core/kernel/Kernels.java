package dev.sieve.core.kernel;

import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;

/**
 * The numeric kernels of a forward pass. {@link ScalarKernels} is the plain reference; the Panama
 * implementation in {@code dev.sieve.kernel.panama} is the fast path and is tested against it.
 * Chosen once, by {@link KernelProvider#get()}.
 *
 * <p>Matrix products are split by rows across threads by the caller ({@link Linear}); a kernel
 * computes a range of output rows for all tokens of the batch, so each weight row is read once
 * per batch, not once per token.
 */
public interface Kernels {

    /**
     * The encoding these kernels multiply {@code e}'s values fastest in: a lossless layout of it
     * ({@link WeightEncoding#repacks}) where one measured faster, else {@code e}. The engine may convert
     * weights at load for inference; files keep their encoding.
     */
    default WeightEncoding preferredLayout(WeightEncoding e) {
        return e;
    }

    /**
     * {@link #preferredLayout(WeightEncoding)} for this matrix: a layout sized for typical data that cannot
     * hold some block of {@code t} gives way to the next choice. What the engine converts weights to at load.
     */
    default WeightEncoding preferredLayout(Tensor t) {
        return preferredLayout(t.encoding());
    }

    /**
     * Whether these kernels multiply {@code e} in its own layout only through its scalar reference
     * decoder, so that converting it to {@link #preferredLayout} pays back within a few tokens: a
     * caller that keeps the file's layout for short runs converts such matrices anyway.
     */
    default boolean decodesOnlyByReference(WeightEncoding e) {
        return false;
    }

    String name();

    /**
     * Encodes the activations into the form {@code w}'s dot product takes (once per batch, before
     * the rows are split across threads). Kernels that multiply in float may leave it empty. What it
     * writes depends on {@code w}'s encoding (and the activations) only, so weights of one encoding
     * can share a preparation ({@link Linear#applyAgain}).
     */
    void prepare(Tensor w, Activations x);

    /**
     * {@code out[t * outStride + r] = W[r, :] · x[t, :]} for rows {@code r} in {@code [r0, r1)} and
     * every token {@code t} of {@code x}.
     */
    void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1);

    /** {@code Σ a[aOff + i] · b[bOff + i]} over {@code n} values. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /**
     * One query against {@code rows} rows (attention's scores over cached keys): {@code out[outOff + r]
     * = Σ_{i<n} q[qOff + i] · x[xOff + r·stride + i]}.
     */
    void dots(float[] q, int qOff, float[] x, int xOff, int stride, int rows, int n, float[] out, int outOff);

    /**
     * Softmax numerators in place, {@code x[off + i] = exp(x[off + i] − max)} for i below {@code n},
     * returning their sum. The reference rounds {@code Math.exp} to float and sums in order; a vector
     * kernel may use a float exponential (within a few ulp) and sum in another order.
     */
    float expSum(float[] x, int off, int n, float max);

    /**
     * SwiGLU's gating in place: {@code gate[off + i] = SiLU(gate[off + i]) · up[off + i]} for i below
     * {@code n}, with {@code SiLU(g) = g / (1 + e^−g)}. The reference rounds {@code Math.exp} to float;
     * a vector kernel may use a float exponential (within a few ulp).
     */
    void swiglu(float[] gate, float[] up, int off, int n);

    /**
     * A sparse matrix in CSR form times a batch of activations, added to the output (the outlier side
     * of a dense-and-sparse projection). Activations and outputs are column-major, {@code xT[c·n + t]}
     * for column {@code c} of token {@code t} and {@code yT[r·n + t]} for row {@code r} (for one token,
     * simply the two vectors), so that one entry's value meets all the tokens' activations in
     * consecutive floats and a row's outputs are consecutive too. For rows {@code r} in {@code [r0, r1)}
     * and tokens {@code t} below {@code n}: {@code yT[r·n + t] += Σ values[k] · xT[col[k]·n + t]} over the
     * row's entries {@code k} in {@code [rowPtr[r], rowPtr[r + 1])}. The reference sums a row's entries
     * in order, then adds; a vector kernel may fuse the multiply-adds into the output.
     */
    void sparseRows(int[] rowPtr, int[] col, float[] values, float[] xT, int n, float[] yT, int r0, int r1);

    /** {@code y[yOff + i] += a · x[xOff + i]}. */
    void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n);

    /**
     * {@code y[yOff + i] += Σ_r w[wOff + r] · x[xOff + r·stride + i]} over {@code rows} rows: the same
     * values as {@link #axpy} applied row after row (attention's weighted sum of values), but with
     * {@code y} held in registers across the rows instead of loaded and stored once per row.
     */
    void weightedSum(float[] w, int wOff, float[] x, int xOff, int stride, int rows, float[] y, int yOff, int n);

    /** {@code out[i] = x[i] · w[i] / rms(x)} with {@code rms = sqrt(mean(x²) + eps)}. */
    void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps);

    /**
     * Symmetric 8-bit groups to floats (a quantized KV cache read, {@code n} a multiple of {@code group}):
     * {@code out[outOff + i] = codes[cOff + i] · scales[sOff + i / group]}.
     */
    void dequantizeInt8(byte[] codes, int cOff, float[] scales, int sOff, int group, float[] out, int outOff, int n);

    /**
     * Asymmetric 4-bit groups to floats ({@code n} a multiple of the even {@code group}): in group g,
     * byte j ({@code codes[cOff + g·group/2 + j]}) holds element j in its low nibble and element
     * {@code j + group/2} in its high nibble, and element i is {@code fma(code, scales[sOff + g], mins[sOff + g])}.
     * Halves of a group, not neighbours, share a byte so that a vector of bytes unpacks to two runs.
     */
    void dequantizeUint4(byte[] codes, int cOff, float[] scales, float[] mins, int sOff, int group, float[] out, int outOff,
            int n);

    /**
     * Dot products of {@code heads} vectors with the rows of a channel-major 8-bit block (keys
     * quantized per channel, KIVI): {@code out[outOff + h·outStride + r] = Σ_{c<n} x[xOff + h·n + c] ·
     * codes[cOff + c·rows + r]} for rows r below {@code rows}, each sum accumulated by fused multiply-adds
     * in channel order. One pass over the codes serves every vector, with no per-row reduction.
     */
    void channelDotInt8(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out, int outOff,
            int outStride);

    /**
     * As {@link #channelDotInt8} for unsigned 4-bit codes ({@code rows} even): channel c's codes are the
     * {@code rows/2} bytes at {@code cOff + c·rows/2}, byte j holding row j in its low nibble and row
     * {@code j + rows/2} in its high nibble.
     */
    void channelDotUint4(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out, int outOff,
            int outStride);
}
