package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Q4_0Encoding;
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
    void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols,
            float[] res) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s0 = zero, s1 = zero;
        int nb = cols / QK;
        for (int b = 0; b < nb; b++) {
            long bo = BB * b + 2;
            long xo = aOff + 4L * QK * b;
            FloatVector p0 = zero, p1 = zero, q0 = zero, q1 = zero;
            for (int c = 0; c < QK / 2; c += N) {
                FloatVector xa = Vec.f32(a, xo + 4L * c);
                FloatVector xb = Vec.f32(a, xo + 4L * (c + QK / 2));
                IntVector v = Vec.u8(w, o0 + bo, c);
                p0 = lo(v).fma(xa, p0);
                q0 = hi(v).fma(xb, q0);
                v = Vec.u8(w, o1 + bo, c);
                p1 = lo(v).fma(xa, p1);
                q1 = hi(v).fma(xb, q1);
            }
            long so = BB * b;
            s0 = p0.add(q0).fma(FloatVector.broadcast(F, Vec.scale(w, o0 + so)), s0);
            s1 = p1.add(q1).fma(FloatVector.broadcast(F, Vec.scale(w, o1 + so)), s1);
        }
        res[0] = s0.reduceLanes(VectorOperators.ADD);
        res[1] = s1.reduceLanes(VectorOperators.ADD);
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        int b0 = k0 / QK;
        for (int b = 0; b < kc / QK; b++) {
            long blk = rowOff + BB * (b0 + b);
            float d = Vec.scale(w, blk);
            int o = dstOff + b * QK;
            for (int c = 0; c < QK / 2; c += N) {
                IntVector v = Vec.u8(w, blk + 2, c);
                lo(v).mul(d).intoArray(dst, o + c);
                hi(v).mul(d).intoArray(dst, o + c + QK / 2);
            }
        }
    }
}
