package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A layout that interleaves every 16 consecutive rows of a matrix stored in another encoding (its
 * {@link #source}), with the same bytes, so that a 512-bit kernel multiplies 16 rows at once, one
 * row per vector lane. Made at load by {@link #repackMatrix} (in memory only, never written to a
 * file); a tensor's size is unchanged. A slice holds, for each block (32 columns; Q4_K_R16's 256),
 * the 16 rows' f16 scales ({@code d[16]}, row l's at 2·l) and the rest of the 16 rows' blocks,
 * interleaved and placed as each subclass says. Rows are not contiguous: they are read
 * through {@link #dequantizeRow} and {@link #dotRow}; the sequence methods, which cannot know the
 * row length, refuse.
 */
public abstract sealed class SlicedEncoding implements WeightEncoding permits SlicedIndexedEncoding, SlicedNMEncoding, SlicedBitmapEncoding, SlicedTileIndexedEncoding, Q4_0SlicedEncoding, Q8_0SlicedEncoding, Q4_KSlicedEncoding, Q6_KSlicedEncoding {
    public static final int ROWS = 16;
    /** Bytes of a slice block's scales. */
    public static final int SCALES = 2 * ROWS;

    private final WeightEncoding source;

    SlicedEncoding(WeightEncoding source) {
        if (source.blockSize() % 32 != 0) {
            throw new IllegalArgumentException("a sliced layout holds blocks of 32-column multiples, not " + source.name() + "'s");
        }
        this.source = source;
    }

    /** The row layout this one interleaves. */
    public WeightEncoding source() {
        return source;
    }

    @Override public int blockSize() { return source.blockSize(); }
    @Override public int blockBytes() { return source.blockBytes(); }
    @Override public double density() { return source.density(); }
    @Override public int rowGroup() { return ROWS; }
    @Override public boolean repacks(WeightEncoding from) { return from == source; }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        throw new UnsupportedOperationException(name() + " interleaves 16 rows: decode a row with dequantizeRow");
    }

    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int count) {
        throw new UnsupportedOperationException(name() + " interleaves 16 rows: multiply a row with dotRow");
    }

    /** Byte offset of the slice holding {@code row}. */
    public static long sliceOffset(long rowBytes, int row) {
        return (long) (row / ROWS) * ROWS * rowBytes;
    }

    /** Bytes of one block of a whole slice (16 rows' blocks). */
    public final long sliceBlockBytes() {
        return (long) ROWS * blockBytes();
    }

    @Override
    public void dequantizeRow(MemorySegment m, long rowBytes, int row, float[] dst, int off, int cols) {
        dequantizeBlocks(m, sliceOffset(rowBytes, row), cols / blockSize(), row % ROWS, 0, cols / blockSize(), dst, off);
    }

    /**
     * Decodes 32-column blocks {@code [block0, block0 + blocks)} of lane (row in its slice) {@code l}
     * of the slice at {@code sliceBase}, whose rows hold {@code rowBlocks} blocks, into {@code
     * dst[off..]}: {@link #dequantizeRow} over part of a row, for kernels that decode rows a piece at
     * a time.
     */
    public abstract void dequantizeBlocks(MemorySegment m, long sliceBase, int rowBlocks, int l, int block0, int blocks,
            float[] dst, int off);

    /**
     * Interleaves one slice: the 16 rows' {@code blocks} blocks in the row layout at {@code
     * in[l·rowBytes..]} into {@code out} (16 rows of this layout's bytes, which may be more than the
     * source's) as this layout orders them (the scales by {@link #copyScales}).
     */
    abstract void interleaveSlice(byte[] in, int rowBytes, byte[] out, int blocks);

    /** Block j's 16 f16 scales (each row layout block starts with its scale) to {@code out[bo..bo + 32)}. */
    final void copyScales(byte[] in, int rowBytes, byte[] out, int j, int bo) {
        int bb = source.blockBytes();
        for (int l = 0; l < ROWS; l++) {
            out[bo + 2 * l] = in[l * rowBytes + j * bb];
            out[bo + 2 * l + 1] = in[l * rowBytes + j * bb + 1];
        }
    }

    /** Throws unless {@code rows × cols} in {@code from} can be interleaved: whole 16-row slices of whole blocks of {@link #source}. */
    final void checkShape(WeightEncoding from, int rows, int cols) {
        if (!repacks(from) || rows % ROWS != 0 || cols % blockSize() != 0) {
            throw new IllegalArgumentException(name() + " is made from " + source.name() + " matrices of whole 16-row slices"
                    + " and 32-column blocks, not " + rows + " x " + cols + " " + from.name());
        }
    }

    /**
     * Interleaves every 16 rows of {@code src} (the row layout of {@link #source}, or of another
     * encoding this layout {@link #repacks}, rewritten to the source's rows first); rows must be a
     * multiple of 16.
     */
    @Override
    public void repackMatrix(WeightEncoding from, MemorySegment src, MemorySegment dst, int rows, int cols) {
        checkShape(from, rows, cols);
        int rb = Math.toIntExact(source.byteSize(cols)), sliceBytes = ROWS * Math.toIntExact(byteSize(cols));
        int fromRb = Math.toIntExact(from.byteSize(cols));
        // A slice at a time through heap arrays: one bulk copy in and out instead of a checked
        // segment access per byte (a 1.1B model's relayout: ~0.5 s that way).
        byte[] in = new byte[ROWS * fromRb], rowsIn = from == source ? in : new byte[ROWS * rb], out = new byte[sliceBytes];
        for (int r0 = 0; r0 < rows; r0 += ROWS) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, (long) r0 * fromRb, in, 0, in.length);
            if (from != source) {
                sourceRows(from, in, fromRb, rowsIn, rb, cols / blockSize());
            }
            interleaveSlice(rowsIn, rb, out, cols / blockSize());
            MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, (long) r0 / ROWS * sliceBytes, sliceBytes);
        }
    }

    /**
     * For a layout that also {@link #repacks} an encoding other than its source: 16 rows of {@code
     * blocks} blocks in {@code from} ({@code in[l·inRowBytes..]}) rewritten as the source's rows
     * ({@code out[l·rowBytes..]}).
     */
    void sourceRows(WeightEncoding from, byte[] in, int inRowBytes, byte[] out, int rowBytes, int blocks) {
        throw new IllegalArgumentException(name() + " is made from " + source.name() + ", not " + from.name());
    }

    @Override
    public String toString() {
        return name();
    }
}
