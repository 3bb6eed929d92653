package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Dense-and-sparse weights (SpQR, SqueezeLLM): a low-bit dense part plus, per 64 weights, the one
 * of largest magnitude kept apart as an f16 "outlier" (1.6% of the weights). Rounding a block to 4
 * bits spends its scale on its largest value; taking it out first lets the scale fit the rest, and
 * keeps the outlier itself nearly exact. A fixed slot per block (rather than a CSR side tensor,
 * which {@code sieve compress --outliers} writes) keeps the block contract of {@link
 * WeightEncoding}: every row has the same size and a kernel decodes the outlier with its block.
 *
 * <p>Block of 64 weights ({@code Q4_0_O}: 2 · 18 + 3 bytes = 4.875 bits per weight; {@code Q8_0_O}:
 * 2 · 34 + 3 = 8.875), in this order: the two 32-weight blocks of the dense encoding (Q4_0 or
 * Q8_0) exactly as that encoding stores them, holding zero at the outlier's position; the
 * outlier's position (one byte, 0-63); its f16 value. Weight i = dense(i), plus the value where i
 * is the position. Activations are F32: the dot product runs on floats (a Q8_0 pairing, as ggml
 * gives the dense parts, measured no faster in a whole model; docs/performance.md).
 *
 * <p>Why 64 weights and one slot, not a count per 256: a kernel walks the blocks at a constant
 * stride, which lets the JIT drop the bounds checks of its loads; 256-weight blocks holding eight
 * dense blocks plus a variable count measured 1.3-1.8x slower in decode (docs/performance.md).
 */
public final class OutlierEncoding implements WeightEncoding {

    public static final int BLOCK = 64;
    private static final int ID = 2304; // after the bitmap encodings' 1280 + 4 · 256
    public static final OutlierEncoding Q4_0_O = new OutlierEncoding(Q4_0Encoding.INSTANCE, ID);
    public static final OutlierEncoding Q8_0_O = new OutlierEncoding(Q8_0Encoding.INSTANCE, ID + 1);
    private static final List<OutlierEncoding> ALL = List.of(Q4_0_O, Q8_0_O);

    private final WeightEncoding dense;
    private final int id;
    private final String name;
    private final int denseBytes;

    private OutlierEncoding(WeightEncoding dense, int id) {
        this.dense = dense;
        this.id = id;
        this.name = dense.name() + "_O";
        this.denseBytes = BLOCK / dense.blockSize() * dense.blockBytes();
    }

    /** Every dense-and-sparse encoding, for kernel registries. */
    public static List<OutlierEncoding> encodings() {
        return ALL;
    }

    static Optional<WeightEncoding> byGgmlType(int id) {
        return ALL.stream().filter(e -> e.id == id).map(WeightEncoding.class::cast).findFirst();
    }

    static Optional<WeightEncoding> byName(String name) {
        String n = name.toUpperCase(Locale.ROOT);
        return ALL.stream().filter(e -> e.name.equals(n)).map(WeightEncoding.class::cast).findFirst();
    }

    @Override public String name() { return name; }
    @Override public int ggmlType() { return id; }
    @Override public int blockSize() { return BLOCK; }
    @Override public int blockBytes() { return denseBytes + 3; }
    @Override public boolean canQuantize() { return true; }
    @Override public WeightEncoding activationEncoding() { return F32Encoding.INSTANCE; }

    /** The encoding of the dense part. */
    public WeightEncoding dense() { return dense; }
    /** Byte offset of the outlier's position in a block (its f16 value follows). */
    public int positionAt() { return denseBytes; }
    /** Byte offset of the outlier's f16 value in a block. */
    public int valueAt() { return denseBytes + 1; }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / BLOCK; b++) {
            long blk = srcOffset + (long) b * blockBytes();
            int out = dstOffset + b * BLOCK;
            dense.dequantize(src, blk, dst, out, BLOCK);
            // A position past the block (only in a corrupt file) wraps into it rather than escaping.
            dst[out + (Half.u8(src, blk + denseBytes) & (BLOCK - 1))] += Half.f16(src, blk + denseBytes + 1);
        }
    }

    /**
     * Per block, the largest magnitude (the earlier position on ties) becomes the outlier; the dense
     * part encodes the block with that position zeroed, so its scale fits the rest.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        float[] rest = new float[BLOCK];
        for (int b = 0; b < n / BLOCK; b++) {
            System.arraycopy(src, srcOffset + b * BLOCK, rest, 0, BLOCK);
            long blk = dstOffset + (long) b * blockBytes();
            int at = 0;
            for (int i = 1; i < BLOCK; i++) {
                if (Math.abs(rest[i]) > Math.abs(rest[at])) {
                    at = i;
                }
            }
            dst.set(ValueLayout.JAVA_BYTE, blk + denseBytes, (byte) at);
            Half.putF16(dst, blk + denseBytes + 1, rest[at]);
            rest[at] = 0f;
            dense.quantize(rest, 0, dst, blk, BLOCK);
        }
    }

    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float[] tmp = new float[BLOCK];
        float sum = 0;
        for (int b = 0; b < n / BLOCK; b++) {
            dequantize(w, wOffset + (long) b * blockBytes(), tmp, 0, BLOCK);
            for (int i = 0; i < BLOCK; i++) {
                sum += tmp[i] * a.get(Half.FLOAT_LE, aOffset + 4L * (b * BLOCK + i));
            }
        }
        return sum;
    }
}
