package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q4_0 weights (18-byte blocks: f16 scale, 16 bytes holding weight j in the low nibble of byte j
 * and weight j+16 in the high nibble) against float activations. One byte load yields both
 * halves of the block: low nibbles pair with activations j.., high nibbles with j+16...
 */
class Q4_0Kernel extends FloatPathKernel {
    static final int QK = 32;
    static final long BB = Q4_0Encoding.BLOCK_BYTES;

    Q4_0Kernel() {
        super(Q4_0Encoding.INSTANCE);
    }

    /** Weights j (low nibbles) as floats, from unsigned bytes in int lanes. */
    static FloatVector lo(IntVector b) {
        return Vec.i2f(b.and(0x0F).sub(8));
    }

    /** Weights j + 16 (high nibbles). */
    static FloatVector hi(IntVector b) {
        return Vec.i2f(b.lanewise(VectorOperators.LSHR, 4).sub(8));
    }

    @Override
    int sumsGroup() {
        return QK;
    }

    /**
     * One row: Σ_b d_b·(Σ q·x − 8·Σx), with Σx per block from {@link #prepare}; per block one
     * byte load gives both nibble halves, two conversions and two FMAs. One row per call, not two:
     * C2 compiles the smaller loop without boxing, and it measured faster (docs/performance.md).
     */
    @Override
    float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long sums, float[] sf, int si,
            int cols) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s = zero;
        float k = 0;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + BB * b;
            int xb = QK * b;
            FloatVector p = zero;
            for (int c = 0; c < QK / 2; c += N) {
                IntVector v = Vec.u8(w, blk + 2, c);
                p = Vec.i2f(v.and(0x0F)).fma(Vec.x(xf, xi, a, aOff, xb + c), p);
                p = Vec.i2f(v.lanewise(VectorOperators.LSHR, 4)).fma(Vec.x(xf, xi, a, aOff, xb + c + QK / 2), p);
            }
            float d = Vec.scale(w, blk);
            s = p.fma(FloatVector.broadcast(F, d), s);
            k += d * a.get(Half.FLOAT_LE, sums + 4L * b);
        }
        return Vec.sum(s) - 8 * k;
    }

    /** {@link #dot1} for two tokens: each block's nibbles converted once, multiplied into both. */
    @Override
    void dot1x2(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long ab, long sums, int cols,
            float[] res) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s0 = zero, s1 = zero;
        float k0 = 0, k1 = 0;
        long sums1 = sums + 4L * (cols / QK);
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + BB * b;
            int xb = QK * b;
            FloatVector p0 = zero, p1 = zero;
            for (int c = 0; c < QK / 2; c += N) {
                IntVector v = Vec.u8(w, blk + 2, c);
                FloatVector lo = Vec.i2f(v.and(0x0F)), hi = Vec.i2f(v.lanewise(VectorOperators.LSHR, 4));
                p0 = lo.fma(Vec.x(xf, xi, a, aOff, xb + c), p0);
                p1 = lo.fma(Vec.x(xf, xi + cols, a, aOff + ab, xb + c), p1);
                p0 = hi.fma(Vec.x(xf, xi, a, aOff, xb + c + QK / 2), p0);
                p1 = hi.fma(Vec.x(xf, xi + cols, a, aOff + ab, xb + c + QK / 2), p1);
            }
            float d = Vec.scale(w, blk);
            FloatVector dv = FloatVector.broadcast(F, d);
            s0 = p0.fma(dv, s0);
            s1 = p1.fma(dv, s1);
            k0 += d * a.get(Half.FLOAT_LE, sums + 4L * b);
            k1 += d * a.get(Half.FLOAT_LE, sums1 + 4L * b);
        }
        float r0 = Vec.sum(s0, res, 0) - 8 * k0, r1 = Vec.sum(s1, res, 0) - 8 * k1;
        res[0] = r0;
        res[1] = r1;
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        decodeBlocks(w, rowOff + BB * (k0 / QK), kc / QK, dst, dstOff);
    }

    /** {@code blocks} consecutive Q4_0 blocks from byte {@code first}, as floats into {@code dst[dstOff..]}. */
    static void decodeBlocks(MemorySegment w, long first, int blocks, float[] dst, int dstOff) {
        for (int b = 0; b < blocks; b++) {
            long blk = first + BB * b;
            nibbles(w, blk + 2, Vec.scale(w, blk), dst, dstOff + b * QK);
        }
    }

    /** One block's 16 nibble bytes at {@code q} (byte j: weights j and j + 16) as (q − 8)·d into {@code dst[o..o+32)}. */
    static void nibbles(MemorySegment w, long q, float d, float[] dst, int o) {
        for (int c = 0; c < QK / 2; c += N) {
            IntVector v = Vec.u8(w, q, c);
            lo(v).mul(d).intoArray(dst, o + c);
            hi(v).mul(d).intoArray(dst, o + c + QK / 2);
        }
    }
}
