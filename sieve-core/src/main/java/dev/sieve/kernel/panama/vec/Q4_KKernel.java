package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q4_KEncoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q4_K weights (ggml {@code block_q4_K}, 144 bytes per 256: f16 d, f16 dmin, 12 bytes of packed
 * 6-bit scales and mins, 128 bytes of nibbles; byte 32c + l holds weight 64c + l in its low nibble
 * and 64c + 32 + l in its high nibble, value = d·sc·q − dmin·m per 32-weight sub-block).
 * Decode uses a fused two-row {@link #dot2}; prompts decode into the tile.
 */
final class Q4_KKernel extends FloatPathKernel {
    private static final int QK = 256;
    private static final long BB = Q4_KEncoding.BLOCK_BYTES;

    Q4_KKernel() {
        super(Q4_KEncoding.INSTANCE);
    }

    /** ggml's {@code get_scale_min_k4}: scale (which = 0) or min (which = 4) of sub-block j. */
    private static int scaleMin(MemorySegment s, long off, int j, int which) {
        if (j < 4) {
            return Half.u8(s, off + j + which) & 63;
        }
        return which == 0
                ? (Half.u8(s, off + j + 4) & 0xF) | ((Half.u8(s, off + j - 4) >>> 6) << 4)
                : (Half.u8(s, off + j + 4) >>> 4) | ((Half.u8(s, off + j) >>> 6) << 4);
    }

    /**
     * Per 32-weight sub-block j, Σ(dl·q − ml)·x = dl·Σq·x − ml·Σx: the inner loop is nibble,
     * convert, FMA, and Σx (shared by both rows) replaces a multiply and a subtract per weight.
     * One loop over the 8 sub-blocks (the nibble shift a variable) rather than unrolled halves
     * keeps the method under C2's inlining node limit, above which every vector is boxed.
     */
    @Override
    void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols, float[] res) {
        dot2(w, o0, o1, a, aOff, cols, res, BB, 16, -1);
    }

    /**
     * The fused two-row dot of Q4_K and Q5_K (same header, same packed scales and mins): blocks of
     * {@code bb} bytes, nibbles at {@code qs} (byte 32c + l holds weights 64c + l and 64c + 32 + l),
     * and for Q5_K the fifth bits at {@code qh} (bit j of byte l for weight 32j + l; −1: none).
     * Per 32-weight sub-block j, Σ(dl·q − ml)·x = dl·Σq·x − ml·Σx: the inner loop is nibble,
     * convert, FMA, and Σx (shared by both rows) replaces a multiply and a subtract per weight.
     * One loop over the 8 sub-blocks (the nibble shift a variable) rather than unrolled halves
     * keeps the method under C2's inlining node limit, above which every vector is boxed.
     */
    static void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols, float[] res,
            long bb, long qs, long qh) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s0 = zero, s1 = zero;
        int nb = cols / QK;
        for (int b = 0; b < nb; b++) {
            long bo = bb * b;
            float d0 = Half.f16(w, o0 + bo), m0 = -Half.f16(w, o0 + bo + 2);
            float d1 = Half.f16(w, o1 + bo), m1 = -Half.f16(w, o1 + bo + 2);
            // The 12 packed scale bytes as a long and an int: two loads instead of 32 checked byte reads.
            long sl0 = w.get(Vec.LONG_LE, o0 + bo + 4), sl1 = w.get(Vec.LONG_LE, o1 + bo + 4);
            int sh0 = w.get(Half.INT_LE, o0 + bo + 12), sh1 = w.get(Half.INT_LE, o1 + bo + 12);
            for (int j = 0; j < 8; j++) {
                FloatVector xs = zero, p0 = zero, p1 = zero;
                long xo = aOff + 4L * (QK * b + 32 * j);
                for (int l = 0; l < 32; l += N) {
                    FloatVector x = Vec.f32(a, xo + 4L * l);
                    xs = xs.add(x);
                    p0 = Vec.i2f(levels(w, o0 + bo, qs, qh, j, l)).fma(x, p0);
                    p1 = Vec.i2f(levels(w, o1 + bo, qs, qh, j, l)).fma(x, p1);
                }
                s0 = p0.fma(bc(d0 * packedScale(sl0, sh0, j)), s0).add(xs.mul(m0 * packedMin(sl0, sh0, j)));
                s1 = p1.fma(bc(d1 * packedScale(sl1, sh1, j)), s1).add(xs.mul(m1 * packedMin(sl1, sh1, j)));
            }
        }
        res[0] = s0.reduceLanes(VectorOperators.ADD);
        res[1] = s1.reduceLanes(VectorOperators.ADD);
    }

    /** The levels of weights 32j + l .. 32j + l + N − 1 of the block at {@code blk} (see {@link #dot2}). */
    static IntVector levels(MemorySegment w, long blk, long qs, long qh, int j, int l) {
        IntVector low = Vec.u8(w, blk + qs + 32 * (j >> 1), l).lanewise(VectorOperators.LSHR, 4 * (j & 1)).and(0x0F);
        if (qh < 0) {
            return low;
        }
        IntVector high = Vec.u8(w, blk + qh, l).lanewise(VectorOperators.LSHR, j).and(1);
        return low.or(high.lanewise(VectorOperators.LSHL, 4));
    }

    /** {@link #scaleMin}'s scale of sub-block j, from the 12 bytes held as {@code lo} (0..7), {@code hi} (8..11). */
    static int packedScale(long lo, int hi, int j) {
        if (j < 4) {
            return (int) (lo >>> (8 * j)) & 63;
        }
        return ((hi >>> (8 * (j - 4))) & 0xF) | ((int) (lo >>> (8 * (j - 4) + 6)) & 3) << 4;
    }

    static int packedMin(long lo, int hi, int j) {
        if (j < 4) {
            return (int) (lo >>> (8 * (j + 4))) & 63;
        }
        return ((hi >>> (8 * (j - 4) + 4)) & 0xF) | ((int) (lo >>> (8 * j + 6)) & 3) << 4;
    }

    static FloatVector bc(float v) {
        return FloatVector.broadcast(F, v);
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        decode(w, rowOff, k0, kc, dst, dstOff, BB, 16, -1);
    }

    /** Q4_K's and Q5_K's tile decoder, block layout as in {@link #dot2(MemorySegment, long, long, MemorySegment, long, int, float[], long, long, long)}. */
    static void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff, long bb, long qs, long qh) {
        int b0 = k0 / QK;
        for (int b = 0; b < kc / QK; b++) {
            long blk = rowOff + bb * (b0 + b);
            float d = Half.f16(w, blk);
            float dmin = Half.f16(w, blk + 2);
            int o = dstOff + b * QK;
            for (int j = 0; j < 8; j++) {
                // As the reference: dl·q − ml, rounded the same way (no FMA).
                float dl = d * scaleMin(w, blk + 4, j, 0), ml = dmin * scaleMin(w, blk + 4, j, 4);
                for (int l = 0; l < 32; l += N) {
                    Vec.i2f(levels(w, blk, qs, qh, j, l)).mul(dl).sub(ml).intoArray(dst, o + 32 * j + l);
                }
            }
        }
    }
}
