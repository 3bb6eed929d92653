package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Q4_KKernel.scaleMin;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q5_KEncoding;
import java.lang.foreign.MemorySegment;

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

    @Override
    void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols, float[] res) {
        Q4_KKernel.dot2(w, o0, o1, a, aOff, cols, res, BB, QS, QH);
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
                    Vec.i2f(Q4_KKernel.levels(w, blk, QS, QH, j, l)).mul(dl).sub(ml).intoArray(dst, o + 32 * j + l);
                }
            }
        }
    }
}
