package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q4_KEncoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q4_K weights (ggml {@code block_q4_K}, 144 bytes per 256: f16 d, f16 dmin, 12 bytes of packed
 * 6-bit scales and mins, 128 bytes of nibbles; byte 32c + l holds weight 64c + l in its low nibble
 * and 64c + 32 + l in its high nibble, value = d·sc·q − dmin·m per 32-weight sub-block).
 * Decoder only: decode-then-multiply serves both decode and prompts.
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

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        int b0 = k0 / QK;
        for (int b = 0; b < kc / QK; b++) {
            long blk = rowOff + BB * (b0 + b);
            float d = Half.f16(w, blk);
            float dmin = Half.f16(w, blk + 2);
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
