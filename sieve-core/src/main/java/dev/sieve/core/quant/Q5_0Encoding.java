package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q5_0: blocks of 32, {@code d} (f16), {@code qh} (4 bytes, little-endian uint32: bit j is the
 * fifth bit of weight j), then 16 bytes of low nibbles (byte j: weight j low, weight j + 16 high);
 * value = d · (q − 16) with q in [0, 31]. Activations are Q8_0.
 */
public final class Q5_0Encoding implements WeightEncoding {
    public static final Q5_0Encoding INSTANCE = new Q5_0Encoding();
    public static final int QK = 32;
    public static final int BLOCK_BYTES = 2 + 4 + QK / 2;

    private Q5_0Encoding() {}

    @Override public String name() { return "Q5_0"; }
    @Override public int ggmlType() { return 6; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public boolean canQuantize() { return true; }
    @Override public WeightEncoding activationEncoding() { return Q8_0Encoding.INSTANCE; }

    /** The 5-bit level q of weight j (0..31) of the block at {@code o}. */
    static int level(MemorySegment s, long o, int qh, int j) {
        int half = j < QK / 2 ? 0 : 1;
        int nib = (Half.u8(s, o + 6 + j - half * QK / 2) >>> (4 * half)) & 0x0F;
        return nib | (((qh >>> j) & 1) << 4);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(src, o);
            int qh = src.get(Half.INT_LE, o + 2);
            for (int j = 0; j < QK; j++) {
                dst[dstOffset + b * QK + j] = (level(src, o, qh, j) - 16) * d;
            }
        }
    }

    /** ggml's {@code quantize_row_q5_0_ref}: the value of largest magnitude maps to level 0 (−16). */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            int base = srcOffset + b * QK;
            float amax = 0;
            float max = 0;
            for (int j = 0; j < QK; j++) {
                float v = src[base + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -16;
            float id = d != 0 ? 1f / d : 0f;
            long o = dstOffset + (long) b * BLOCK_BYTES;
            Half.putF16(dst, o, d);
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                int x0 = Math.min(31, (int) (src[base + j] * id + 16.5f));
                int x1 = Math.min(31, (int) (src[base + j + QK / 2] * id + 16.5f));
                dst.set(ValueLayout.JAVA_BYTE, o + 6 + j, (byte) ((x0 & 0x0F) | ((x1 & 0x0F) << 4)));
                qh |= ((x0 >>> 4) & 1) << j;
                qh |= ((x1 >>> 4) & 1) << (j + QK / 2);
            }
            dst.set(Half.INT_LE, o + 2, qh);
        }
    }

    /** ggml's {@code vec_dot_q5_0_q8_0}: d_w·d_a·Σ (q_w − 16)·q_a per block. */
    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            long wo = wOffset + (long) b * BLOCK_BYTES;
            long ao = aOffset + (long) b * Q8_0Encoding.BLOCK_BYTES;
            int qh = w.get(Half.INT_LE, wo + 2);
            int s = 0;
            for (int j = 0; j < QK; j++) {
                s += (level(w, wo, qh, j) - 16) * Half.i8(a, ao + 2 + j);
            }
            sum += (Half.f16(w, wo) * Half.f16(a, ao)) * s;
        }
        return sum;
    }
}
