package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/** 32-bit IEEE floats, one value per "block". */
public final class F32Encoding implements WeightEncoding {
    public static final F32Encoding INSTANCE = new F32Encoding();

    private F32Encoding() {}

    @Override public String name() { return "F32"; }
    @Override public int ggmlType() { return 0; }
    @Override public int blockSize() { return 1; }
    @Override public int blockBytes() { return 4; }
    @Override public boolean canQuantize() { return true; }
    @Override public WeightEncoding activationEncoding() { return this; }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOffset + i] = src.get(Half.FLOAT_LE, srcOffset + 4L * i);
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        for (int i = 0; i < n; i++) {
            dst.set(Half.FLOAT_LE, dstOffset + 4L * i, src[srcOffset + i]);
        }
    }

    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int i = 0; i < n; i++) {
            sum += w.get(Half.FLOAT_LE, wOffset + 4L * i) * a.get(Half.FLOAT_LE, aOffset + 4L * i);
        }
        return sum;
    }
}
