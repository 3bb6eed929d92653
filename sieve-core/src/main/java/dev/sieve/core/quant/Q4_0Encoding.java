package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_0: blocks of 32 weights, {@code d} (f16) then 16 bytes of nibbles; value = d · (q − 8).
 * Byte j holds weight j in its low nibble and weight j + 16 in its high nibble.
 */
public final class Q4_0Encoding implements WeightEncoding {
    public static final Q4_0Encoding INSTANCE = new Q4_0Encoding();
    public static final int QK = 32;
    public static final int BLOCK_BYTES = 2 + QK / 2;

    private Q4_0Encoding() {}

    @Override public String name() { return "Q4_0"; }
    @Override public int ggmlType() { return 2; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public boolean canQuantize() { return true; }
    @Override public java.util.Optional<BlockGrid> grid() { return java.util.Optional.of(EncodingGrids.Q4_0); }
    @Override public WeightEncoding activationEncoding() { return Q8_0Encoding.INSTANCE; }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(src, o);
            int out = dstOffset + b * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = Half.u8(src, o + 2 + j);
                dst[out + j] = ((q & 0x0F) - 8) * d;
                dst[out + j + QK / 2] = ((q >>> 4) - 8) * d;
            }
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            int base = srcOffset + b * QK;
            // The value of largest magnitude, with its sign, maps to -8 (ggml's choice).
            float amax = 0, max = 0;
            for (int j = 0; j < QK; j++) {
                float v = src[base + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            long o = dstOffset + (long) b * BLOCK_BYTES;
            Half.putF16(dst, o, d);
            for (int j = 0; j < QK / 2; j++) {
                int x0 = Math.min(15, (int) (src[base + j] * id + 8.5f));
                int x1 = Math.min(15, (int) (src[base + j + QK / 2] * id + 8.5f));
                dst.set(ValueLayout.JAVA_BYTE, o + 2 + j, (byte) (x0 | (x1 << 4)));
            }
        }
    }

    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            long wo = wOffset + (long) b * BLOCK_BYTES;
            long ao = aOffset + (long) b * Q8_0Encoding.BLOCK_BYTES;
            int s = 0;
            for (int j = 0; j < QK / 2; j++) {
                int q = Half.u8(w, wo + 2 + j);
                s += ((q & 0x0F) - 8) * Half.i8(a, ao + 2 + j);
                s += ((q >>> 4) - 8) * Half.i8(a, ao + 2 + j + QK / 2);
            }
            sum += s * (Half.f16(w, wo) * Half.f16(a, ao));
        }
        return sum;
    }
}
