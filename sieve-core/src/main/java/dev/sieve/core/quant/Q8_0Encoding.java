package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/**
 * Q8_0: blocks of 32 weights, {@code d} (f16) then 32 signed bytes; value = d · q.
 * Also the activation encoding of the 32-blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
 */
public final class Q8_0Encoding implements WeightEncoding {
    public static final Q8_0Encoding INSTANCE = new Q8_0Encoding();
    public static final int QK = 32;
    public static final int BLOCK_BYTES = 2 + QK;

    private Q8_0Encoding() {}

    @Override public String name() { return "Q8_0"; }
    @Override public int ggmlType() { return 8; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public boolean canQuantize() { return true; }
    @Override public java.util.Optional<BlockGrid> grid() { return java.util.Optional.of(EncodingGrids.Q8_0); }
    @Override public WeightEncoding activationEncoding() { return this; }

    /**
     * The values {@code src[srcOffset .. + n)} take once quantized and dequantized ({@link #quantize}
     * then {@link #dequantize}, bit for bit) into {@code dst[dstOffset..]}, without the bytes: for
     * kernels that multiply activations in float but must see what the reference's Q8_0 activations hold.
     */
    public void roundTrip(float[] src, int srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            int base = srcOffset + b * QK, out = dstOffset + b * QK;
            float amax = 0;
            for (int j = 0; j < QK; j++) {
                amax = Math.max(amax, Math.abs(src[base + j]));
            }
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            float stored = Float.float16ToFloat(Float.floatToFloat16(d));
            for (int j = 0; j < QK; j++) {
                dst[out + j] = stored * (byte) QuantMath.roundAway(src[base + j] * id);
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(src, o);
            for (int j = 0; j < QK; j++) {
                dst[dstOffset + b * QK + j] = d * Half.i8(src, o + 2 + j);
            }
        }
    }

    /** ggml's {@code quantize_row_q8_0_ref}; {@code roundf} rounds halves away from zero. */
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
            Half.putF16(dst, o, d);
            for (int j = 0; j < QK; j++) {
                dst.set(java.lang.foreign.ValueLayout.JAVA_BYTE, o + 2 + j, (byte) QuantMath.roundAway(src[base + j] * id));
            }
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
                s += Half.i8(w, wo + 2 + j) * Half.i8(a, ao + 2 + j);
            }
            sum += s * (Half.f16(w, wo) * Half.f16(a, ao));
        }
        return sum;
    }
}
