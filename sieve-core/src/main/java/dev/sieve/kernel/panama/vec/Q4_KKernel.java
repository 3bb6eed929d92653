package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.tensor.Tensor;
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

    /**
     * Per 32-weight sub-block j, Σ(dl·q − ml)·x = dl·Σq·x − ml·Σx. Σx of every 32 columns comes
     * from {@link #prepare} (shared by all rows), so the vector work per 64 weights and row is two
     * byte loads, a mask and a shift, four conversions and four FMAs, and the scales one FMA per
     * sub-block: each nibble byte is loaded once for the two sub-blocks it holds. The loop over the
     * four 64-weight chunks is not unrolled, to stay under C2's node count cutoff (past it every
     * vector is boxed). Measured 1.5-2x the previous per-sub-block loop at 512 bits.
     */
    @Override
    float dot1(MemorySegment w, long o, MemorySegment a, long aOff, long sums, int cols) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s = zero;
        float k = 0;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + BB * b;
            float d = Vec.scale(w, blk), m = Vec.scale(w, blk + 2);
            // The 12 packed scale bytes as a long and an int: two loads instead of 32 checked byte reads.
            long sl = w.get(Vec.LONG_LE, blk + 4);
            int sh = w.get(Half.INT_LE, blk + 12);
            for (int c = 0; c < 4; c++) {
                FloatVector p = zero, q = zero;
                long xo = aOff + 4L * (QK * b + 64 * c), qo = blk + 16 + 32 * c;
                for (int l = 0; l < 32; l += N) {
                    IntVector v = Vec.u8(w, qo, l);
                    p = Vec.i2f(v.and(0x0F)).fma(Vec.f32(a, xo + 4L * l), p);
                    q = Vec.i2f(v.lanewise(VectorOperators.LSHR, 4)).fma(Vec.f32(a, xo + 4L * (l + 32)), q);
                }
                int j = 2 * c;
                s = p.fma(bc(d * packedScale(sl, sh, j)), s);
                s = q.fma(bc(d * packedScale(sl, sh, j + 1)), s);
                long so = sums + 4L * (8 * b + j);
                k += m * (packedMin(sl, sh, j) * a.get(Half.FLOAT_LE, so)
                        + packedMin(sl, sh, j + 1) * a.get(Half.FLOAT_LE, so + 4));
            }
        }
        return s.reduceLanes(VectorOperators.ADD) - k;
    }

    @Override
    int sumsGroup() {
        return 32;
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

    private static FloatVector bc(float v) {
        return FloatVector.broadcast(F, v);
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        int b0 = k0 / QK;
        for (int b = 0; b < kc / QK; b++) {
            long blk = rowOff + BB * (b0 + b);
            float d = Vec.scale(w, blk);
            float dmin = Vec.scale(w, blk + 2);
            int o = dstOff + b * QK;
            for (int c = 0; c < 4; c++) {
                // As the reference: dl·q − ml, rounded the same way (no FMA).
                float dl0 = d * scaleMin(w, blk + 4, 2 * c, 0), ml0 = dmin * scaleMin(w, blk + 4, 2 * c, 4);
                float dl1 = d * scaleMin(w, blk + 4, 2 * c + 1, 0), ml1 = dmin * scaleMin(w, blk + 4, 2 * c + 1, 4);
                for (int l = 0; l < 32; l += N) {
                    IntVector q = Vec.u8(w, blk + 16 + 32 * c, l);
                    Vec.i2f(q.and(0x0F)).mul(dl0).sub(ml0).intoArray(dst, o + 64 * c + l);
                    Vec.i2f(q.lanewise(VectorOperators.LSHR, 4)).mul(dl1).sub(ml1).intoArray(dst, o + 64 * c + 32 + l);
                }
            }
        }
    }
}
