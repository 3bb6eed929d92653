package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q8_K: blocks of 256, {@code d} (f32), 256 signed bytes {@code qs}, then 16 int16 {@code bsums}
 * (the sum of each group of 16 quants); value = d · q. 292 bytes. The activation encoding of the
 * K-quants: {@code bsums} lets their per-sub-block min terms skip the quants.
 */
public final class Q8_KEncoding implements WeightEncoding {
    public static final Q8_KEncoding INSTANCE = new Q8_KEncoding();
    public static final int QK = 256;
    public static final int BLOCK_BYTES = 4 + QK + QK / 16 * 2;
    /** Byte offsets inside a block. */
    public static final int QS = 4;
    public static final int BSUMS = 4 + QK;

    private Q8_KEncoding() {}

    @Override public String name() { return "Q8_K"; }
    @Override public int ggmlType() { return 15; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public boolean canQuantize() { return true; }
    @Override public WeightEncoding activationEncoding() { return this; }

    static float d(MemorySegment s, long blockOffset) {
        return s.get(Half.FLOAT_LE, blockOffset);
    }

    static int q(MemorySegment s, long blockOffset, int i) {
        return Half.i8(s, blockOffset + QS + i);
    }

    static int bsum(MemorySegment s, long blockOffset, int g) {
        return s.get(Half.SHORT_LE, blockOffset + BSUMS + 2L * g);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = d(src, o);
            for (int j = 0; j < QK; j++) {
                dst[dstOffset + b * QK + j] = d * q(src, o, j);
            }
        }
    }

    /**
     * ggml's {@code quantize_row_q8_K_ref}: the value of largest magnitude maps to −127 (so the
     * levels stay within ±127). An all-zero block gets d = 0 and zero bsums.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            int base = srcOffset + b * QK;
            long o = dstOffset + (long) b * BLOCK_BYTES;
            float max = 0;
            float amax = 0;
            for (int j = 0; j < QK; j++) {
                float ax = Math.abs(src[base + j]);
                if (ax > amax) {
                    amax = ax;
                    max = src[base + j];
                }
            }
            if (amax == 0) {
                dst.asSlice(o, BLOCK_BYTES).fill((byte) 0);
                continue;
            }
            float iscale = -127f / max;
            int[] qs = new int[QK];
            for (int j = 0; j < QK; j++) {
                qs[j] = Math.min(127, QuantMath.nearestInt(iscale * src[base + j]));
                dst.set(ValueLayout.JAVA_BYTE, o + QS + j, (byte) qs[j]);
            }
            for (int g = 0; g < QK / 16; g++) {
                int sum = 0;
                for (int i = 0; i < 16; i++) {
                    sum += qs[16 * g + i];
                }
                dst.set(Half.SHORT_LE, o + BSUMS + 2L * g, (short) sum);
            }
            dst.set(Half.FLOAT_LE, o, 1 / iscale);
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
                s += q(w, wo, j) * q(a, ao, j);
            }
            sum += (d(w, wo) * d(a, ao)) * s;
        }
        return sum;
    }
}
