package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Q8_0Encoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q8_0 weights (34-byte blocks: f16 scale, 32 int8) against float activations: bytes are widened
 * to floats in registers, the block sum is scaled once per block.
 */
class Q8_0Kernel extends FloatPathKernel {
    static final int QK = 32;
    static final long BB = Q8_0Encoding.BLOCK_BYTES;

    Q8_0Kernel() {
        super(Q8_0Encoding.INSTANCE);
    }

    /** Weights {@code c .. c+N} of the block at {@code blk}, unscaled. */
    static FloatVector q(MemorySegment w, long blk, int c) {
        return Vec.b2f(Vec.bytes(w, blk + 2 + Vec.loadAt(c)), Vec.part(c));
    }

    /**
     * Below 16 lanes, rows of {@link #LONG_ROW} columns or more decode one row per call, activations
     * from the heap: out of cache it streamed 9.2 GB/s per thread against 7.2 for the two-row {@link
     * #dot2} (one weight stream instead of two; in cache the two-row loop is ~5% faster, and short rows
     * lose to the per-row overhead). At 16 lanes the two-row loop stays.
     */
    @Override
    boolean oneRow(int cols) {
        return Vec.HEAP_X && cols >= LONG_ROW;
    }

    @Override
    float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long sums, float[] sf, int si,
            int cols) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s = zero;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + BB * b;
            int xb = QK * b;
            FloatVector p = zero, q = zero;
            for (int c = 0; c < QK; c += 2 * N) {
                p = q(w, blk, c).fma(Vec.x(xf, xi, a, aOff, xb + c), p);
                q = q(w, blk, c + N).fma(Vec.x(xf, xi, a, aOff, xb + c + N), q);
            }
            s = p.add(q).fma(FloatVector.broadcast(F, Vec.scale(w, blk)), s);
        }
        return Vec.sum(s);
    }

    /** {@link #dot1} for two tokens: each weight vector widened once, multiplied into both. */
    @Override
    void dot1x2(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long ab, long sums, int cols,
            float[] res) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s0 = zero, s1 = zero;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + BB * b;
            int xb = QK * b;
            FloatVector p0 = zero, q0 = zero, p1 = zero, q1 = zero;
            for (int c = 0; c < QK; c += 2 * N) {
                FloatVector wa = q(w, blk, c), wb = q(w, blk, c + N);
                p0 = wa.fma(Vec.x(xf, xi, a, aOff, xb + c), p0);
                q0 = wb.fma(Vec.x(xf, xi, a, aOff, xb + c + N), q0);
                p1 = wa.fma(Vec.x(xf, xi + cols, a, aOff + ab, xb + c), p1);
                q1 = wb.fma(Vec.x(xf, xi + cols, a, aOff + ab, xb + c + N), q1);
            }
            FloatVector d = FloatVector.broadcast(F, Vec.scale(w, blk));
            s0 = p0.add(q0).fma(d, s0);
            s1 = p1.add(q1).fma(d, s1);
        }
        float r0 = Vec.sum(s0, res, 0), r1 = Vec.sum(s1, res, 0);
        res[0] = r0;
        res[1] = r1;
    }

    /**
     * Per block and row one product and one FMA, then the scale: the block's first half is a
     * {@code mul}, not an FMA into zero (each zero start cost a register move on the two 512-bit
     * ports, with an add to join the halves). Q8_0 at 512 bits, one thread, in L2 14.5 against
     * 12.5 GB/s with the old form (docs/performance.md). QK = 32 holds 2N columns at 16 lanes, written
     * out: with a loop of one trip there, the model's compile of this method kept a bounds check on
     * every load and was not unrolled (tg64 9.4 against 12.2; DecodeProbe's compile was fine).
     * Narrower widths loop over the rest of the block.
     */
    @Override
    void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols,
            float[] res) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s0 = zero, s1 = zero;
        int nb = cols / QK;
        for (int b = 0; b < nb; b++) {
            long b0 = o0 + BB * b, b1 = o1 + BB * b;
            long xo = aOff + 4L * QK * b;
            FloatVector p0, p1;
            if (2 * N == QK) { // 16 lanes, written out (see above)
                FloatVector xa = Vec.f32(a, xo), xb = Vec.f32(a, xo + 4L * N);
                p0 = q(w, b0, N).fma(xb, q(w, b0, 0).mul(xa));
                p1 = q(w, b1, N).fma(xb, q(w, b1, 0).mul(xa));
            } else {
                FloatVector x = Vec.f32(a, xo);
                p0 = q(w, b0, 0).mul(x);
                p1 = q(w, b1, 0).mul(x);
                for (int c = N; c < QK; c += N) {
                    x = Vec.f32(a, xo + 4L * c);
                    p0 = q(w, b0, c).fma(x, p0);
                    p1 = q(w, b1, c).fma(x, p1);
                }
            }
            s0 = p0.fma(FloatVector.broadcast(F, Vec.scale(w, b0)), s0);
            s1 = p1.fma(FloatVector.broadcast(F, Vec.scale(w, b1)), s1);
        }
        float r0 = Vec.sum(s0, res, 0), r1 = Vec.sum(s1, res, 0);
        res[0] = r0;
        res[1] = r1;
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        decodeBlocks(w, rowOff + BB * (k0 / QK), kc / QK, dst, dstOff);
    }

    /** {@code blocks} consecutive Q8_0 blocks from byte {@code first}, as floats into {@code dst[dstOff..]}. */
    static void decodeBlocks(MemorySegment w, long first, int blocks, float[] dst, int dstOff) {
        for (int b = 0; b < blocks; b++) {
            long blk = first + BB * b;
            float d = Vec.scale(w, blk);
            for (int c = 0; c < QK; c += N) {
                q(w, blk, c).mul(d).intoArray(dst, dstOff + b * QK + c);
            }
        }
    }
}
