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
            return Vec.u8(s, off + j + which) & 63;
        }
        return which == 0
                ? (Vec.u8(s, off + j + 4) & 0xF) | ((Vec.u8(s, off + j - 4) >>> 6) << 4)
                : (Vec.u8(s, off + j + 4) >>> 4) | ((Vec.u8(s, off + j) >>> 6) << 4);
    }

    @Override
    int sumsGroup() {
        return 32;
    }

    /**
     * Q4_K's own copy of the shared {@link #dot1(MemorySegment, long, float[], int, MemorySegment, long,
     * float[], int, int, long, long, long)} without the fifth-bit branch: sharing that one measured 20-35%
     * slower for Q4_K at 512 bits (C2 keeps the branch and the bigger loop), and Q4_K is most of a Q4_K_M
     * model. The two loops below are the same code on purpose: as one loop of four, or as one helper
     * called twice with the mins summed apart, it measured 1.6x and 1.2x slower at 256 bits.
     */
    @Override
    float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long sums, float[] sf, int si,
            int cols) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s = zero;
        float k = 0;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + BB * b;
            float d = Vec.scale(w, blk), m = Vec.scale(w, blk + 2);
            long sl = w.get(Vec.LONG_LE, blk + 4);
            int sh = w.get(Half.INT_LE, blk + 12);
            // Chunks 0-1 and 2-3 in two loops of two: C2 unrolls each fully (and folds packedScale's
            // branch), which measured 1.6x one loop of four at 256 bits (docs/performance.md).
            for (int c = 0; c < 2; c++) {
                FloatVector p = zero, q = zero;
                int xc = QK * b + 64 * c;
                long qo = blk + 16 + 32 * c;
                for (int l = 0; l < 32; l += N) {
                    IntVector v = Vec.u8(w, qo, l);
                    p = Vec.i2f(v.and(0x0F)).fma(Vec.x(xf, xi, a, aOff, xc + l), p);
                    q = Vec.i2f(v.lanewise(VectorOperators.LSHR, 4)).fma(Vec.x(xf, xi, a, aOff, xc + l + 32), q);
                }
                int j = 2 * c;
                s = p.fma(bc(d * packedScale(sl, sh, j)), s);
                s = q.fma(bc(d * packedScale(sl, sh, j + 1)), s);
                int so = si + 8 * b + j;
                k += m * (packedMin(sl, sh, j) * sf[so] + packedMin(sl, sh, j + 1) * sf[so + 1]);
            }
            for (int c = 2; c < 4; c++) {
                FloatVector p = zero, q = zero;
                int xc = QK * b + 64 * c;
                long qo = blk + 16 + 32 * c;
                for (int l = 0; l < 32; l += N) {
                    IntVector v = Vec.u8(w, qo, l);
                    p = Vec.i2f(v.and(0x0F)).fma(Vec.x(xf, xi, a, aOff, xc + l), p);
                    q = Vec.i2f(v.lanewise(VectorOperators.LSHR, 4)).fma(Vec.x(xf, xi, a, aOff, xc + l + 32), q);
                }
                int j = 2 * c;
                s = p.fma(bc(d * packedScale(sl, sh, j)), s);
                s = q.fma(bc(d * packedScale(sl, sh, j + 1)), s);
                int so = si + 8 * b + j;
                k += m * (packedMin(sl, sh, j) * sf[so] + packedMin(sl, sh, j + 1) * sf[so + 1]);
            }
        }
        return Vec.sum(s) - k;
    }

    /**
     * The one-row dot of Q4_K and Q5_K (same header, same packed scales and mins): blocks of {@code
     * bb} bytes, nibbles at {@code qs} (byte 32c + l holds weights 64c + l and 64c + 32 + l), and
     * for Q5_K the fifth bits at {@code qh} (bit j of byte l for weight 32j + l; −1: none). Per
     * 32-weight sub-block j, Σ(dl·q − ml)·x = dl·Σq·x − ml·Σx, with Σx of every 32 columns from
     * {@link #prepare}; each nibble byte is loaded once for the two sub-blocks it holds, the scales
     * cost one FMA per sub-block. The loop over the four 64-weight chunks is not unrolled, to stay
     * under C2's node count cutoff (past it every vector is boxed). At 512 bits this measured
     * 1.6-2.3x the two-row per-sub-block loop it replaced (docs/performance.md).
     */
    static float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, float[] sf, int si,
            int cols, long bb, long qs, long qh) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s = zero;
        float k = 0;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + bb * b;
            float d = Vec.scale(w, blk), m = Vec.scale(w, blk + 2);
            // The 12 packed scale bytes as a long and an int: two loads instead of 32 checked byte reads.
            long sl = w.get(Vec.LONG_LE, blk + 4);
            int sh = w.get(Half.INT_LE, blk + 12);
            for (int c = 0; c < 4; c++) { // one loop: split in two as Q4_K's, C2 boxed every vector (0.4 GB/s)
                FloatVector p = zero, q = zero;
                int xc = QK * b + 64 * c;
                for (int l = 0; l < 32; l += N) {
                    IntVector v = Vec.u8(w, blk + qs + 32 * c, l);
                    IntVector lo = v.and(0x0F), hi = v.lanewise(VectorOperators.LSHR, 4);
                    if (qh >= 0) {
                        IntVector h = Vec.u8(w, blk + qh, l).lanewise(VectorOperators.LSHR, 2 * c);
                        lo = lo.or(h.and(1).lanewise(VectorOperators.LSHL, 4));
                        hi = hi.or(h.and(2).lanewise(VectorOperators.LSHL, 3));
                    }
                    p = Vec.i2f(lo).fma(Vec.x(xf, xi, a, aOff, xc + l), p);
                    q = Vec.i2f(hi).fma(Vec.x(xf, xi, a, aOff, xc + l + 32), q);
                }
                int j = 2 * c;
                s = p.fma(bc(d * packedScale(sl, sh, j)), s);
                s = q.fma(bc(d * packedScale(sl, sh, j + 1)), s);
                int so = si + 8 * b + j;
                k += m * (packedMin(sl, sh, j) * sf[so] + packedMin(sl, sh, j + 1) * sf[so + 1]);
            }
        }
        return Vec.sum(s) - k;
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
            float d = Vec.scale(w, blk);
            float dmin = Vec.scale(w, blk + 2);
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
