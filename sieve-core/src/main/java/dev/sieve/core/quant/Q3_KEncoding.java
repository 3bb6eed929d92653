package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;

/**
 * Q3_K: super-blocks of 256 in 16 sub-blocks of 16. Layout (110 bytes): {@code hmask[32]},
 * {@code qs[64]}, {@code scales[12]}, {@code d} (f16). Weight e = 128h + 32j + l (l &lt; 32): low 2
 * bits are bits 2j..2j+1 of {@code qs[32h + l]}; bit 4h + j of {@code hmask[l]} set means +0,
 * clear means −4, so q is in [−4, 3]. The 6-bit scale of sub-block g: low 4 bits from nibble g%8
 * of {@code scales[g%8]} (low nibble for g &lt; 8, high otherwise), high 2 bits from bits
 * 2(g/4)..2(g/4)+1 of {@code scales[8 + g%4]}; value = d·(sc − 32)·q. Activations Q8_K.
 */
public final class Q3_KEncoding implements WeightEncoding {
    public static final Q3_KEncoding INSTANCE = new Q3_KEncoding();
    public static final int QK = 256;
    public static final int BLOCK_BYTES = QK / 8 + QK / 4 + 12 + 2;
    private static final int QS = 32;
    private static final int SCALES = 96;
    private static final int D = 108;

    private Q3_KEncoding() {}

    @Override public String name() { return "Q3_K"; }
    @Override public int ggmlType() { return 11; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public WeightEncoding activationEncoding() { return Q8_KEncoding.INSTANCE; }
    @Override public boolean canQuantize() { return true; }
    @Override public Optional<BlockGrid> grid() { return Optional.of(EncodingGrids.Q3_K); }

    /**
     * ggml's {@code quantize_row_q3_K_ref} (no importance matrix): each sub-block of 16 is fitted by
     * {@code make_q3_quants} (x²-weighted, refined), the 16 scales go to 6 bits against the one of
     * largest magnitude (d = −max/32), and the levels are recomputed against the stored scales.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        int[] L = new int[QK];
        float[] scales = new float[16];
        int[] ls = new int[16];
        for (int b = 0; b < n / QK; b++) {
            int x = srcOffset + b * QK;
            long o = dstOffset + (long) b * BLOCK_BYTES;
            float maxScale = 0;
            float amax = 0;
            for (int g = 0; g < 16; g++) {
                scales[g] = QuantMath.makeQ3Quants(16, 4, src, x + 16 * g, L, 16 * g);
                float abs = Math.abs(scales[g]);
                if (abs > amax) {
                    amax = abs;
                    maxScale = scales[g];
                }
            }
            if (maxScale != 0) {
                float iscale = -32f / maxScale;
                for (int g = 0; g < 16; g++) {
                    ls[g] = Math.max(-32, Math.min(31, QuantMath.nearestInt(iscale * scales[g]))) + 32;
                }
                Half.putF16(dst, o + D, 1 / iscale);
            } else {
                java.util.Arrays.fill(ls, 0);
                Half.putF16(dst, o + D, 0f);
            }
            putScales(ls, dst, o);
            float dStored = Half.f16(dst, o + D);
            for (int g = 0; g < 16; g++) {
                float d = dStored * (ls[g] - 32);
                if (d == 0) {
                    continue; // ggml keeps make_q3_quants' levels here
                }
                for (int i = 0; i < 16; i++) {
                    int l = QuantMath.nearestInt(src[x + 16 * g + i] / d);
                    L[16 * g + i] = Math.max(-4, Math.min(3, l)) + 4;
                }
            }
            putLevels(L, dst, o);
        }
    }

    /** Packs sixteen 6-bit scales (0..63, i.e. sc + 32) into the 12 scale bytes. */
    static void putScales(int[] ls, MemorySegment dst, long o) {
        byte[] s = new byte[12];
        for (int g = 0; g < 16; g++) {
            int l = ls[g];
            if (g < 8) {
                s[g] = (byte) (l & 0xF);
            } else {
                s[g - 8] |= (byte) ((l & 0xF) << 4);
            }
            s[8 + g % 4] |= (byte) ((l >>> 4) << (2 * (g / 4)));
        }
        MemorySegment.copy(MemorySegment.ofArray(s), 0, dst, o + SCALES, 12);
    }

    /** Packs 256 levels (0..7, i.e. q + 4) into hmask and qs, in ggml's order. */
    static void putLevels(int[] L, MemorySegment dst, long o) {
        byte[] hmask = new byte[32];
        byte[] qs = new byte[64];
        for (int e = 0; e < QK; e++) {
            // ggml: the high bit of weight e goes to bit e/32 of hmask[e%32].
            if (L[e] > 3) {
                hmask[e % 32] |= (byte) (1 << (e / 32));
            }
        }
        for (int h = 0; h < 2; h++) {
            for (int l = 0; l < 32; l++) {
                int e = 128 * h + l;
                qs[32 * h + l] = (byte) ((L[e] & 3) | ((L[e + 32] & 3) << 2) | ((L[e + 64] & 3) << 4)
                        | ((L[e + 96] & 3) << 6));
            }
        }
        MemorySegment.copy(MemorySegment.ofArray(hmask), 0, dst, o, 32);
        MemorySegment.copy(MemorySegment.ofArray(qs), 0, dst, o + QS, 64);
    }

    /** The signed 6-bit scale of sub-block g, already minus 32. */
    private static int scale(MemorySegment s, long o, int g) {
        int lo = g < 8 ? Half.u8(s, o + SCALES + g) & 0xF : Half.u8(s, o + SCALES + g - 8) >>> 4;
        int hi = (Half.u8(s, o + SCALES + 8 + g % 4) >>> (2 * (g / 4))) & 3;
        return (lo | (hi << 4)) - 32;
    }

    /** The signed 3-bit level (−4..3) of weight e of the block at {@code o}. */
    private static int level(MemorySegment s, long o, int e) {
        int h = e / 128;
        int j = (e % 128) / 32;
        int l = e % 32;
        int low = (Half.u8(s, o + QS + 32 * h + l) >>> (2 * j)) & 3;
        boolean high = (Half.u8(s, o + l) & (1 << (4 * h + j))) != 0;
        return low - (high ? 0 : 4);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float dAll = Half.f16(src, o + D);
            for (int g = 0; g < 16; g++) {
                float dl = dAll * scale(src, o, g);
                for (int i = 0; i < 16; i++) {
                    int e = 16 * g + i;
                    dst[dstOffset + b * QK + e] = dl * level(src, o, e);
                }
            }
        }
    }

    /**
     * ggml's {@code vec_dot_q3_K_q8_K}: d_w·d_a·Σ (sc_g − 32)·(Σ q·a) per block. Each block's levels
     * are unpacked once (the sums are exact integers, so the order does not change the result).
     */
    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        int[] q = new int[QK];
        for (int b = 0; b < n / QK; b++) {
            long wo = wOffset + (long) b * BLOCK_BYTES;
            long ao = aOffset + (long) b * Q8_KEncoding.BLOCK_BYTES;
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int qs = Half.u8(w, wo + QS + 32 * h + l);
                    int hm = Half.u8(w, wo + l);
                    for (int j = 0; j < 4; j++) {
                        int low = (qs >>> (2 * j)) & 3;
                        q[128 * h + 32 * j + l] = low - ((hm & (1 << (4 * h + j))) != 0 ? 0 : 4);
                    }
                }
            }
            int isum = 0;
            for (int g = 0; g < 16; g++) {
                int s = 0;
                for (int i = 0; i < 16; i++) {
                    int e = 16 * g + i;
                    s += q[e] * Q8_KEncoding.q(a, ao, e);
                }
                isum += scale(w, wo, g) * s;
            }
            sum += (Half.f16(w, wo + D) * Q8_KEncoding.d(a, ao)) * isum;
        }
        return sum;
    }
}
