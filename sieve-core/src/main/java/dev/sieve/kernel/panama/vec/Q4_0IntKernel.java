package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.FW;
import static dev.sieve.kernel.panama.vec.Vec.SW;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q4_0 decode with Q8_0 activations (ggml's pairing) in 16-bit lanes; prompts take the float tiles
 * of {@link FloatPathKernel}. Per block and row: one zero-extending load of the 16 weight bytes,
 * a shift, two 16-bit multiplies, an add and a subtract (the layout of {@link Int16Activations}
 * folds the nibble mask and the −8 away), a pairwise widening to int by shifts (no cross-lane
 * conversion), one int→float conversion and one FMA with the two scales, one weight row per call.
 * This measured 1.3× the float-activation decoder per thread on AVX2 (see docs/performance.md).
 * Small batches run two tokens per pass over a row ({@link #dot2ti}; docs/serving.md).
 */
final class Q4_0IntKernel extends Q4_0Kernel implements Int8Path.Dot2 {
    private static final int L = SW.length(); // 16 at 256 bits and up, 8 at 128
    private static final long AB = Int16Activations.BLOCK;

    /**
     * On rows of {@link #LONG_ROW} columns or more, batches below this many tokens take the integer
     * path, two tokens per pass over a row ({@link #dot2ti}), not the float tiles:
     * DecodeProbe, one thread, 5632×2048 and 2048×5632 out of DRAM, 29.7–31.3 GFLOP/s at 4 tokens and
     * 29.1–31.1 at 6 against the tiles' 24.6–25.0 and 27.5–28.2; at 8 the tiles win (34.6–35.0).
     */
    static final int LONG_ROW_INT_TOKENS = 7;

    @Override
    boolean int16Path(Activations x) {
        return Int8Path.wants(x) || (x.cols() >= LONG_ROW && x.tokens() < LONG_ROW_INT_TOKENS);
    }

    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        MemorySegment ws = w.data(), a = Int16Activations.of(x);
        long rb = w.rowBytes(), ab = Int16Activations.rowBytes(x.cols());
        // One token on short rows: two rows per pass. Otherwise one row per pass, several tokens at a
        // time (short rows, 135m shapes, 2 tokens: 19.8/22.3 → 21.2/25.9 GFLOP/s, 3 tokens 19.1/22.8 →
        // 22.4/28.3; from 4 tokens on short rows the tiles win, 27–30 against 22–26).
        if (x.cols() < LONG_ROW && x.tokens() == 1) {
            Int8Path.matmul(this, ws, rb, a, ab, x, out, outStride, r0, r1);
            return;
        }
        int tokens = x.tokens(), cols = x.cols();
        float[] res = RES.get();
        // Tokens by twos, then one. (A three-token pass measured 32-35 GFLOP/s against 29-31 in
        // session 15, but by session 20 C2 hit its inlining node budget in it and boxed every vector:
        // 8.8 GFLOP/s, bench --parallel 3 at 6.8 tokens/s; removed.)
        for (int r = r0; r < r1; r++) {
            int t = 0;
            for (; t + 2 <= tokens; t += 2) {
                dot2ti(ws, r * rb, a, t * ab, ab, cols, res);
                out[t * outStride + r] = res[0];
                out[(t + 1) * outStride + r] = res[1];
            }
            if (t < tokens) {
                out[t * outStride + r] = dot1i(ws, r * rb, a, t * ab, cols);
            }
        }
    }

    /**
     * One row against one token: per block, {@link #block} over the 16 weight bytes, then one FMA with
     * the two scales. For rows of {@link #LONG_ROW} columns or more: one row per call (one weight
     * stream, which the hardware prefetcher follows best) measured 1.13-1.15x the two-row {@link #dot2i}
     * out of cache on AVX2; shorter rows keep the two-row loop.
     */
    private static float dot1i(MemorySegment w, long o, MemorySegment a, long aOff, int cols) {
        FloatVector s = FloatVector.zero(FW);
        for (int b = 0; b < cols / QK; b++) {
            long ao = aOff + AB * b;
            float da = a.get(dev.sieve.core.quant.Half.FLOAT_LE, ao + 96);
            for (int c = 0; c < 16; c += L) {
                IntVector i0 = block(w, o + BB * b + 2 + c, shorts(a, ao + 2L * c), shorts(a, ao + 32 + 2L * c),
                        shorts(a, ao + 64 + 2L * c));
                s = ((FloatVector) i0.convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(FW, Vec.scale(w, o + BB * b) * da), s);
            }
        }
        return Vec.sumW(s);
    }

    private static final ThreadLocal<float[]> RES = ThreadLocal.withInitial(() -> new float[32]); // results, then sum scratch

    /**
     * One row against two tokens: the weight bytes loaded, widened and shifted once for both, each
     * token's sums exactly as {@link #dot1i} forms them.
     */
    private static void dot2ti(MemorySegment w, long o, MemorySegment a, long aOff, long ab, int cols, float[] res) {
        FloatVector s0 = FloatVector.zero(FW), s1 = s0;
        for (int b = 0; b < cols / QK; b++) {
            long a0 = aOff + AB * b, a1 = a0 + ab;
            float dw = Vec.scale(w, o + BB * b);
            float d0 = a.get(dev.sieve.core.quant.Half.FLOAT_LE, a0 + 96);
            float d1 = a.get(dev.sieve.core.quant.Half.FLOAT_LE, a1 + 96);
            for (int c = 0; c < 16; c += L) {
                ShortVector u = widened(w, o + BB * b + 2 + c);
                ShortVector h = u.lanewise(VectorOperators.LSHR, 4);
                IntVector i0 = pairs(u, h, shorts(a, a0 + 2L * c), shorts(a, a0 + 32 + 2L * c), shorts(a, a0 + 64 + 2L * c));
                IntVector i1 = pairs(u, h, shorts(a, a1 + 2L * c), shorts(a, a1 + 32 + 2L * c), shorts(a, a1 + 64 + 2L * c));
                s0 = ((FloatVector) i0.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(FW, dw * d0), s0);
                s1 = ((FloatVector) i1.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(FW, dw * d1), s1);
            }
        }
        float r0 = Vec.sumW(s0, res, 8), r1 = Vec.sumW(s1, res, 8);
        res[0] = r0;
        res[1] = r1;
    }


    /** Σ over the block's weight bytes at {@code w} of (lo−8)·a + (hi−8)·b, as L/2 int lanes. */
    private static IntVector block(MemorySegment w, long wo, ShortVector xa, ShortVector xb, ShortVector k) {
        ShortVector u = widened(w, wo);
        return pairs(u, u.lanewise(VectorOperators.LSHR, 4), xa, xb, k);
    }

    private static ShortVector widened(MemorySegment w, long wo) {
        return Int16Activations.widened(w, wo);
    }

    /** {@link #block}'s sums from the widened bytes {@code u} and their high nibbles {@code h}. */
    private static IntVector pairs(ShortVector u, ShortVector h, ShortVector xa, ShortVector xb, ShortVector k) {
        return Int16Activations.pairSums(u.mul(xa).add(h.mul(xb)).sub(k));
    }

    private static ShortVector shorts(MemorySegment a, long off) {
        return Int16Activations.shorts(a, off);
    }

    @Override
    public void dot2i(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols, float[] res) {
        FloatVector s0 = FloatVector.zero(FW), s1 = s0;
        int nb = cols / QK;
        for (int b = 0; b < nb; b++) {
            long bo = BB * b;
            long ao = aOff + AB * b;
            float da = a.get(dev.sieve.core.quant.Half.FLOAT_LE, ao + 96);
            for (int c = 0; c < 16; c += L) {
                ShortVector xa = shorts(a, ao + 2L * c);
                ShortVector xb = shorts(a, ao + 32 + 2L * c);
                ShortVector k = shorts(a, ao + 64 + 2L * c);
                IntVector i0 = block(w, o0 + bo + 2 + c, xa, xb, k);
                IntVector i1 = block(w, o1 + bo + 2 + c, xa, xb, k);
                s0 = ((FloatVector) i0.convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(FW, Vec.scale(w, o0 + bo) * da), s0);
                s1 = ((FloatVector) i1.convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(FW, Vec.scale(w, o1 + bo) * da), s1);
            }
        }
        float r0 = Vec.sumW(s0, res, 0), r1 = Vec.sumW(s1, res, 0);
        res[0] = r0;
        res[1] = r1;
    }
}
