package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q4_1Encoding;
import dev.sieve.core.quant.Q5_0Encoding;
import dev.sieve.core.quant.Q5_1Encoding;
import dev.sieve.core.quant.WeightEncoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The float decoders of ggml's other 32-weight block types, Q4_1, Q5_0 and Q5_1: a block is an f16
 * scale d, for Q4_1 and Q5_1 an f16 offset m, for Q5_0 and Q5_1 a 32-bit word qh of fifth bits (bit j
 * for weight j), then Q4_0's 16 nibble bytes (byte j: weight j low, j + 16 high); value = d·q + m, or
 * d·(q − 16) for Q5_0. llama.cpp's Q4_K_M and Q5_K_M keep rows whose length is not a multiple of 256
 * in Q5_0 and Q5_1 (every matrix of the 135M shape, 576 columns, but its FFN down projection), so
 * without these the reference decoded them. As {@link Q4_0Kernel}: decode one row per call with the
 * activations' block sums (the m or −16·d term is m·Σx per block), prompts through the tiles. The
 * fifth bits are one broadcast of qh and a per-lane shift by the lane's weight index.
 */
final class Q5Kernels {
    static final int QK = 32;
    /** Lane i: i, the weight index of the lane in the first N weights of a half block. */
    private static final IntVector IOTA = IntVector.zero(Vec.I).addIndex(1);

    private Q5Kernels() {}

    /** The kernels, one per encoding. */
    static FloatPathKernel[] all() {
        return new FloatPathKernel[] {
            new Kernel(Q4_1Encoding.INSTANCE, Q4_1Encoding.BLOCK_BYTES, 2, -1, 4),
            new Kernel(Q5_0Encoding.INSTANCE, Q5_0Encoding.BLOCK_BYTES, -1, 2, 6),
            new Kernel(Q5_1Encoding.INSTANCE, Q5_1Encoding.BLOCK_BYTES, 2, 4, 8)
        };
    }

    /**
     * One encoding: block bytes, and the offsets in a block of m (−1: none; then Q5_0's −16), of qh (−1:
     * none) and of the nibbles. The decoders are static with these as arguments: each override passes
     * its instance's values, and the branches on them are the same for every block.
     */
    static final class Kernel extends FloatPathKernel {
        private final long bb;
        private final int min, qh, qs;

        Kernel(WeightEncoding e, int blockBytes, int min, int qh, int qs) {
            super(e);
            this.bb = blockBytes;
            this.min = min;
            this.qh = qh;
            this.qs = qs;
        }

        @Override
        int sumsGroup() {
            return QK;
        }

        @Override
        float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long sums, float[] sf, int si,
                int cols) {
            return Q5Kernels.dot1(w, o, xf, xi, a, aOff, sf, si, cols, bb, min, qh, qs);
        }

        @Override
        void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
            Q5Kernels.decode(w, rowOff + bb * (k0 / QK), kc / QK, dst, dstOff, bb, min, qh, qs);
        }
    }

    /**
     * One row: Σ_b d_b·Σ q·x + m_b·Σx_b (m_b = −16·d_b for Q5_0), Σx_b from {@code sf[si + b]}; per block
     * one byte load gives both nibble halves, the fifth bits two shifts of qh, two conversions and two FMAs.
     * The activations are read from the prepared segment at every width: they are what the sums were
     * formed from (rounded to Q8_0's values for Q5_0), which the raw floats {@code xf} are not.
     */
    static float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, float[] sf, int si,
            int cols, long bb, int min, int qhOff, int qsOff) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s = zero;
        float k = 0;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + bb * b;
            int xb = QK * b;
            IntVector h = IntVector.broadcast(Vec.I, qhOff < 0 ? 0 : w.get(Half.INT_LE, blk + qhOff));
            FloatVector p = zero;
            for (int c = 0; c < QK / 2; c += N) {
                IntVector v = Vec.u8(w, blk + qsOff, c);
                IntVector lo = v.and(0x0F), hi = v.lanewise(VectorOperators.LSHR, 4);
                if (qhOff >= 0) {
                    IntVector at = IOTA.add(c);
                    lo = lo.or(h.lanewise(VectorOperators.LSHR, at).lanewise(VectorOperators.LSHL, 4).and(0x10));
                    hi = hi.or(h.lanewise(VectorOperators.LSHR, at.add(QK / 2)).lanewise(VectorOperators.LSHL, 4).and(0x10));
                }
                p = ((FloatVector) lo.convert(VectorOperators.I2F, 0)).fma(Vec.f32(a, aOff + 4L * (xb + c)), p);
                p = ((FloatVector) hi.convert(VectorOperators.I2F, 0)).fma(Vec.f32(a, aOff + 4L * (xb + c + QK / 2)), p);
            }
            float d = Vec.scale(w, blk);
            s = p.fma(FloatVector.broadcast(F, d), s);
            k += (min < 0 ? -16 * d : Vec.scale(w, blk + min)) * sf[si + b];
        }
        return Vec.sum(s) + k;
    }

    /**
     * {@code blocks} blocks from byte {@code first} as floats into {@code dst[dstOff..]}, rounded as the
     * references round them. The nibble and fifth-bit steps repeat {@link #dot1}'s in the loop rather than
     * in a helper returning vectors: a helper C2 does not inline boxes what it returns.
     */
    static void decode(MemorySegment w, long first, int blocks, float[] dst, int dstOff, long bb, int min, int qhOff,
            int qsOff) {
        for (int b = 0; b < blocks; b++) {
            long blk = first + bb * b;
            float d = Vec.scale(w, blk), m = min < 0 ? 0 : Vec.scale(w, blk + min);
            IntVector h = IntVector.broadcast(Vec.I, qhOff < 0 ? 0 : w.get(Half.INT_LE, blk + qhOff));
            int out = dstOff + QK * b;
            for (int c = 0; c < QK / 2; c += N) {
                IntVector v = Vec.u8(w, blk + qsOff, c);
                IntVector lo = v.and(0x0F), hi = v.lanewise(VectorOperators.LSHR, 4);
                if (qhOff >= 0) {
                    IntVector at = IOTA.add(c);
                    lo = lo.or(h.lanewise(VectorOperators.LSHR, at).lanewise(VectorOperators.LSHL, 4).and(0x10));
                    hi = hi.or(h.lanewise(VectorOperators.LSHR, at.add(QK / 2)).lanewise(VectorOperators.LSHL, 4).and(0x10));
                }
                if (min < 0) { // Q5_0: (q − 16)·d
                    ((FloatVector) lo.sub(16).convert(VectorOperators.I2F, 0)).mul(d).intoArray(dst, out + c);
                    ((FloatVector) hi.sub(16).convert(VectorOperators.I2F, 0)).mul(d).intoArray(dst, out + c + QK / 2);
                } else { // q·d + m
                    ((FloatVector) lo.convert(VectorOperators.I2F, 0)).mul(d).add(m).intoArray(dst, out + c);
                    ((FloatVector) hi.convert(VectorOperators.I2F, 0)).mul(d).add(m).intoArray(dst, out + c + QK / 2);
                }
            }
        }
    }
}
