package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Sparse bitmap Q8 or Q4 ({@code Q8_B<c>}, {@code Q4_B<c>}) with every 16 consecutive rows interleaved
 * and each stored value beside its column within its 64-column tile ({@code Q8_B<c>_X}, {@code
 * Q4_B<c>_X}, made at load, never written to a file): a kernel's work is per stored value, where the
 * bitmap layouts' ({@link SlicedBitmapEncoding}) is per position. A step is 16 rows × 4 stored values of
 * one tile: 64 column bytes, which select the values' activation levels from the tile's 64 held in one
 * register (VPERMB), and the 64 values (Q8 bytes; Q4 levels q − 8 as signed nibbles), row l's four in
 * slots 4l..4l + 3; the four values of a row add up in one int lane, times the row's tile scale once per
 * tile. A tile takes as many steps as its fullest row needs (row l's count rounded up to four), so
 * padding is the price: at 90% sparsity (c = 26) 12 steps a block against 6.5 for the stored values
 * alone, at 70% (c = 77) 26.4 against 19.25 (random pruning). The slices are packed back to back after a
 * table of their offsets, so that the stream has no gaps and a matrix takes the memory its steps need;
 * the tensor's size ({@link #blockBytes}) is a room of {@link #steps()} steps a block on average, a
 * step more than random pruning needs ({@link #stepsFor}), and a matrix that needs more ({@link #holds}
 * says no) keeps the bitmap layout. Per matrix:
 * <pre>
 *   off[rows/16]   u64 at 8·s: slice s's byte offset (the table padded to 64 bytes)
 *   then each slice, in the order a kernel reads it (nb blocks of 256 columns):
 *     d[nb][4][16] f16 at 128·b + 32·t + 2·l: row l's scale of tile t of block b
 *     n[nb][4]     u8  at 128·nb + 4·b + t: block b's steps of tile t (then zeros to a 64-byte line)
 *     steps        right after the counts' lines, block after block, tile after tile, 128 bytes each (Q4 96):
 *       col[64]    u8  row l's values' columns within the tile at 4l..4l + 3
 *       q[64]      i8  at 64: the values, in the same places (a padding slot: column 0, value 0); Q4: 32
 *                      bytes, slot 2i in byte i's low nibble and 2i + 1 in its high one, as signed levels
 *   then the rest of the room, never read nor written (so its pages take no memory)
 * </pre>
 * The kernels' slice handles ({@link SlicedEncoding#sliceOffset}) name a slice by its place in a
 * matrix of full rooms; {@link #sliceAt} finds it. A row's set bits past the block's capacity (zeros
 * to the reference) are dropped, so every block holds the reference's weights exactly. Activations:
 * Q8_K (one scale per 256 columns, so all four tiles' levels share one), and the kernel's integer sums
 * are the reference's.
 */
public final class SlicedTileIndexedEncoding extends SlicedEncoding {
    /** Sieve's ids: 4012 + c − 1 for Q8, 4268 + c − 1 for Q4, after the 16-row bitmap layouts' 3500 + 2 · 256. */
    private static final int ID = 4012;
    private static final int BLOCK = SparseEncoding.BITMAP_BLOCK;
    private static final int TILE = 64, TILES = BLOCK / TILE;
    /** Bytes of a step's columns (16 rows' four), after which its values follow. */
    public static final int VALUES = 64;
    /**
     * Bytes of a block's 16 rows' four tile scales; and the room a block keeps for its counts and the
     * offset table (4 bytes, the slice's counts padded to a 64-byte line, and 8 a slice: the steps follow
     * the counts with no gap, which a thread streams from memory at 2.5 times the rate of a layout that
     * skipped seven lines a slice, docs/performance.md, session 40).
     */
    public static final int TILE_SCALES = 2 * ROWS * 4, COUNTS = 80;
    private static final BitmapLayouts<SlicedTileIndexedEncoding> ALL = new BitmapLayouts<>(SlicedTileIndexedEncoding::new);
    private static final ValueLayout.OfLong LONG_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private final SparseEncoding source;
    private final int capacity, steps;
    /** Q4 values (nibbles in the file), held as their levels q − 8 in nibbles, two a byte. */
    private final boolean q4;
    /** Bytes of a step: 64 columns, then 64 values (Q8: a byte each; Q4: a nibble each). */
    private final int step;

    private SlicedTileIndexedEncoding(SparseEncoding source) {
        super(source);
        this.source = source;
        this.capacity = source.capacity();
        this.q4 = source.values() == SparseEncoding.Values.Q4;
        this.step = VALUES + (q4 ? 32 : 64);
        this.steps = stepsFor(capacity);
    }

    /** Whether {@code e} can take this layout: bitmap Q8 or Q4 in its file layout, as for {@link SlicedBitmapEncoding}. */
    public static boolean slices(WeightEncoding e) {
        return SlicedBitmapEncoding.slices(e);
    }

    /** The layout of {@code e}, bitmap Q8 or Q4 ({@link #slices}). */
    public static SlicedTileIndexedEncoding of(WeightEncoding e) {
        if (!slices(e)) {
            throw new IllegalArgumentException("tile-indexed layouts hold bitmap blocks with Q8 or Q4 values, not " + e.name());
        }
        return ALL.of((SparseEncoding) e);
    }

    @Override public SparseEncoding source() { return source; }
    @Override public String name() { return source.name() + "_X"; }
    @Override public int ggmlType() { return ID + (q4 ? BLOCK : 0) + capacity - 1; }
    /** Q8_K: one activation scale per block, so a row's products over all four tiles are integers of one scale. */
    @Override public WeightEncoding activationEncoding() { return Q8_KEncoding.INSTANCE; }

    /** Bytes of a step: 128 for Q8 values, 96 for Q4. */
    public int stepBytes() {
        return step;
    }

    /** Whether the values are Q4 (nibbles), else Q8. */
    public boolean q4() {
        return q4;
    }

    /** Steps a block has room for. */
    public int steps() {
        return steps;
    }

    /** A row's share of a slice block (the slice block is 16 rows' worth). */
    @Override
    public int blockBytes() {
        return (step * steps + TILE_SCALES + COUNTS) / ROWS;
    }

    /**
     * A row's share of a slice block as held on average for randomly pruned rows ({@link #meanSteps}
     * steps, the tile scales and the counts), where {@link #blockBytes} is the room's: what a matrix of
     * this layout takes in memory, the slices being packed ({@link #heldBytes}).
     */
    public double meanBlockBytes() {
        return (step * meanSteps(capacity) + TILE_SCALES + 4) / ROWS;
    }

    /** Bytes of the slices' offset table of a matrix of {@code rows} rows. */
    static long tableBytes(int rows) {
        return (8L * (rows / ROWS) + 63) & ~63L;
    }

    /**
     * The byte offset in the matrix {@code m} of the slice a kernel names by {@code handle}, its offset
     * in a matrix of full rooms ({@link SlicedEncoding#sliceOffset} with rows of {@code rowBytes}).
     */
    public static long sliceAt(MemorySegment m, long handle, long rowBytes) {
        return m.get(LONG_LE, 8 * (handle / (ROWS * rowBytes)));
    }

    /** The table and the packed slices: up to the last slice's last step. */
    @Override
    public long heldBytes(MemorySegment data, int rows, int cols) {
        int nb = cols / BLOCK;
        long last = data.get(LONG_LE, 8L * (rows / ROWS - 1));
        return last + stepsAt(data, last, nb, nb);
    }

    /** Byte offset, from its slice's start, of block b's scales in a row of {@code nb} blocks. */
    public long scalesAt(int nb, int b) {
        return (long) TILE_SCALES * b;
    }

    /** Byte offset, from its slice's start, of block b's four step counts (one byte a tile) in a row of {@code nb} blocks. */
    public long countsAt(int nb, int b) {
        return (long) TILE_SCALES * nb + 4L * b;
    }

    /** Byte offset, from its slice's start, of the first block's first step in a row of {@code nb} blocks. */
    public long firstStep(int nb) {
        return (long) TILE_SCALES * nb + (4L * nb + 63 & ~63L);
    }

    /** Byte offset, from its slice's start, of block b's first step: the steps of the blocks before it, counted. */
    public long stepsAt(MemorySegment m, long sliceBase, int nb, int b) {
        long at = firstStep(nb);
        for (int j = 0; j < b; j++) {
            int n = m.get(ValueLayout.JAVA_INT_UNALIGNED, sliceBase + countsAt(nb, j));
            at += (long) step * ((n & 0xFF) + (n >>> 8 & 0xFF) + (n >>> 16 & 0xFF) + (n >>> 24));
        }
        return at;
    }

    /**
     * The room for a block of capacity c: a step more than a block of 16 randomly pruned rows needs on
     * average (each tile its fullest row's count over four, rounded up: its mean from the hypergeometric
     * count of a row's tile, the rows independent), rounded up. A matrix's blocks share the room, so only
     * their sum must fit: a large matrix's sum is within a fraction of a step a block of the mean. Sampled
     * (200,000 blocks): c = 26 needs 12.0 steps on average, c = 77 26.4.
     */
    static int stepsFor(int c) {
        return (int) Math.ceil(meanSteps(c) + 1);
    }

    /** The steps a block of 16 randomly pruned rows of capacity c needs on average. */
    static double meanSteps(int c) {
        double[] cdf = hypergeometricCdf(c);
        double mean = 0;
        for (int j = 1; j <= TILE / 4; j++) { // E[J] = Σ_j P(J ≥ j), J a tile's steps
            mean += TILES * (1 - Math.pow(cdf[4 * j - 4], ROWS));
        }
        return mean;
    }

    /** P(a row's tile holds at most k of the block's c stored values), k = 0..64: hypergeometric, 64 of 256. */
    private static double[] hypergeometricCdf(int c) {
        double[] cdf = new double[TILE + 1];
        double acc = 0;
        for (int k = 0; k <= TILE; k++) {
            if (k <= c && c - k <= BLOCK - TILE) {
                acc += Math.exp(logChoose(TILE, k) + logChoose(BLOCK - TILE, c - k) - logChoose(BLOCK, c));
            }
            cdf[k] = Math.min(1, acc);
        }
        return cdf;
    }

    private static double logChoose(int n, int k) {
        return LOG_FACTORIAL[n] - LOG_FACTORIAL[k] - LOG_FACTORIAL[n - k];
    }

    /** ln(n!) for n = 0..256: the rooms of all 512 layouts (made when the kernels load) in microseconds. */
    private static final double[] LOG_FACTORIAL = new double[BLOCK + 1];

    static {
        for (int n = 1; n <= BLOCK; n++) {
            LOG_FACTORIAL[n] = LOG_FACTORIAL[n - 1] + Math.log(n);
        }
    }

    /** The level of slot i (row i / 4's value i % 4) of the step at {@code p}: Q8 a byte, Q4 a signed nibble. */
    private int value(MemorySegment m, long p, int i) {
        if (!q4) {
            return Half.i8(m, p + VALUES + i);
        }
        return (byte) (Half.u8(m, p + VALUES + i / 2) << (i % 2 == 0 ? 4 : 0)) >> 4;
    }

    @Override
    public void dequantizeBlocks(MemorySegment m, long handle, int rowBlocks, int l, int block0, int blocks, float[] dst, int off) {
        long sliceBase = sliceAt(m, handle, (long) rowBlocks * blockBytes());
        long p = sliceBase + stepsAt(m, sliceBase, rowBlocks, block0);
        for (int j = 0; j < blocks; j++) {
            long so = sliceBase + scalesAt(rowBlocks, block0 + j), co = sliceBase + countsAt(rowBlocks, block0 + j);
            int out = off + j * BLOCK;
            java.util.Arrays.fill(dst, out, out + BLOCK, 0f);
            for (int t = 0; t < TILES; t++) {
                float d = Half.f16(m, so + 32L * t + 2L * l);
                for (int s = Half.u8(m, co + t); s > 0; s--, p += step) {
                    for (int k = 0; k < 4; k++) { // a padding slot adds zero to column 0
                        dst[out + TILE * t + Half.u8(m, p + 4 * l + k)] += value(m, p, 4 * l + k) * d;
                    }
                }
            }
        }
    }

    /** Against Q8_K activations: per tile the integer sum of levels times activation levels, times the tile's scale and the block's d. */
    @Override
    public float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        long base = sliceAt(w, sliceOffset(rowBytes, row), rowBytes);
        int l = row % ROWS;
        float sum = 0;
        int nb = cols / BLOCK;
        long p = base + firstStep(nb);
        for (int j = 0; j < nb; j++) {
            long so = base + scalesAt(nb, j), co = base + countsAt(nb, j), ab = aOffset + (long) Q8_KEncoding.BLOCK_BYTES * j;
            float da = a.get(Half.FLOAT_LE, ab);
            for (int t = 0; t < TILES; t++) {
                int s = 0;
                for (int n = Half.u8(w, co + t); n > 0; n--, p += step) {
                    for (int k = 0; k < 4; k++) {
                        int c = TILE * t + Half.u8(w, p + 4 * l + k);
                        s += value(w, p, 4 * l + k) * Half.i8(a, ab + Q8_KEncoding.QS + c);
                    }
                }
                sum += s * (Half.f16(w, so + 32L * t + 2L * l) * da);
            }
        }
        return sum;
    }

    /**
     * Whether the {@code rows × cols} matrix {@code src} (in {@link #source}'s layout) fits this layout's
     * room ({@link #steps} a block on average over the matrix): else the matrix keeps another layout.
     */
    public boolean holds(WeightEncoding from, MemorySegment src, int rows, int cols) {
        checkShape(from, rows, cols);
        return pack(src, null, rows, cols) >= 0;
    }

    /** Interleaves and packs every 16 rows of {@code src}; a matrix that does not fit the room is refused. */
    @Override
    public void repackMatrix(WeightEncoding from, MemorySegment src, MemorySegment dst, int rows, int cols) {
        checkShape(from, rows, cols);
        long end = pack(src, dst, rows, cols);
        if (end < 0) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "%s has room for %d steps a block on average;"
                    + " this %d x %d matrix needs %.2f (its rows' values crowd the same tiles): keep it in a bitmap layout",
                    name(), steps, rows, cols, -end / (double) step / ((long) rows / ROWS * (cols / BLOCK))));
        }
    }

    /**
     * The slices of {@code src} packed after their offset table into {@code dst} (with none, only
     * measured), in one pass: the end of the last slice, or, where the slices pass the room, minus the
     * steps' bytes the whole matrix needs (the slices from the first that does not fit on are only
     * measured; the caller discards {@code dst}: the loader asks {@link #holds} first).
     */
    private long pack(MemorySegment src, MemorySegment dst, int rows, int cols) {
        int rb = Math.toIntExact(source.byteSize(cols)), blocks = cols / BLOCK, slices = rows / ROWS;
        long room = (long) rows * byteSize(cols), at = tableBytes(rows), steps = 0;
        byte[] in = new byte[ROWS * rb], out = dst == null ? null : new byte[Math.toIntExact(firstStep(blocks) + (long) step * 64 * blocks)];
        long[] masks = new long[ROWS * TILES];
        for (int s = 0; s < slices; s++) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, (long) s * ROWS * rb, in, 0, in.length);
            int len = (int) firstStep(blocks);
            if (dst == null || at > room) {
                for (int j = 0; j < blocks; j++) {
                    tileMasks(in, rb, j, masks, null, 0);
                    len += step * stepsNeeded(masks, null);
                }
            } else {
                len = packSlice(in, rb, out, blocks);
                if (at + len <= room) {
                    dst.set(LONG_LE, 8L * s, at);
                    MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, at, len);
                }
            }
            steps += len - firstStep(blocks);
            at += len;
        }
        return at > room ? -steps : at; // the room past the last slice is never read, nor written: its pages take no memory
    }

    /**
     * Block j's tile masks of the 16 rows at {@code in[l·rb..]} into {@code masks[4l + t]}, set bits past
     * the capacity dropped (the reference decodes them to zero); with {@code out}, the scales copied to
     * the block's scales at {@code out[so..]}.
     */
    private void tileMasks(byte[] in, int rb, int j, long[] masks, byte[] out, int so) {
        int bb = source.blockBytes();
        for (int l = 0; l < ROWS; l++) {
            int ro = l * rb + j * bb, left = capacity;
            for (int t = 0; t < TILES; t++) {
                long mask = 0;
                for (int b = 0; b < 8; b++) {
                    mask |= (in[ro + source.masksAt() + 8 * t + b] & 0xFFL) << 8 * b;
                }
                if (Long.bitCount(mask) > left) {
                    mask = Long.expand((1L << left) - 1, mask);
                }
                left -= Long.bitCount(mask);
                masks[TILES * l + t] = mask;
                if (out != null) {
                    out[so + 32 * t + 2 * l] = in[ro + 2 * t];
                    out[so + 32 * t + 2 * l + 1] = in[ro + 2 * t + 1];
                }
            }
        }
    }

    /** The steps of a block with these tile masks: per tile its fullest row's count over four, rounded up (into {@code perTile}). */
    private static int stepsNeeded(long[] masks, int[] perTile) {
        int all = 0;
        for (int t = 0; t < TILES; t++) {
            int most = 0;
            for (int l = 0; l < ROWS; l++) {
                most = Math.max(most, (Long.bitCount(masks[TILES * l + t]) + 3) / 4);
            }
            if (perTile != null) {
                perTile[t] = most;
            }
            all += most;
        }
        return all;
    }

    @Override
    void interleaveSlice(byte[] in, int rowBytes, byte[] out, int blocks) {
        packSlice(in, rowBytes, out, blocks);
    }

    /**
     * Stored value r of the row layout's block whose values start at {@code in[v..]}, as a level: Q8 its
     * byte; Q4 (value r below c/2 in byte r's low nibble, else in byte r − c/2's high nibble) its nibble − 8.
     */
    private int level(byte[] in, int v, int r) {
        if (!q4) {
            return in[v + r];
        }
        int half = capacity / 2, b = in[v + (r < half ? r : r - half)] & 0xFF;
        return (r < half ? b & 15 : b >>> 4) - 8;
    }

    /** One slice in this layout at {@code out[0..]}, from the 16 rows at {@code in[l·rowBytes..]}; returns its length. */
    private int packSlice(byte[] in, int rowBytes, byte[] out, int blocks) {
        long[] masks = new long[ROWS * TILES];
        int[] perTile = new int[TILES], next = new int[ROWS];
        int p = (int) firstStep(blocks);
        java.util.Arrays.fill(out, 0, p, (byte) 0);
        for (int j = 0; j < blocks; j++) {
            tileMasks(in, rowBytes, j, masks, out, (int) scalesAt(blocks, j));
            int need = stepsNeeded(masks, perTile);
            java.util.Arrays.fill(out, p, p + step * need, (byte) 0); // padding slots: column 0, value 0
            for (int l = 0; l < ROWS; l++) {
                next[l] = 0;
            }
            for (int t = 0; t < TILES; t++) {
                out[(int) countsAt(blocks, j) + t] = (byte) perTile[t];
                for (int l = 0; l < ROWS; l++) {
                    int k = 0;
                    for (long m = masks[TILES * l + t]; m != 0; m &= m - 1, k++) {
                        int at = p + step * (k / 4) + 4 * l + k % 4;
                        out[at] = (byte) Long.numberOfTrailingZeros(m);
                        int q = level(in, l * rowBytes + j * source.blockBytes() + source.valuesAt(), next[l]++);
                        int slot = 4 * l + k % 4;
                        if (q4) { // slot 2i in byte i's low nibble, 2i + 1 in its high one
                            out[at - slot + VALUES + slot / 2] |= (byte) ((q & 15) << 4 * (slot % 2));
                        } else {
                            out[at - slot + VALUES + slot] = (byte) q;
                        }
                    }
                }
                p += step * perTile[t];
            }
        }
        return p;
    }
}
