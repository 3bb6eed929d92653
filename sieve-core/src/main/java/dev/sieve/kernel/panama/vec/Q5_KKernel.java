package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Q4_KKernel.bc;
import static dev.sieve.kernel.panama.vec.Q4_KKernel.packedMin;
import static dev.sieve.kernel.panama.vec.Q4_KKernel.packedScale;
import static dev.sieve.kernel.panama.vec.Q4_KKernel.scaleMin;
import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q5_KEncoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q5_K weights (ggml {@code block_q5_K}, 176 bytes per 256: f16 d, f16 dmin, 12 bytes of scales
 * and mins packed as Q4_K's, qh[32], qs[128]). Weight 32j + l (sub-block j = 2c + k) has its low
 * nibble k of qs[32c + l] and its fifth bit j of qh[l]; value = d·sc·q − dmin·m per sub-block.
 * As {@link Q4_KKernel}: a fused two-row {@link #dot2} for decode, tiles for prompts.
 */
final class Q5_KKernel extends FloatPathKernel {
    private static final int QK = 256;
    private static final long BB = Q5_KEncoding.BLOCK_BYTES;
    private static final long QH = 16;
    private static final long QS = 48;

    Q5_KKernel() {
        super(Q5_KEncoding.INSTANCE);
    }

    /** The 5-bit levels of weights 32j + l .. 32j + l + N − 1 of the block at {@code blk}. */
    private static IntVector levels(MemorySegment w, long blk, int j, int l) {
        IntVector low = Vec.u8(w, blk + QS + 32 * (j >> 1), l).lanewise(VectorOperators.LSHR, 4 * (j & 1)).and(0x0F);
        IntVector high = Vec.u8(w, blk + QH, l).lanewise(VectorOperators.LSHR, j).and(1);
        return low.or(high.lanewise(VectorOperators.LSHL, 4));
    }

    /** Per sub-block j, Σ(dl·q − ml)·x = dl·Σq·x − ml·Σx, as {@link Q4_KKernel#dot2}. */
    @Override
    void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols, float[] res) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s0 = zero, s1 = zero;
        int nb = cols / QK;
        for (int b = 0; b < nb; b++) {
            long bo = BB * b;
            float d0 = Half.f16(w, o0 + bo), m0 = -Half.f16(w, o0 + bo + 2);
            float d1 = Half.f16(w, o1 + bo), m1 = -Half.f16(w, o1 + bo + 2);
            long sl0 = w.get(Vec.LONG_LE, o0 + bo + 4), sl1 = w.get(Vec.LONG_LE, o1 + bo + 4);
            int sh0 = w.get(Half.INT_LE, o0 + bo + 12), sh1 = w.get(Half.INT_LE, o1 + bo + 12);
            for (int j = 0; j < 8; j++) {
                FloatVector xs = zero, p0 = zero, p1 = zero;
                long xo = aOff + 4L * (QK * b + 32 * j);
                for (int l = 0; l < 32; l += N) {
                    FloatVector x = Vec.f32(a, xo + 4L * l);
                    xs = xs.add(x);
                    p0 = Vec.i2f(levels(w, o0 + bo, j, l)).fma(x, p0);
                    p1 = Vec.i2f(levels(w, o1 + bo, j, l)).fma(x, p1);
                }
                s0 = p0.fma(bc(d0 * packedScale(sl0, sh0, j)), s0).add(xs.mul(m0 * packedMin(sl0, sh0, j)));
                s1 = p1.fma(bc(d1 * packedScale(sl1, sh1, j)), s1).add(xs.mul(m1 * packedMin(sl1, sh1, j)));
            }
        }
        res[0] = s0.reduceLanes(VectorOperators.ADD);
        res[1] = s1.reduceLanes(VectorOperators.ADD);
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        int b0 = k0 / QK;
        for (int b = 0; b < kc / QK; b++) {
            long blk = rowOff + BB * (b0 + b);
            float d = Half.f16(w, blk);
            float dmin = Half.f16(w, blk + 2);
            int o = dstOff + b * QK;
            for (int j = 0; j < 8; j++) {
                // As the reference: dl·q − ml, rounded the same way (no FMA).
                float dl = d * scaleMin(w, blk + 4, j, 0), ml = dmin * scaleMin(w, blk + 4, j, 4);
                for (int l = 0; l < 32; l += N) {
                    Vec.i2f(levels(w, blk, j, l)).mul(dl).sub(ml).intoArray(dst, o + 32 * j + l);
                }
            }
        }
    }
}
