package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * One way of storing weights: its block layout, its reference codecs, its dot product, and the
 * encoding its activations are quantized to for that dot product (ggml's {@code vec_dot_type}).
 *
 * <p>A weight row of {@code n} values is {@code n / blockSize()} consecutive blocks of {@code
 * blockBytes()} bytes. Everything here is the plain scalar reference: the fast kernels in {@code
 * dev.sieve.kernel.panama} are tested against it. Nothing outside {@code core.quant} and the
 * kernels looks at which encoding a tensor has.
 */
public interface WeightEncoding {

    /** The ggml/GGUF name, e.g. {@code Q4_0}. */
    String name();

    /** The GGUF tensor type id ({@code ggml_type}); Sieve's own encodings use ids from 1024 up. */
    int ggmlType();

    /** Weights per block. */
    int blockSize();

    /** Bytes per block. */
    int blockBytes();

    /** Bytes taken by {@code n} weights; {@code n} must be a whole number of blocks. */
    default long byteSize(long n) {
        if (n % blockSize() != 0) {
            throw new IllegalArgumentException(
                    name() + " needs a multiple of " + blockSize() + " values, got " + n);
        }
        return n / blockSize() * blockBytes();
    }

    /** Bits per weight of the stored form. */
    /**
     * Bytes of {@code data}, a {@code rows × cols} matrix in this encoding, that hold its weights: what a
     * product reads. All of {@link #byteSize} but for a layout sized with room to spare.
     */
    default long heldBytes(MemorySegment data, int rows, int cols) {
        return byteSize((long) rows * cols);
    }

    default double bitsPerWeight() {
        return blockBytes() * 8.0 / blockSize();
    }

    /** Decodes {@code n} values (whole blocks) starting at byte {@code srcOffset}. Reference. */
    void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n);

    /** Fraction of the weights that are stored: 1 for dense encodings, less for sparse ones. */
    default double density() {
        return 1.0;
    }

    /**
     * Zeroes, in place, the values of {@code x[off .. off + n)} (whole blocks) that this encoding
     * cannot store, smallest magnitudes first, so that {@link #quantize} accepts the result. Dense
     * encodings store everything and leave {@code x} as it is.
     */
    default void prune(float[] x, int off, int n) {}

    /** Whether {@link #quantize} is implemented for this encoding. */
    default boolean canQuantize() {
        return false;
    }

    /** Encodes {@code n} values (whole blocks) into {@code dst} at byte {@code dstOffset}. Reference. */
    default void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        throw new UnsupportedOperationException("quantizing to " + name() + " is not supported");
    }

    /**
     * The fit/round/encode grid of this encoding, for quantizers that place weights on it
     * themselves (GPTQ, AWQ); empty where the encoding offers none.
     */
    default Optional<BlockGrid> grid() {
        return Optional.empty();
    }

    /**
     * The encoding the activations take for {@link #dotQuantized}: Q8_0 for the 32-blocks, Q8_K
     * for the K-quants, F32 where the dot product runs on floats.
     */
    WeightEncoding activationEncoding();

    /**
     * Dot product of {@code n} weights at {@code wOffset} with {@code n} activations already
     * encoded in {@link #activationEncoding()} at {@code aOffset}. Reference; the result is what
     * ggml's {@code vec_dot} computes up to float rounding order.
     */
    float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n);

    /**
     * Whether {@link #repack} can rewrite {@code from}'s blocks in this encoding without changing a
     * value (a layout made for a kernel, such as {@link Q4_KRepackedEncoding} from Q4_K).
     */
    default boolean repacks(WeightEncoding from) {
        return false;
    }

    /** Rewrites {@code n} values in {@code from} at {@code src[srcOffset..]} in this encoding at {@code dst[dstOffset..]}, losslessly. */
    default void repack(WeightEncoding from, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long n) {
        throw new UnsupportedOperationException(name() + " is not a layout of " + from.name());
    }

    /**
     * Rows stored together: 1 for every file encoding (row r at {@code r · rowBytes}); 16 for a
     * layout that interleaves 16 rows for a kernel ({@link SlicedIndexedEncoding}), whose rows are
     * read through {@link #dequantizeRow} and {@link #dotRow} and whose matrices have a multiple of
     * 16 rows.
     */
    default int rowGroup() {
        return 1;
    }

    /** Decodes row {@code row} ({@code cols} values) of a matrix stored at {@code m} with rows of {@code rowBytes}. Reference. */
    default void dequantizeRow(MemorySegment m, long rowBytes, int row, float[] dst, int off, int cols) {
        dequantize(m, row * rowBytes, dst, off, cols);
    }

    /** {@link #dotQuantized} of row {@code row} of a matrix stored at {@code w} with rows of {@code rowBytes}. Reference. */
    default float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        return dotQuantized(w, row * rowBytes, a, aOffset, cols);
    }

    /**
     * Rewrites a {@code rows × cols} matrix in {@code from} at {@code src} in this encoding at {@code
     * dst}, losslessly ({@link #repack} over all of it, unless this layout groups rows).
     */
    default void repackMatrix(WeightEncoding from, MemorySegment src, MemorySegment dst, int rows, int cols) {
        repack(from, src, 0, dst, 0, (long) rows * cols);
    }

    /** Dot product of {@code n} weights with float activations. Reference: decode, then multiply. */
    default float dot(MemorySegment w, long wOffset, float[] x, int xOffset, int n) {
        float[] tmp = new float[blockSize()];
        double sum = 0;
        int bs = blockSize();
        for (int b = 0; b < n / bs; b++) {
            dequantize(w, wOffset + (long) b * blockBytes(), tmp, 0, bs);
            float s = 0;
            for (int i = 0; i < bs; i++) {
                s += tmp[i] * x[xOffset + b * bs + i];
            }
            sum += s;
        }
        return (float) sum;
    }
}
