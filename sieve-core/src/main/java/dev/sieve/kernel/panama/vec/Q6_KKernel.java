package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q6_KEncoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q6_K weights (ggml {@code block_q6_K}, 210 bytes per 256: ql[128] low nibbles, qh[64] high bit
 * pairs, int8 scales[16], f16 d). In each half h, weight 128h + 32j + l takes nibble j/2 of
 * ql[64h + 32(j%2) + l] and bits 2j..2j+1 of qh[32h + l]; value = d·sc·(q − 32) per 16-weight
 * sub-block. Decoder only: decode-then-multiply serves both decode and prompts.
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
