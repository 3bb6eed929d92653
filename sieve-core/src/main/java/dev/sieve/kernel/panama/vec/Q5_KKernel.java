package dev.sieve.kernel.panama.vec;

import dev.sieve.core.quant.Q5_KEncoding;
import java.lang.foreign.MemorySegment;

/**
 * Q5_K weights (ggml {@code block_q5_K}, 176 bytes per 256: f16 d, f16 dmin, 12 bytes of scales
 * and mins packed as Q4_K's, qh[32], qs[128]). Weight 32j + l (sub-block j = 2c + k) has its low
 * nibble k of qs[32c + l] and its fifth bit j of qh[l]; value = d·sc·q − dmin·m per sub-block.
 * As {@link Q4_KKernel}: its one-row {@link #dot1} for decode, tiles for prompts.
 */
final class Q5_KKernel extends FloatPathKernel {
    private static final long BB = Q5_KEncoding.BLOCK_BYTES;
    private static final long QH = 16;
    private static final long QS = 48;

    Q5_KKernel() {
        super(Q5_KEncoding.INSTANCE);
    }

    @Override
    int sumsGroup() {
        return 32;
    }

    @Override
    float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long sums, float[] sf, int si,
            int cols) {
        return Q4_KKernel.dot1(w, o, xf, xi, a, aOff, sf, si, cols, BB, QS, QH);
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        Q4_KKernel.decode(w, rowOff, k0, kc, dst, dstOff, BB, QS, QH);
    }
}
