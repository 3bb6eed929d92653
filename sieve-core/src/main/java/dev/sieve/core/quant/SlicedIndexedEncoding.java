package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * An {@link IndexedSparseEncoding}'s values, bit for bit, with every 16 consecutive rows
 * interleaved (in memory only: made at load by {@link #repackMatrix}, never written to a file). A
 * 512-bit kernel then multiplies 16 rows at once, one row per lane: stored pair k of a block, for
 * all 16 rows, is one 16-byte load of indices that permute the block's 16 + 16 activations (held
 * in two registers) and one or two 16-byte loads of values. Per 16-row slice and 32-column block:
 * <pre>
 *   d[16]          f16   row l's scale at 2·l
 *   for k &lt; N:     Q8: idx[16] u8 (row l at l), a[16] int8, b[16] int8
 *                  Q4: (idx, v)[16] u8 pairs (row l's at 2·l: one 16-bit lane per row, one load)
 * </pre>
 * 16 · (2 + 3N) bytes (Q8) or 16 · (2 + 2N) (Q4): the 16 rows' bytes of the row layout, so a
 * tensor's size is unchanged. Rows are not contiguous: they are read through {@link
 * #dequantizeRow} and {@link #dotRow}; the sequence methods, which cannot know the row length, refuse.
 */
public final class SlicedIndexedEncoding implements WeightEncoding {
    public static final int ROWS = 16;
    /** Bytes of a slice block's scales. */
    public static final int SCALES = 2 * ROWS;
    private static final int ID = 2352; // after the indexed encodings' 2320 + 2 · 16
    /** One per indexed encoding, in {@link IndexedSparseEncoding#encodings()}'s order (Q8 n = 1..16, then Q4). */
    private static final SlicedIndexedEncoding[] ALL =
            IndexedSparseEncoding.encodings().stream().map(SlicedIndexedEncoding::new).toArray(SlicedIndexedEncoding[]::new);

    private final IndexedSparseEncoding source;
    private final boolean q8;
    private final int n;
    /** Bytes of one stored pair for all 16 rows. */
    private final int step;

    private SlicedIndexedEncoding(IndexedSparseEncoding source) {
        this.source = source;
        this.q8 = source.values() == SparseEncoding.Values.Q8;
        this.n = source.perGroup();
        this.step = q8 ? 3 * ROWS : 2 * ROWS;
    }

    /** The sliced layout of {@code e}. */
    public static SlicedIndexedEncoding of(IndexedSparseEncoding e) {
        return ALL[(e.values() == SparseEncoding.Values.Q8 ? 0 : IndexedSparseEncoding.MAX_N) + e.perGroup() - 1];
    }

    public IndexedSparseEncoding source() {
        return source;
    }

    /** Bytes of one stored pair k for the 16 rows: indices, then values. */
    public int stepBytes() {
        return step;
    }

    @Override public String name() { return source.name() + "_R"; }
    @Override public int ggmlType() { return ID + (q8 ? 0 : IndexedSparseEncoding.MAX_N) + n - 1; }
    @Override public int blockSize() { return IndexedSparseEncoding.QK; }
    @Override public int blockBytes() { return source.blockBytes(); }
    @Override public double density() { return source.density(); }
    @Override public int rowGroup() { return ROWS; }
    @Override public WeightEncoding activationEncoding() { return F32Encoding.INSTANCE; }
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

    @Override
    public void dequantizeRow(MemorySegment m, long rowBytes, int row, float[] dst, int off, int cols) {
        dequantizeBlocks(m, sliceOffset(rowBytes, row), row % ROWS, 0, cols / IndexedSparseEncoding.QK, dst, off);
    }

    /**
     * Decodes 32-column blocks {@code [block0, block0 + blocks)} of lane (row in its slice) {@code l}
     * of the slice at {@code sliceBase} into {@code dst[off..]}: {@link #dequantizeRow} over part of a
     * row, for kernels that decode rows a piece at a time.
     */
    public void dequantizeBlocks(MemorySegment m, long sliceBase, int l, int block0, int blocks, float[] dst, int off) {
        long sb = (long) ROWS * blockBytes();
        for (int j = 0; j < blocks; j++) {
            long bo = sliceBase + (block0 + j) * sb;
            int out = off + j * IndexedSparseEncoding.QK;
            java.util.Arrays.fill(dst, out, out + IndexedSparseEncoding.QK, 0f);
            float d = Half.f16(m, bo + 2L * l);
            for (int k = 0; k < n; k++) {
                long s = bo + SCALES + (long) k * step;
                int idx = Half.u8(m, s + idxAt(l));
                dst[out + (idx & 15)] += d * levelA(m, s, l);
                dst[out + IndexedSparseEncoding.GROUP + (idx >>> 4)] += d * levelB(m, s, l);
            }
        }
    }

    @Override
    public float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        long base = sliceOffset(rowBytes, row);
        int l = row % ROWS;
        long sb = (long) ROWS * blockBytes();
        float sum = 0;
        for (int j = 0; j < cols / IndexedSparseEncoding.QK; j++) {
            long bo = base + j * sb;
            long x = aOffset + 4L * IndexedSparseEncoding.QK * j;
            float s = 0;
            for (int k = 0; k < n; k++) {
                long st = bo + SCALES + (long) k * step;
                int idx = Half.u8(w, st + idxAt(l));
                s += levelA(w, st, l) * a.get(Half.FLOAT_LE, x + 4L * (idx & 15))
                        + levelB(w, st, l) * a.get(Half.FLOAT_LE, x + 4L * (IndexedSparseEncoding.GROUP + (idx >>> 4)));
            }
            sum += s * Half.f16(w, bo + 2L * l);
        }
        return sum;
    }

    /** Byte offset, within a step, of row l's index byte. */
    private int idxAt(int l) {
        return q8 ? l : 2 * l;
    }

    private int levelA(MemorySegment m, long s, int l) {
        return q8 ? Half.i8(m, s + ROWS + l) : (Half.u8(m, s + 2 * l + 1) & 15) - 8;
    }

    private int levelB(MemorySegment m, long s, int l) {
        return q8 ? Half.i8(m, s + 2 * ROWS + l) : (Half.u8(m, s + 2 * l + 1) >>> 4) - 8;
    }

    /** Interleaves every 16 rows of {@code src} (the row layout of {@link #source}); rows must be a multiple of 16. */
    @Override
    public void repackMatrix(WeightEncoding from, MemorySegment src, MemorySegment dst, int rows, int cols) {
        if (from != source || rows % ROWS != 0 || cols % IndexedSparseEncoding.QK != 0) {
            throw new IllegalArgumentException(name() + " is made from " + source.name() + " matrices of whole 16-row slices"
                    + " and 32-column blocks, not " + rows + " x " + cols + " " + from.name());
        }
        int bb = blockBytes(), blocks = cols / IndexedSparseEncoding.QK;
        long rb = source.byteSize(cols);
        int sliceBytes = Math.toIntExact(ROWS * rb);
        int vals = q8 ? 2 : 1; // value arrays per pair
        // A slice at a time through heap arrays: one bulk copy in and out instead of a checked
        // segment access per byte (a 1.1B model's relayout: ~0.5 s that way).
        byte[] in = new byte[sliceBytes], out = new byte[sliceBytes];
        for (int r0 = 0; r0 < rows; r0 += ROWS) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, r0 * rb, in, 0, sliceBytes);
            for (int l = 0; l < ROWS; l++) {
                for (int j = 0; j < blocks; j++) {
                    int so = Math.toIntExact(l * rb) + j * bb, bo = j * ROWS * bb;
                    out[bo + 2 * l] = in[so];
                    out[bo + 2 * l + 1] = in[so + 1];
                    for (int k = 0; k < n; k++) {
                        int st = bo + SCALES + k * step;
                        out[st + idxAt(l)] = in[so + IndexedSparseEncoding.IDX + k];
                        for (int v = 0; v < vals; v++) {
                            out[st + (q8 ? ROWS * (1 + v) + l : 2 * l + 1)] = in[so + source.valuesAt() + v * n + k];
                        }
                    }
                }
            }
            MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, r0 * rb, sliceBytes);
        }
    }

    @Override
    public String toString() {
        return name();
    }
}
