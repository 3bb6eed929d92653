package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_1: blocks of 32, {@code d} (f16), {@code m} (f16), then 16 bytes of nibbles; value = q · d + m
 * with q in [0, 15]. Byte j holds weight j (low nibble) and weight j + 16 (high nibble).
 * Activations are Q8_1, as in ggml: its {@code s} = d·Σq supplies the min term.
 */
public final class Q4_1Encoding implements WeightEncoding {
    public static final Q4_1Encoding INSTANCE = new Q4_1Encoding();
    public static final int QK = 32;
    public static final int BLOCK_BYTES = 4 + QK / 2;

    private Q4_1Encoding() {}

    @Override public String name() { return "Q4_1"; }
    @Override public int ggmlType() { return 3; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public boolean canQuantize() { return true; }
    @Override public java.util.Optional<BlockGrid> grid() { return java.util.Optional.of(EncodingGrids.Q4_1); }
    @Override public WeightEncoding activationEncoding() { return Q8_1Encoding.INSTANCE; }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(src, o);
            float m = Half.f16(src, o + 2);
            int out = dstOffset + b * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = Half.u8(src, o + 4 + j);
                dst[out + j] = (q & 0x0F) * d + m;
                dst[out + j + QK / 2] = (q >>> 4) * d + m;
            }
        }
    }

    /** ggml's {@code quantize_row_q4_1_ref}: min and max of the block span the 16 levels. */
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
            float d = (max - min) / 15;
            float id = d != 0 ? 1f / d : 0f;
            long o = dstOffset + (long) b * BLOCK_BYTES;
            Half.putF16(dst, o, d);
            Half.putF16(dst, o + 2, min);
            for (int j = 0; j < QK / 2; j++) {
                int x0 = Math.min(15, (int) ((src[base + j] - min) * id + 0.5f));
                int x1 = Math.min(15, (int) ((src[base + j + QK / 2] - min) * id + 0.5f));
                dst.set(ValueLayout.JAVA_BYTE, o + 4 + j, (byte) (x0 | (x1 << 4)));
            }
        }
    }

    /** ggml's {@code vec_dot_q4_1_q8_1}: d_w·d_a·Σ q_w·q_a + m_w·s_a per block. */
    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            long wo = wOffset + (long) b * BLOCK_BYTES;
            long ao = aOffset + (long) b * Q8_1Encoding.BLOCK_BYTES;
            int s = 0;
            for (int j = 0; j < QK / 2; j++) {
                int q = Half.u8(w, wo + 4 + j);
                s += (q & 0x0F) * Half.i8(a, ao + 4 + j);
                s += (q >>> 4) * Half.i8(a, ao + 4 + j + QK / 2);
            }
            sum += (Half.f16(w, wo) * Half.f16(a, ao)) * s + Half.f16(w, wo + 2) * Half.f16(a, ao + 2);
        }
        return sum;
    }
}
