package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.FW;
import static dev.sieve.kernel.panama.vec.Vec.SW;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q8_0 decode against Q8_0 activations (ggml's pairing) in 16-bit lanes; prompts take the float
 * tiles of {@link Q8_0Kernel}. The block's 32 weight bytes are loaded as 16 shorts and never
 * widened across lanes: {@code (u << 8) >> 8} is the even bytes and {@code u >> 8} the odd ones,
 * each sign-extended in place, against activations laid out even/odd once per token ({@link
 * Int16Activations#prepareEvenOdd}). Then two 16-bit multiplies and an add (|w·a| ≤ 128·127, so
 * the sum of two fits), the pairwise widening to int by shifts, one conversion and one FMA with
 * the two scales. The byte-to-short widening it avoids is a cross-lane instruction; with four of
 * them per block the widening decoders ran at 8.5–9.5 GB/s per thread on AVX2 and this one at
 * 11.5–12.2 (docs/performance.md, session 20).
 */
final class Q8_0IntKernel extends Q8_0Kernel {
    private static final int L = SW.length(); // 16 at 256 bits and up, 8 at 128
    private static final long AB = Int16Activations.EVEN_ODD_BLOCK;

    @Override
    boolean int16Path(Activations x) {
        return x.tokens() < TILE_TOKENS || (x.cols() >= LONG_ROW && x.tokens() < TWO_TOKEN_LIMIT);
    }

    @Override
    void prepareInt16(Activations x) {
        Int16Activations.prepareEvenOdd(x);
    }

    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        MemorySegment ws = w.data(), a = x.encoded();
        long rb = w.rowBytes(), ab = Int16Activations.evenOddRowBytes(x.cols());
        long a0 = Int16Activations.evenOddOffset(x);
        int tokens = x.tokens(), cols = x.cols();
        float[] res = RES.get();
        for (int r = r0; r < r1; r++) {
            int t = 0;
            for (; t + 2 <= tokens; t += 2) {
                dot2(ws, r * rb, a, a0 + t * ab, ab, cols, res);
                out[t * outStride + r] = res[0];
                out[(t + 1) * outStride + r] = res[1];
            }
            if (t < tokens) {
                out[t * outStride + r] = dot1(ws, r * rb, a, a0 + t * ab, cols);
            }
        }
    }

    private static final ThreadLocal<float[]> RES = ThreadLocal.withInitial(() -> new float[32]);

    /** One row against one token. */
    private static float dot1(MemorySegment w, long o, MemorySegment a, long aOff, int cols) {
        FloatVector s = FloatVector.zero(FW);
        for (int b = 0; b < cols / QK; b++) {
            long wb = o + BB * b, ab = aOff + AB * b;
            float d = Vec.scale(w, wb) * a.get(dev.sieve.core.quant.Half.FLOAT_LE, ab + 64);
            for (int c = 0; c < 16; c += L) {
                ShortVector u = pairs(w, wb + 2 + 2L * c);
                ShortVector p = even(u).mul(shorts(a, ab + 2L * c)).add(odd(u).mul(shorts(a, ab + 32 + 2L * c)));
                s = ((FloatVector) Int16Activations.pairSums(p).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(FW, d), s);
            }
        }
        return Vec.sumW(s);
    }

    /** One row against two tokens: each weight vector loaded and split once, each token's sums as {@link #dot1} forms them. */
    private static void dot2(MemorySegment w, long o, MemorySegment a, long aOff, long ab, int cols, float[] res) {
        FloatVector s0 = FloatVector.zero(FW), s1 = s0;
        for (int b = 0; b < cols / QK; b++) {
            long wb = o + BB * b, b0 = aOff + AB * b, b1 = b0 + ab;
            float dw = Vec.scale(w, wb);
            float d0 = dw * a.get(dev.sieve.core.quant.Half.FLOAT_LE, b0 + 64);
            float d1 = dw * a.get(dev.sieve.core.quant.Half.FLOAT_LE, b1 + 64);
            for (int c = 0; c < 16; c += L) {
                ShortVector u = pairs(w, wb + 2 + 2L * c);
                ShortVector ev = even(u), od = odd(u);
                ShortVector p0 = ev.mul(shorts(a, b0 + 2L * c)).add(od.mul(shorts(a, b0 + 32 + 2L * c)));
                ShortVector p1 = ev.mul(shorts(a, b1 + 2L * c)).add(od.mul(shorts(a, b1 + 32 + 2L * c)));
                s0 = ((FloatVector) Int16Activations.pairSums(p0).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(FW, d0), s0);
                s1 = ((FloatVector) Int16Activations.pairSums(p1).convert(VectorOperators.I2F, 0))
                        .fma(FloatVector.broadcast(FW, d1), s1);
            }
        }
        float r0 = Vec.sumW(s0, res, 8), r1 = Vec.sumW(s1, res, 8);
        res[0] = r0;
        res[1] = r1;
    }

    /** {@code SW.length()} pairs of weight bytes as shorts (little-endian: the even byte low). */
    private static ShortVector pairs(MemorySegment w, long off) {
        return ShortVector.fromMemorySegment(SW, w, off, Vec.LE);
    }

    private static ShortVector even(ShortVector u) {
        return u.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8);
    }

    private static ShortVector odd(ShortVector u) {
        return u.lanewise(VectorOperators.ASHR, 8);
    }

    private static ShortVector shorts(MemorySegment a, long off) {
        return Int16Activations.shorts(a, off);
    }
}
