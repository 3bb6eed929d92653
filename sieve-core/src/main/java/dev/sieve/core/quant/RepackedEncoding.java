package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/**
 * What every repacked layout shares (Q4_K_R, Q4_0_R): another encoding's values, bit for bit, in a
 * layout a kernel reads faster, made from that encoding's blocks by {@link #repackBlocks}. Checking a
 * repack request and quantizing (the source's reference quantization, then a repack) are the same for
 * all of them; each subclass is its layout: constants, {@code dequantize}, {@code dotQuantized}, repacking.
 */
abstract class RepackedEncoding implements WeightEncoding {
    private final WeightEncoding source;

    RepackedEncoding(WeightEncoding source) {
        this.source = source;
    }

    /**
     * Rewrites {@code blocks} of this encoding's blocks' worth of the source's values, at {@code
     * src[srcOffset..]}, as this encoding's blocks at {@code dst[dstOffset..]}: the same values, bit for bit.
     */
    abstract void repackBlocks(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long blocks);

    @Override
    public final boolean canQuantize() {
        return true;
    }

    @Override
    public final boolean repacks(WeightEncoding from) {
        return from == source;
    }

    @Override
    public final void repack(WeightEncoding from, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long n) {
        if (!repacks(from) || n % blockSize() != 0) {
            throw new IllegalArgumentException(name() + " repacks whole " + blockSize() + "-value blocks of "
                    + source.name() + ", not " + n + " values of " + from.name());
        }
        repackBlocks(src, srcOffset, dst, dstOffset, n / blockSize());
    }

    /** The source's quantization (ggml's reference), then {@link #repackBlocks}, a block at a time. */
    @Override
    public final void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        int qk = blockSize();
        MemorySegment block = MemorySegment.ofArray(new byte[(int) source.byteSize(qk)]);
        for (int b = 0; b < n / qk; b++) {
            source.quantize(src, srcOffset + b * qk, block, 0, qk);
            repackBlocks(block, 0, dst, dstOffset + (long) b * blockBytes(), 1);
        }
    }
}
