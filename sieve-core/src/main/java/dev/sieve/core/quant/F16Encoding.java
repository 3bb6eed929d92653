package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/** IEEE half precision; like ggml, its dot product rounds the activations to half as well. */
public final class F16Encoding implements WeightEncoding {
    public static final F16Encoding INSTANCE = new F16Encoding();

    private F16Encoding() {}

    @Override public String name() { return "F16"; }
    @Override public int ggmlType() { return 1; }
    @Override public int blockSize() { return 1; }
    @Override public int blockBytes() { return 2; }
    @Override public boolean canQuantize() { return true; }
    @Override public WeightEncoding activationEncoding() { return this; }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOffset + i] = Half.f16(src, srcOffset + 2L * i);
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        for (int i = 0; i < n; i++) {
            Half.putF16(dst, dstOffset + 2L * i, src[srcOffset + i]);
        }
    }

    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += (double) Half.f16(w, wOffset + 2L * i) * Half.f16(a, aOffset + 2L * i);
        }
        return (float) sum;
    }
}
