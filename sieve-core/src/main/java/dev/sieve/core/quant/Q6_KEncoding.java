package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q6_K: super-blocks of 256 in 16 sub-blocks of 16. Layout (210 bytes): {@code ql[128]},
 * {@code qh[64]}, {@code scales[16]} (int8), {@code d} (f16). Weight e = 128h + 32j + l (l &lt; 32):
 * low 4 bits are nibble j/2 of {@code ql[64h + 32(j%2) + l]}, high 2 bits are bits 2j..2j+1 of
 * {@code qh[32h + l]}; value = d·sc·(q − 32) with sc the scale of sub-block e/16. Activations Q8_K.
 */
public final class Q6_KEncoding implements WeightEncoding {
    public static final Q6_KEncoding INSTANCE = new Q6_KEncoding();
    public static final int QK = 256;
    public static final int BLOCK_BYTES = QK / 2 + QK / 4 + QK / 16 + 2;
    private static final int QH = 128;
    private static final int SCALES = 192;
    private static final int D = 208;

    private Q6_KEncoding() {}

    @Override public String name() { return "Q6_K"; }
    @Override public int ggmlType() { return 14; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public boolean canQuantize() { return true; }
    @Override public java.util.Optional<BlockGrid> grid() { return java.util.Optional.of(EncodingGrids.Q6_K); }
    @Override public WeightEncoding activationEncoding() { return Q8_KEncoding.INSTANCE; }

    /** The signed 6-bit level (−32..31) of weight e of the block at {@code o}. */
    private static int level(MemorySegment s, long o, int e) {
        int h = e / 128;
        int j = (e % 128) / 32;
        int l = e % 32;
        int low = (Half.u8(s, o + 64 * h + 32 * (j % 2) + l) >>> (4 * (j / 2))) & 0xF;
        int high = (Half.u8(s, o + QH + 32 * h + l) >>> (2 * j)) & 3;
        return (low | (high << 4)) - 32;
    }

    /**
     * The signed levels (−32..31) of the block at {@code in[o..]}, in weight order, into {@code dst[0..256)}:
     * {@link #level} for every weight, a half and a lane at a time (ggml's dequantization order), for
     * converting whole matrices at load.
     */
    static void levels(byte[] in, int o, byte[] dst) {
        for (int h = 0; h < 2; h++) {
            for (int l = 0; l < 32; l++) {
                int q0 = in[o + 64 * h + l] & 0xFF, q1 = in[o + 64 * h + 32 + l] & 0xFF, hi = in[o + QH + 32 * h + l] & 0xFF;
                dst[128 * h + l] = (byte) (((q0 & 0xF) | (hi & 3) << 4) - 32);
                dst[128 * h + 32 + l] = (byte) (((q1 & 0xF) | (hi >> 2 & 3) << 4) - 32);
                dst[128 * h + 64 + l] = (byte) (((q0 >> 4) | (hi >> 4 & 3) << 4) - 32);
                dst[128 * h + 96 + l] = (byte) (((q1 >> 4) | (hi >> 6 & 3) << 4) - 32);
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(src, o + D);
            for (int g = 0; g < 16; g++) {
                float dl = d * Half.i8(src, o + SCALES + g);
                for (int i = 0; i < 16; i++) {
                    int e = 16 * g + i;
                    dst[dstOffset + b * QK + e] = dl * level(src, o, e);
                }
            }
        }
    }

    /**
     * ggml's {@code quantize_row_q6_K_ref} (no importance matrix): each sub-block of 16 is fitted by
     * {@code make_qx_quants} (x²-weighted), the 16 scales go to int8 against the largest, and the
     * levels are recomputed against the stored scales.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        int[] L = new int[QK];
        float[] scales = new float[16];
        for (int b = 0; b < n / QK; b++) {
            int x = srcOffset + b * QK;
            long o = dstOffset + (long) b * BLOCK_BYTES;
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int g = 0; g < 16; g++) {
                scales[g] = QuantMath.makeQxQuants(16, 32, src, x + 16 * g, L, 16 * g, 1);
                float abs = Math.abs(scales[g]);
                if (abs > maxAbsScale) {
                    maxAbsScale = abs;
                    maxScale = scales[g];
                }
            }
            if (maxAbsScale < QuantMath.GROUP_MAX_EPS) {
                dst.asSlice(o, BLOCK_BYTES).fill((byte) 0);
                continue;
            }
            float iscale = -128f / maxScale;
            Half.putF16(dst, o + D, 1 / iscale);
            for (int g = 0; g < 16; g++) {
                int sc = Math.min(127, QuantMath.nearestInt(iscale * scales[g]));
                dst.set(ValueLayout.JAVA_BYTE, o + SCALES + g, (byte) sc);
            }
            float dStored = Half.f16(dst, o + D);
            for (int g = 0; g < 16; g++) {
                float d = dStored * Half.i8(dst, o + SCALES + g);
                if (d == 0) {
                    continue; // ggml keeps make_qx_quants' levels here
                }
                for (int i = 0; i < 16; i++) {
                    int l = QuantMath.nearestInt(src[x + 16 * g + i] / d);
                    L[16 * g + i] = Math.max(-32, Math.min(31, l)) + 32;
                }
            }
            for (int h = 0; h < 2; h++) {
                int base = 128 * h;
                for (int l = 0; l < 32; l++) {
                    int q1 = L[base + l];
                    int q2 = L[base + l + 32];
                    int q3 = L[base + l + 64];
                    int q4 = L[base + l + 96];
                    dst.set(ValueLayout.JAVA_BYTE, o + 64 * h + l, (byte) ((q1 & 0xF) | ((q3 & 0xF) << 4)));
                    dst.set(ValueLayout.JAVA_BYTE, o + 64 * h + 32 + l, (byte) ((q2 & 0xF) | ((q4 & 0xF) << 4)));
                    int qh = (q1 >>> 4) | ((q2 >>> 4) << 2) | ((q3 >>> 4) << 4) | ((q4 >>> 4) << 6);
                    dst.set(ValueLayout.JAVA_BYTE, o + QH + 32 * h + l, (byte) qh);
                }
            }
        }
    }

    /** ggml's {@code vec_dot_q6_K_q8_K}: d_w·d_a·Σ sc_g·(Σ (q − 32)·a) per block. */
    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            long wo = wOffset + (long) b * BLOCK_BYTES;
            long ao = aOffset + (long) b * Q8_KEncoding.BLOCK_BYTES;
            int isum = 0;
            for (int g = 0; g < 16; g++) {
                int s = 0;
                for (int i = 0; i < 16; i++) {
                    int e = 16 * g + i;
                    s += level(w, wo, e) * Q8_KEncoding.q(a, ao, e);
                }
                isum += Half.i8(w, wo + SCALES + g) * s;
            }
            sum += (Half.f16(w, wo + D) * Q8_KEncoding.d(a, ao)) * isum;
        }
        return sum;
    }
}
