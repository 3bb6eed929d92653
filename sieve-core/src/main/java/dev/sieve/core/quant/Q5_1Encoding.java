package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q5_1: blocks of 32, {@code d} (f16), {@code m} (f16), {@code qh} (4 bytes, little-endian uint32:
 * bit j is the fifth bit of weight j), then 16 bytes of low nibbles (byte j: weight j low,
 * weight j + 16 high); value = q · d + m with q in [0, 31]. Activations are Q8_1, as in ggml.
 */
public final class Q5_1Encoding implements WeightEncoding {
    public static final Q5_1Encoding INSTANCE = new Q5_1Encoding();
    public static final int QK = 32;
    public static final int BLOCK_BYTES = 4 + 4 + QK / 2;

    private Q5_1Encoding() {}

    @Override public String name() { return "Q5_1"; }
    @Override public int ggmlType() { return 7; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public boolean canQuantize() { return true; }
    @Override public WeightEncoding activationEncoding() { return Q8_1Encoding.INSTANCE; }

    /** The 5-bit level q of weight j (0..31) of the block at {@code o}. */
    private static int level(MemorySegment s, long o, int qh, int j) {
        int half = j < QK / 2 ? 0 : 1;
        int nib = (Half.u8(s, o + 8 + j - half * QK / 2) >>> (4 * half)) & 0x0F;
        return nib | (((qh >>> j) & 1) << 4);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(src, o);
            float m = Half.f16(src, o + 2);
            int qh = src.get(Half.INT_LE, o + 4);
            for (int j = 0; j < QK; j++) {
                dst[dstOffset + b * QK + j] = level(src, o, qh, j) * d + m;
            }
        }
    }

    /** ggml's {@code quantize_row_q5_1_ref}: min and max of the block span the 32 levels. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            int base = srcOffset + b * QK;
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < QK; j++) {
                float v = src[base + j];
                if (v < min) {
                    min = v;
                }
                if (v > max) {
                    max = v;
                }
            }
            float d = (max - min) / 31;
            float id = d != 0 ? 1f / d : 0f;
            long o = dstOffset + (long) b * BLOCK_BYTES;
            Half.putF16(dst, o, d);
            Half.putF16(dst, o + 2, min);
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                // ggml stores these into a uint8_t without clamping; they are at most 31 here.
                int x0 = ((int) ((src[base + j] - min) * id + 0.5f)) & 0xFF;
                int x1 = ((int) ((src[base + j + QK / 2] - min) * id + 0.5f)) & 0xFF;
                dst.set(ValueLayout.JAVA_BYTE, o + 8 + j, (byte) ((x0 & 0x0F) | ((x1 & 0x0F) << 4)));
                qh |= ((x0 >>> 4) & 1) << j;
                qh |= ((x1 >>> 4) & 1) << (j + QK / 2);
            }
            dst.set(Half.INT_LE, o + 4, qh);
        }
    }

    /** ggml's {@code vec_dot_q5_1_q8_1}: d_w·d_a·Σ q_w·q_a + m_w·s_a per block. */
    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            long wo = wOffset + (long) b * BLOCK_BYTES;
            long ao = aOffset + (long) b * Q8_1Encoding.BLOCK_BYTES;
            int qh = w.get(Half.INT_LE, wo + 4);
            int s = 0;
            for (int j = 0; j < QK; j++) {
                s += level(w, wo, qh, j) * Half.i8(a, ao + 4 + j);
            }
            sum += (Half.f16(w, wo) * Half.f16(a, ao)) * s + Half.f16(w, wo + 2) * Half.f16(a, ao + 2);
        }
        return sum;
    }
}
