package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q6_KEncoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q6_K weights (ggml {@code block_q6_K}, 210 bytes per 256: ql[128] low nibbles, qh[64] high bit
 * pairs, int8 scales[16], f16 d). In each half h, weight 128h + 32j + l takes nibble j/2 of
 * ql[64h + 32(j%2) + l] and bits 2j..2j+1 of qh[32h + l]; value = d·sc·(q − 32) per 16-weight
 * sub-block. Decode uses a fused two-row {@link #dot2} (decoding through the tile ran at a tenth of
 * Q4_K's speed); prompts decode into the tile.
 */
final class Q6_KKernel extends FloatPathKernel {
    private static final int QK = 256;
    private static final long BB = Q6_KEncoding.BLOCK_BYTES;

    Q6_KKernel() {
        super(Q6_KEncoding.INSTANCE);
    }

    private static void put(IntVector q, float dl, float[] dst, int at) {
        Vec.i2f(q.sub(32)).mul(dl).intoArray(dst, at);
    }

    /**
     * Per 16-weight sub-block the scale multiplies the decoded vector before the FMA; d is applied
     * once per block; the activations are shared by both rows. One loop over the 16 sub-blocks
     * (byte offsets and shifts variables) rather than unrolled quarters keeps the method under
     * C2's inlining node limit, above which every vector is boxed.
     */
    @Override
    void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols, float[] res) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s0 = zero, s1 = zero;
        int nb = cols / QK;
        for (int b = 0; b < nb; b++) {
            long bo = BB * b;
            FloatVector p0 = zero, p1 = zero;
            // The 16 int8 scales as two longs per row: four loads instead of 32 checked byte reads.
            long c00 = w.get(Vec.LONG_LE, o0 + bo + 192), c01 = w.get(Vec.LONG_LE, o0 + bo + 200);
            long c10 = w.get(Vec.LONG_LE, o1 + bo + 192), c11 = w.get(Vec.LONG_LE, o1 + bo + 200);
            // Sub-block g: half h = g/8, quarter j = (g/2)%4, l from 16·(g%2).
            for (int g = 0; g < 16; g++) {
                int h = g >> 3, j = (g >> 1) & 3, l0 = 16 * (g & 1);
                long ql = bo + 64 * h + 32 * (j & 1), qh = bo + 128 + 32 * h;
                int nsh = 4 * (j >> 1), hsh = 2 * j;
                long xo = aOff + 4L * (QK * b + 128 * h + 32 * j);
                int si = 8 * ((g & 1) + 2 * j);
                // Σ c·(q − 32)·x = c·(Σ q·x − 32·Σx): Σx is shared by both rows.
                FloatVector xs = zero, u0 = zero, u1 = zero;
                for (int l = l0; l < l0 + 16; l += N) {
                    FloatVector x = Vec.f32(a, xo + 4L * l);
                    xs = xs.add(x);
                    IntVector q = Vec.u8(w, o0 + ql, l).lanewise(VectorOperators.LSHR, nsh).and(0xF)
                            .or(Vec.u8(w, o0 + qh, l).lanewise(VectorOperators.LSHL, 4).lanewise(VectorOperators.LSHR, hsh).and(0x30));
                    u0 = Vec.i2f(q).fma(x, u0);
                    q = Vec.u8(w, o1 + ql, l).lanewise(VectorOperators.LSHR, nsh).and(0xF)
                            .or(Vec.u8(w, o1 + qh, l).lanewise(VectorOperators.LSHL, 4).lanewise(VectorOperators.LSHR, hsh).and(0x30));
                    u1 = Vec.i2f(q).fma(x, u1);
                }
                xs = xs.mul(-32f);
                p0 = u0.add(xs).fma(FloatVector.broadcast(F, (byte) ((h == 0 ? c00 : c01) >>> si)), p0);
                p1 = u1.add(xs).fma(FloatVector.broadcast(F, (byte) ((h == 0 ? c10 : c11) >>> si)), p1);
            }
            s0 = p0.fma(FloatVector.broadcast(F, Half.f16(w, o0 + bo + 208)), s0);
            s1 = p1.fma(FloatVector.broadcast(F, Half.f16(w, o1 + bo + 208)), s1);
        }
        res[0] = s0.reduceLanes(VectorOperators.ADD);
        res[1] = s1.reduceLanes(VectorOperators.ADD);
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        int b0 = k0 / QK;
        for (int b = 0; b < kc / QK; b++) {
            long blk = rowOff + BB * (b0 + b);
            float d = Half.f16(w, blk + 208);
            for (int h = 0; h < 2; h++) {
                long ql = blk + 64 * h, qh = blk + 128 + 32 * h, sc = blk + 192 + 8 * h;
                int o = dstOff + b * QK + 128 * h;
                for (int l = 0; l < 32; l += N) { // N divides 16, so a chunk has one scale
                    int is = l / 16;
                    IntVector a = Vec.u8(w, ql, l), c = Vec.u8(w, ql + 32, l), hi = Vec.u8(w, qh, l);
                    put(a.and(0xF).or(hi.and(3).lanewise(VectorOperators.LSHL, 4)),
                            d * Half.i8(w, sc + is), dst, o + l);
                    put(c.and(0xF).or(hi.lanewise(VectorOperators.LSHR, 2).and(3).lanewise(VectorOperators.LSHL, 4)),
                            d * Half.i8(w, sc + is + 2), dst, o + 32 + l);
                    put(a.lanewise(VectorOperators.LSHR, 4).or(hi.lanewise(VectorOperators.LSHR, 4).and(3).lanewise(VectorOperators.LSHL, 4)),
                            d * Half.i8(w, sc + is + 4), dst, o + 64 + l);
                    put(c.lanewise(VectorOperators.LSHR, 4).or(hi.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)),
                            d * Half.i8(w, sc + is + 6), dst, o + 96 + l);
                }
            }
        }
    }
}
