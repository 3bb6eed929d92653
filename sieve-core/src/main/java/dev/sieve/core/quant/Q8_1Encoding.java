package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q8_1: blocks of 32, {@code d} (f16), {@code s} (f16) = d · Σq, then 32 signed bytes; value = d · q.
 * The activation encoding of Q4_1 and Q5_1: {@code s} lets their min term be added without
 * touching the quants. ggml has no Q8_1 × Q8_1 dot; here it is the plain integer dot.
 */
public final class Q8_1Encoding implements WeightEncoding {
    public static final Q8_1Encoding INSTANCE = new Q8_1Encoding();
    public static final int QK = 32;
    public static final int BLOCK_BYTES = 4 + QK;

    private Q8_1Encoding() {}

    @Override public String name() { return "Q8_1"; }
    @Override public int ggmlType() { return 9; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public boolean canQuantize() { return true; }
    @Override public WeightEncoding activationEncoding() { return this; }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(src, o);
            for (int j = 0; j < QK; j++) {
                dst[dstOffset + b * QK + j] = Half.i8(src, o + 4 + j) * d;
            }
        }
    }

    /** ggml's {@code quantize_row_q8_1_ref}. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            int base = srcOffset + b * QK;
            float amax = 0;
            for (int j = 0; j < QK; j++) {
                amax = Math.max(amax, Math.abs(src[base + j]));
            }
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            long o = dstOffset + (long) b * BLOCK_BYTES;
            int sum = 0;
            for (int j = 0; j < QK; j++) {
                int q = QuantMath.roundAway(src[base + j] * id);
                dst.set(ValueLayout.JAVA_BYTE, o + 4 + j, (byte) q);
                sum += q;
            }
            Half.putF16(dst, o, d);
            Half.putF16(dst, o + 2, sum * d);
        }
    }

    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            long wo = wOffset + (long) b * BLOCK_BYTES;
            long ao = aOffset + (long) b * BLOCK_BYTES;
            int s = 0;
            for (int j = 0; j < QK; j++) {
                s += Half.i8(w, wo + 4 + j) * Half.i8(a, ao + 4 + j);
            }
            sum += s * (Half.f16(w, wo) * Half.f16(a, ao));
        }
        return sum;
    }
}
