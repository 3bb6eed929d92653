package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/**
 * Q2_K: super-blocks of 256 in 16 sub-blocks of 16. Layout (84 bytes): {@code scales[16]} (low
 * nibble: 4-bit scale, high nibble: 4-bit min of sub-block j), {@code qs[64]} (2-bit levels),
 * {@code d} (f16), {@code dmin} (f16). Weight e = 128h + 32j + l (l &lt; 32) is bits 2j..2j+1 of
 * {@code qs[32h + l]}; value = d·sc·q − dmin·m with sc, m those of sub-block e/16. Activations Q8_K.
 */
public final class Q2_KEncoding implements WeightEncoding {
    public static final Q2_KEncoding INSTANCE = new Q2_KEncoding();
    public static final int QK = 256;
    public static final int BLOCK_BYTES = 16 + QK / 4 + 2 + 2;
    private static final int QS = 16;
    private static final int D = 80;
    private static final int DMIN = 82;

    private Q2_KEncoding() {}

    @Override public String name() { return "Q2_K"; }
    @Override public int ggmlType() { return 10; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public WeightEncoding activationEncoding() { return Q8_KEncoding.INSTANCE; }

    /** The 2-bit level of weight e (0..255) of the block at {@code o}. */
    private static int level(MemorySegment s, long o, int e) {
        int h = e / 128;
        int j = (e % 128) / 32;
        int l = e % 32;
        return (Half.u8(s, o + QS + 32 * h + l) >>> (2 * j)) & 3;
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(src, o + D);
            float min = Half.f16(src, o + DMIN);
            for (int g = 0; g < 16; g++) {
                int sc = Half.u8(src, o + g);
                float dl = d * (sc & 0xF);
                float ml = min * (sc >>> 4);
                for (int i = 0; i < 16; i++) {
                    int e = 16 * g + i;
                    dst[dstOffset + b * QK + e] = dl * level(src, o, e) - ml;
                }
            }
        }
    }

    /** ggml's {@code vec_dot_q2_K_q8_K}: d·Σ sc_g·(Σ q·a) − dmin·Σ m_g·bsum_g per block. */
    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            long wo = wOffset + (long) b * BLOCK_BYTES;
            long ao = aOffset + (long) b * Q8_KEncoding.BLOCK_BYTES;
            int isum = 0;
            int summs = 0;
            for (int g = 0; g < 16; g++) {
                int sc = Half.u8(w, wo + g);
                int s = 0;
                for (int i = 0; i < 16; i++) {
                    int e = 16 * g + i;
                    s += level(w, wo, e) * Q8_KEncoding.q(a, ao, e);
                }
                isum += (sc & 0xF) * s;
                summs += (sc >>> 4) * Q8_KEncoding.bsum(a, ao, g);
            }
            float ad = Q8_KEncoding.d(a, ao);
            float dall = ad * Half.f16(w, wo + D);
            float dmin = ad * Half.f16(w, wo + DMIN);
            sum += dall * isum - dmin * summs;
        }
        return sum;
    }
}
