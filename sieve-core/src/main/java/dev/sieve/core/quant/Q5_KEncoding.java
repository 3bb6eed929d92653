package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/**
 * Q5_K: super-blocks of 256 in 8 sub-blocks of 32. Layout (176 bytes): {@code d} (f16),
 * {@code dmin} (f16), {@code scales[12]} (packed as in Q4_K), {@code qh[32]}, {@code qs[128]}.
 * Weight e = 64c + 32k + l (l &lt; 32): low 4 bits are nibble k of {@code qs[32c + l]}, the fifth
 * bit is bit 2c + k of {@code qh[l]}; value = d·sc·q − dmin·m with sc, m those of sub-block e/32
 * and q in [0, 31]. Activations Q8_K.
 */
public final class Q5_KEncoding implements WeightEncoding {
    public static final Q5_KEncoding INSTANCE = new Q5_KEncoding();
    public static final int QK = 256;
    public static final int BLOCK_BYTES = 2 + 2 + 12 + QK / 8 + QK / 2;
    private static final int DMIN = 2;
    private static final int SCALES = 4;
    private static final int QH = 16;
    private static final int QS = 48;

    private Q5_KEncoding() {}

    @Override public String name() { return "Q5_K"; }
    @Override public int ggmlType() { return 13; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public WeightEncoding activationEncoding() { return Q8_KEncoding.INSTANCE; }

    /** The 5-bit level of weight e (0..255) of the block at {@code o}. */
    private static int level(MemorySegment s, long o, int e) {
        int c = e / 64;
        int k = (e % 64) / 32;
        int l = e % 32;
        int low = (Half.u8(s, o + QS + 32 * c + l) >>> (4 * k)) & 0xF;
        int high = (Half.u8(s, o + QH + l) >>> (2 * c + k)) & 1;
        return low | (high << 4);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(src, o);
            float min = Half.f16(src, o + DMIN);
            for (int g = 0; g < 8; g++) {
                float dl = d * QuantMath.scaleK4(src, o + SCALES, g);
                float ml = min * QuantMath.minK4(src, o + SCALES, g);
                for (int i = 0; i < 32; i++) {
                    int e = 32 * g + i;
                    dst[dstOffset + b * QK + e] = dl * level(src, o, e) - ml;
                }
            }
        }
    }

    /** ggml's {@code vec_dot_q5_K_q8_K}: d·Σ sc_g·(Σ q·a) − dmin·Σ m_g·(bsums of g) per block. */
    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            long wo = wOffset + (long) b * BLOCK_BYTES;
            long ao = aOffset + (long) b * Q8_KEncoding.BLOCK_BYTES;
            int isum = 0;
            int summs = 0;
            for (int g = 0; g < 8; g++) {
                int s = 0;
                for (int i = 0; i < 32; i++) {
                    int e = 32 * g + i;
                    s += level(w, wo, e) * Q8_KEncoding.q(a, ao, e);
                }
                isum += QuantMath.scaleK4(w, wo + SCALES, g) * s;
                summs += QuantMath.minK4(w, wo + SCALES, g)
                        * (Q8_KEncoding.bsum(a, ao, 2 * g) + Q8_KEncoding.bsum(a, ao, 2 * g + 1));
            }
            float ad = Q8_KEncoding.d(a, ao);
            sum += (Half.f16(w, wo) * ad) * isum - (Half.f16(w, wo + DMIN) * ad) * summs;
        }
        return sum;
    }
}
