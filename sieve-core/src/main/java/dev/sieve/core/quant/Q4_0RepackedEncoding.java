package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_0_R: Q4_0's values in a layout the 16-bit integer decode kernel reads without widening
 * (Sieve's own; made from Q4_0 at load by {@link #repack}, losslessly). Per 64 weights (two Q4_0
 * blocks A and B), 40 bytes:
 *
 * <pre>
 *   dA     f32      block A's f16 scale, widened
 *   dB     f32      block B's
 *   qA[16]          block A's nibbles exactly as Q4_0 stores them: byte j = weight j (low), j + 16 (high)
 *   qB[16]          block B's (weights 32 + …)
 * </pre>
 *
 * value = d·(q − 8), exactly Q4_0's. Why: a Q4_0 block is 18 bytes, so a 32-byte vector load of
 * its nibbles straddles a scale; here both blocks' 32 nibble bytes are one load (16 lanes of four
 * nibbles each, no cross-lane widening), and their two scales one 8-byte load with no f16
 * conversion. Four more bytes per 64 weights (5 bits per weight against 4.5). Activations: Q8_0.
 */
public final class Q4_0RepackedEncoding extends RepackedEncoding {
    public static final Q4_0RepackedEncoding INSTANCE = new Q4_0RepackedEncoding();
    public static final int QK = 64;
    public static final int BLOCK_BYTES = 4 + 4 + QK / 2;
    /** Where the nibbles start in a block. */
    public static final int QS = 8;
    /** Sieve's id, after Q4_K_R's 2306. */
    private static final int ID = 2307;
    private static final int HALF = Q4_0Encoding.QK;

    private Q4_0RepackedEncoding() {
        super(Q4_0Encoding.INSTANCE);
    }

    @Override public String name() { return "Q4_0_R"; }
    @Override public int ggmlType() { return ID; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public WeightEncoding activationEncoding() { return Q8_0Encoding.INSTANCE; }

    /** The 4-bit level of weight e (0..63) of the block at {@code o}. */
    private static int level(MemorySegment s, long o, int e) {
        int h = e / HALF, i = e % HALF;
        return (Half.u8(s, o + QS + 16L * h + i % 16) >>> (4 * (i / 16))) & 0xF;
    }

    private static float scale(MemorySegment s, long o, int h) {
        return s.get(Half.FLOAT_LE, o + 4L * h);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            for (int e = 0; e < QK; e++) {
                dst[dstOffset + b * QK + e] = (level(src, o, e) - 8) * scale(src, o, e / HALF);
            }
        }
    }

    /**
     * Rewrites {@code 2 · blocks} Q4_0 blocks at {@code src[srcOffset..]} as {@code blocks} Q4_0_R
     * blocks at {@code dst[dstOffset..]}: the same values, bit for bit (an f16 widens to f32 exactly).
     */
    @Override
    void repackBlocks(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long blocks) {
        long qb = Q4_0Encoding.BLOCK_BYTES;
        for (long b = 0; b < blocks; b++) {
            long s = srcOffset + 2 * qb * b, o = dstOffset + b * BLOCK_BYTES;
            for (int h = 0; h < 2; h++) {
                long sh = s + qb * h;
                dst.set(Half.FLOAT_LE, o + 4L * h, Half.f16(src, sh));
                dst.set(Half.LONG_LE, o + QS + 16L * h, src.get(Half.LONG_LE, sh + 2));
                dst.set(Half.LONG_LE, o + QS + 16L * h + 8, src.get(Half.LONG_LE, sh + 10));
            }
        }
    }

    /** Against Q8_0 activations (one 32-block per half): Q4_0's integer dot per half, scaled by dA·a_d. */
    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / HALF; b++) {
            long wo = wOffset + (long) (b / 2) * BLOCK_BYTES;
            long ao = aOffset + (long) b * Q8_0Encoding.BLOCK_BYTES;
            int s = 0;
            for (int i = 0; i < HALF; i++) {
                s += (level(w, wo, 32 * (b % 2) + i) - 8) * a.get(ValueLayout.JAVA_BYTE, ao + 2 + i);
            }
            sum += s * (scale(w, wo, b % 2) * Half.f16(a, ao));
        }
        return sum;
    }
}
