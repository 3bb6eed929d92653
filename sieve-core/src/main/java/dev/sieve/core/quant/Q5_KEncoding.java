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

    @Override public boolean canQuantize() { return true; }
    @Override public java.util.Optional<BlockGrid> grid() { return java.util.Optional.of(EncodingGrids.Q5_K); }

    /**
     * ggml's {@code quantize_row_q5_K_ref} (no importance matrix): as Q4_K's, with 5-bit levels:
     * each sub-block of 32 by {@code make_qkx2_quants(32, 31, …, −0.5, 0.1, 15)}, scales and mins
     * to 6 bits against the block's largest, levels recomputed against the stored scales.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        int[] L = new int[QK];
        float[] weights = new float[32];
        float[] mins = new float[8];
        float[] scales = new float[8];
        int[] ls = new int[8];
        int[] lm = new int[8];
        for (int b = 0; b < n / QK; b++) {
            int x = srcOffset + b * QK;
            long o = dstOffset + (long) b * BLOCK_BYTES;
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < 8; j++) {
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) {
                    sumX2 += src[x + 32 * j + l] * src[x + 32 * j + l];
                }
                float avX = QuantMath.sqrtf(sumX2 / 32);
                for (int l = 0; l < 32; l++) {
                    weights[l] = avX + Math.abs(src[x + 32 * j + l]);
                }
                scales[j] = QuantMath.makeQkx2Quants(32, 31, src, x + 32 * j, weights, L, 32 * j,
                        mins, j, -0.5f, 0.1f, 15, false);
                maxScale = Math.max(maxScale, scales[j]);
                maxMin = Math.max(maxMin, mins[j]);
            }
            float invScale = maxScale > 0 ? 63f / maxScale : 0f;
            float invMin = maxMin > 0 ? 63f / maxMin : 0f;
            for (int j = 0; j < 8; j++) {
                ls[j] = Math.min(63, QuantMath.nearestInt(invScale * scales[j]) & 0xFF);
                lm[j] = Math.min(63, QuantMath.nearestInt(invMin * mins[j]) & 0xFF);
            }
            QuantMath.packScalesK4(ls, lm, dst, o + SCALES);
            Half.putF16(dst, o, maxScale / 63f);
            Half.putF16(dst, o + DMIN, maxMin / 63f);
            float dStored = Half.f16(dst, o);
            float minStored = Half.f16(dst, o + DMIN);
            for (int j = 0; j < 8; j++) {
                float d = dStored * QuantMath.scaleK4(dst, o + SCALES, j);
                if (d == 0) {
                    continue; // ggml keeps make_qkx2_quants' levels here
                }
                float dm = minStored * QuantMath.minK4(dst, o + SCALES, j);
                for (int i = 0; i < 32; i++) {
                    int l = QuantMath.nearestInt((src[x + 32 * j + i] + dm) / d);
                    L[32 * j + i] = Math.max(0, Math.min(31, l));
                }
            }
            putLevels(L, dst, o);
        }
    }

    /** Packs 256 levels (0..31) into qs (low nibbles) and qh (fifth bits), in ggml's order. */
    static void putLevels(int[] L, MemorySegment dst, long o) {
        byte[] qh = new byte[32];
        byte[] qs = new byte[128];
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                int l1 = L[64 * c + l];
                int l2 = L[64 * c + 32 + l];
                qh[l] |= (byte) (((l1 >>> 4) << (2 * c)) | ((l2 >>> 4) << (2 * c + 1)));
                qs[32 * c + l] = (byte) ((l1 & 0xF) | ((l2 & 0xF) << 4));
            }
        }
        MemorySegment.copy(MemorySegment.ofArray(qh), 0, dst, o + QH, 32);
        MemorySegment.copy(MemorySegment.ofArray(qs), 0, dst, o + QS, 128);
    }

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
