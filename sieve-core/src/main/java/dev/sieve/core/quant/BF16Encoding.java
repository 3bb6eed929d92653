package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/** bfloat16: the upper 16 bits of an IEEE float (8-bit exponent, 7-bit mantissa). */
public final class BF16Encoding implements WeightEncoding {
    public static final BF16Encoding INSTANCE = new BF16Encoding();

    private BF16Encoding() {}

    @Override public String name() { return "BF16"; }
    @Override public int ggmlType() { return 30; }
    @Override public int blockSize() { return 1; }
    @Override public int blockBytes() { return 2; }
    @Override public boolean canQuantize() { return true; }
    @Override public WeightEncoding activationEncoding() { return this; }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOffset + i] = Half.bf16(src, srcOffset + 2L * i);
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        for (int i = 0; i < n; i++) {
            dst.set(Half.SHORT_LE, dstOffset + 2L * i, Half.toBf16(src[srcOffset + i]));
        }
    }

    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += (double) Half.bf16(w, wOffset + 2L * i) * Half.bf16(a, aOffset + 2L * i);
        }
        return (float) sum;
    }
}
