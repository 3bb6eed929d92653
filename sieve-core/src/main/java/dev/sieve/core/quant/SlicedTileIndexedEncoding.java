package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Sparse bitmap Q8 or Q4 ({@code Q8_B<c>}, {@code Q4_B<c>}) with every 32 consecutive rows (two 16-row
 * slices) packed together and each stored value beside its column within its 64-column tile ({@code
 * Q8_B<c>_X}, {@code Q4_B<c>_X}, made at load, never written to a file): a kernel's work is per stored
 * value, where the bitmap layouts' ({@link SlicedBitmapEncoding}) is per position. A step is 16 lanes × 4
 * stored values of one tile: 64 column bytes, which select the values' activation levels from the tile's
 * 64 held in one register (VPERMB), and the 64 values (Q8 bytes; Q4 levels q − 8 as signed nibbles), lane
 * l's four in slots 4l..4l + 3; the four values of a lane add up in one int lane. A tile takes as many
 * steps as its fullest lane needs (its row's count rounded up to four), so padding is the price. To keep
 * it small, each tile ranks the unit's 32 rows by their steps there: the 16 fullest are group A, one a
 * lane in rank order, the 16 others group B, and the tile takes A's fullest row's steps then B's (the
 * 17th fullest's), against two fixed 16-row slices' fullest rows each: at 90% sparsity (c = 26) 10.19
 * steps a block of 16 rows against 11.99, at 80% (c = 51) 17.23 against 19.32, at 70% (c = 77) 23.80 against 26.39,
 * where the stored values alone would take 6.5, 12.75 and 19.25 (random pruning). A tile's int sums of
 * A and B go back to the rows' order by one two-vector permute each (VPERMI2D) of the rows' lanes, before
 * the rows' tile scales. The units are packed back to back after a table of their offsets, so that the
 * stream has no gaps (the lanes inline, before their block's steps: a thread streamed the units at 0.6–0.7
 * of the rate with the lanes in the unit's header, docs/performance.md, session 42) and a matrix takes
 * the memory its steps need. A matrix takes this layout where its
 * steps average at most {@link #steps()} a block, a step more than random pruning needs ({@link
 * #stepsFor}; a lone last slice its own: {@link #loneSteps}); one that needs more ({@link #holds} says
 * no) keeps the bitmap layout, as does a matrix of an odd number of slices whose last, a unit of its own
 * (its header a whole unit's), passes the tensor's size: a room of {@link #steps()} steps a block, the
 * header and the counts ({@link #blockBytes}), which the converted matrices share back to back in large
 * pages (a room that held a lone slice's steps in every slice kept 58–70 MiB more of a model resident).
 * Per matrix:
 * <pre>
 *   off[rows/16]   u64 at 8·s: the byte offset of slice s's unit (slices 2u and 2u + 1; the table padded to 64 bytes)
 *   then each unit, in the order a kernel reads it (nb blocks of 256 columns, rows r = 0..31 of the unit):
 *     d[nb][4][32]    f16 at 256·b + 64·t + 2·r: row r's scale of tile t of block b
 *     n[nb][4][2]     u8  at 256·nb + 8·b + 2·t: tile t's steps of A, then of B (then zeros to a 64-byte line)
 *     then block after block, right after the counts' lines:
 *       lane[4][32]   u8  at 32·t + r: row r's lane in tile t: 0..15 in A, 16..31 in B (lane − 16)
 *       steps         at 128, tile after tile, A's then B's, 128 bytes each (Q4 96):
 *         col[64]     u8  lane l's values' columns within the tile at 4l..4l + 3
 *         q[64]       i8  at 64: the values, in the same places (a padding slot: column 0, value 0); Q4: 32
 *                         bytes, slot 2i in byte i's low nibble and 2i + 1 in its high one, as signed levels
 *   then the rest of the room, never read nor written (so its pages take no memory)
 * </pre>
 * A matrix of an odd number of slices ends with a unit of one slice, whose rows 16..31 hold nothing.
 * The kernels' slice handles ({@link SlicedEncoding#sliceOffset}) name a slice by its place in a matrix of
 * full rooms; {@link #sliceAt} finds its unit. A row's set bits past the block's capacity (zeros to the
 * reference) are dropped, so every block holds the reference's weights exactly. Activations: Q8_K (one
 * scale per 256 columns, so all four tiles' levels share one), and the kernel's integer sums are the
 * reference's.
 */
public final class SlicedTileIndexedEncoding extends SlicedEncoding {
    /** Sieve's ids: 4012 + c − 1 for Q8, 4268 + c − 1 for Q4, after the 16-row bitmap layouts' 3500 + 2 · 256. */
    private static final int ID = 4012;
    private static final int BLOCK = SparseEncoding.BITMAP_BLOCK;
    private static final int TILE = 64, TILES = BLOCK / TILE;
    /** Bytes of a step's columns (16 rows' four), after which its values follow. */
    public static final int VALUES = 64;
    /** Rows packed together: two slices. */
    public static final int UNIT = 2 * ROWS;
    /**
     * Bytes of a block's 16 rows' four tile scales, and of their lanes; and the room a block keeps for its
     * counts and the offset table (4 bytes, the unit's counts padded to a 64-byte line, and 8 a slice: the
     * steps follow the counts with no gap, which a thread streams from memory at 2.5 times the rate of a
     * layout that skipped seven lines a slice, docs/performance.md, session 40).
     */
    public static final int TILE_SCALES = 2 * ROWS * TILES, LANES = ROWS * TILES, COUNTS = 80;
    private static final BitmapLayouts<SlicedTileIndexedEncoding> ALL = new BitmapLayouts<>(SlicedTileIndexedEncoding::new);
    private static final ValueLayout.OfLong LONG_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private final SparseEncoding source;
    private final int capacity, steps, loneSteps;
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
        this.loneSteps = (int) Math.ceil(meanLoneSteps(capacity) + 1);
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

    /** Steps a block may take on average over a matrix's units (a matrix that needs more keeps another layout). */
    public int steps() {
        return steps;
    }

    /** Steps a lone last slice (a unit of one slice) may take a block: its mean ({@link #meanLoneSteps}) and one, rounded up. */
    public int loneSteps() {
        return loneSteps;
    }

    /** A row's share of a slice block's room (the slice block is 16 rows' worth): {@link #steps} steps, the scales, lanes and counts. */
    @Override
    public int blockBytes() {
        return (step * steps + TILE_SCALES + LANES + COUNTS) / ROWS;
    }

    /**
     * A row's share of a slice block as held on average for randomly pruned rows ({@link #meanSteps}
     * steps, the tile scales, the lanes and the counts), where {@link #blockBytes} is the room's: what a matrix of
     * this layout takes in memory, the slices being packed ({@link #heldBytes}).
     */
    public double meanBlockBytes() {
        return (step * meanSteps(capacity) + TILE_SCALES + LANES + 4) / ROWS;
    }

    /** Bytes of the slices' offset table of a matrix of {@code rows} rows. */
    static long tableBytes(int rows) {
        return (8L * (rows / ROWS) + 63) & ~63L;
    }

    /**
     * The byte offset in the matrix {@code m} of the unit of the slice a kernel names by {@code handle}, its
     * offset in a matrix of full rooms ({@link SlicedEncoding#sliceOffset} with rows of {@code rowBytes}).
     */
    public static long sliceAt(MemorySegment m, long handle, long rowBytes) {
        return m.get(LONG_LE, 8 * (handle / (ROWS * rowBytes)));
    }

    /** The table and the packed units: up to the last unit's last step. */
    @Override
    public long heldBytes(MemorySegment data, int rows, int cols) {
        int nb = cols / BLOCK;
        long last = data.get(LONG_LE, 8L * (rows / ROWS - 1));
        return last + blockAt(data, last, nb, nb);
    }

    /** Byte offset, from its unit's start, of block b's scales (32 rows' four tiles') in a row of {@code nb} blocks. */
    public long scalesAt(int nb, int b) {
        return (long) 2 * TILE_SCALES * b;
    }

    /** Byte offset, from its unit's start, of block b's eight step counts (a byte for A and for B a tile) in a row of {@code nb} blocks. */
    public long countsAt(int nb, int b) {
        return (long) 2 * TILE_SCALES * nb + 8L * b;
    }

    /** Byte offset, from its unit's start, of the first block's lanes, its steps following them, in a row of {@code nb} blocks. */
    public long firstBlock(int nb) {
        return (long) 2 * TILE_SCALES * nb + (8L * nb + 63 & ~63L);
    }

    /** Byte offset, from its unit's start, of block b's lanes and steps: the blocks before it, counted. */
    public long blockAt(MemorySegment m, long unitBase, int nb, int b) {
        long at = firstBlock(nb);
        for (int j = 0; j < b; j++) {
            long n = m.get(LONG_LE, unitBase + countsAt(nb, j));
            at += 2 * LANES;
            for (int i = 0; i < 8; i++) {
                at += step * (n >>> 8 * i & 0xFF);
            }
        }
        return at;
    }

    /**
     * What a block of capacity c may take: a step more than a block of 16 randomly pruned rows needs on
     * average (its unit's tiles' two groups' fullest rows' counts over four, rounded up: from the
     * hypergeometric count of a row's tile, the rows independent), rounded up. A matrix's blocks share
     * it, so only their sum must fit: a large matrix's sum is within a fraction of a step a block of
     * the mean. Sampled (50,000 units): c = 26 needs 10.19 steps on average, c = 77 23.80.
     */
    static int stepsFor(int c) {
        return (int) Math.ceil(meanSteps(c) + 1);
    }

    /**
     * The steps a block of 16 randomly pruned rows of capacity c needs on average: half a unit's, whose
     * tile takes the largest and the 17th largest of its 32 rows' steps there (J₁, J₁₇: E[J] = Σ_j P(J ≥ j),
     * P(J₁₇ < j) the chance that 16 or more of the 32 rows need fewer than j steps).
     */
    static double meanSteps(int c) {
        double[] cdf = hypergeometricCdf(c);
        double mean = 0;
        for (int j = 1; j <= TILE / 4; j++) {
            double p = cdf[4 * j - 4]; // a row's tile needs fewer than j steps
            double atLeast16 = p >= 1 ? 1 : 0;
            for (int i = ROWS; i <= UNIT && p > 0 && p < 1; i++) {
                atLeast16 += Math.exp(logChoose(UNIT, i) + i * Math.log(p) + (UNIT - i) * Math.log1p(-p));
            }
            mean += TILES * ((1 - Math.pow(p, UNIT)) + (1 - Math.min(1, atLeast16))) / 2;
        }
        return mean;
    }

    /** The steps a lone slice's block of 16 randomly pruned rows needs on average: each tile its fullest row's. */
    static double meanLoneSteps(int c) {
        double[] cdf = hypergeometricCdf(c);
        double mean = 0;
        for (int j = 1; j <= TILE / 4; j++) {
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
        long rb = (long) rowBlocks * blockBytes(), unitBase = sliceAt(m, handle, rb);
        int r = (int) (handle / (ROWS * rb) % 2) * ROWS + l;
        long p = unitBase + blockAt(m, unitBase, rowBlocks, block0);
        for (int j = 0; j < blocks; j++) {
            int b = block0 + j, out = off + j * BLOCK;
            long lanes = p;
            p += 2 * LANES;
            java.util.Arrays.fill(dst, out, out + BLOCK, 0f);
            for (int t = 0; t < TILES; t++) {
                float d = Half.f16(m, unitBase + scalesAt(rowBlocks, b) + 64L * t + 2L * r);
                int lane = Half.u8(m, lanes + 32L * t + r);
                long co = unitBase + countsAt(rowBlocks, b) + 2L * t;
                int nA = Half.u8(m, co), nB = Half.u8(m, co + 1);
                long q = p + (lane < ROWS ? 0 : (long) step * nA);
                for (int s = lane < ROWS ? nA : nB; s > 0; s--, q += step) {
                    for (int k = 0; k < 4; k++) { // a padding slot adds zero to column 0
                        int slot = 4 * (lane % ROWS) + k;
                        dst[out + TILE * t + Half.u8(m, q + slot)] += value(m, q, slot) * d;
                    }
                }
                p += (long) step * (nA + nB);
            }
        }
    }

    /** Against Q8_K activations: per tile the integer sum of levels times activation levels, times the tile's scale and the block's d. */
    @Override
    public float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        long base = sliceAt(w, sliceOffset(rowBytes, row), rowBytes);
        int r = row % UNIT;
        float sum = 0;
        int nb = cols / BLOCK;
        long p = base + firstBlock(nb);
        for (int j = 0; j < nb; j++) {
            long ab = aOffset + (long) Q8_KEncoding.BLOCK_BYTES * j, lanes = p;
            float da = a.get(Half.FLOAT_LE, ab);
            p += 2 * LANES;
            for (int t = 0; t < TILES; t++) {
                int lane = Half.u8(w, lanes + 32L * t + r);
                long co = base + countsAt(nb, j) + 2L * t;
                int nA = Half.u8(w, co), nB = Half.u8(w, co + 1), s = 0;
                long q = p + (lane < ROWS ? 0 : (long) step * nA);
                for (int n = lane < ROWS ? nA : nB; n > 0; n--, q += step) {
                    for (int k = 0; k < 4; k++) {
                        int slot = 4 * (lane % ROWS) + k, c = TILE * t + Half.u8(w, q + slot);
                        s += value(w, q, slot) * Half.i8(a, ab + Q8_KEncoding.QS + c);
                    }
                }
                sum += s * (Half.f16(w, base + scalesAt(nb, j) + 64L * t + 2L * r) * da);
                p += (long) step * (nA + nB);
            }
        }
        return sum;
    }

    /**
     * Whether the {@code rows × cols} matrix {@code src} (in {@link #source}'s layout) needs no more than
     * {@link #steps} a block on average over its units (a lone last slice {@link #loneSteps}): else the
     * matrix keeps another layout.
     */
    public boolean holds(WeightEncoding from, MemorySegment src, int rows, int cols) {
        checkShape(from, rows, cols);
        return pack(src, null, rows, cols) >= 0;
    }

    /** Packs every 32 rows of {@code src} (two slices) as a unit; a matrix that needs more steps than it may take is refused. */
    @Override
    public void repackMatrix(WeightEncoding from, MemorySegment src, MemorySegment dst, int rows, int cols) {
        checkShape(from, rows, cols);
        long end = pack(src, dst, rows, cols);
        if (end == PAST_ROOM) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "%s: this %d x %d matrix's last slice, a unit"
                    + " of its own, passes the matrix's room: keep it in a bitmap layout", name(), rows, cols));
        }
        if (end < 0) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "%s takes %d steps a block on average;"
                    + " this %d x %d matrix needs %.2f (its rows' values crowd the same tiles): keep it in a bitmap layout",
                    name(), rows / ROWS == 1 ? loneSteps : steps, rows, cols, -end / (double) ((long) rows / ROWS * (cols / BLOCK))));
        }
    }

    /** What {@link #pack} answers for a matrix whose steps fit but whose last lone slice passes the room. */
    private static final long PAST_ROOM = Long.MIN_VALUE;

    /**
     * The units of {@code src} packed after their offset table into {@code dst} (with none, only
     * measured), in one pass: the end of the last unit, or, where the units' steps pass what the matrix
     * may take, minus the steps the whole matrix needs (the units from the first that does not fit on
     * are only measured; the caller discards {@code dst}: the loader asks {@link #holds} first), or {@link
     * #PAST_ROOM}.
     */
    private long pack(MemorySegment src, MemorySegment dst, int rows, int cols) {
        int rb = Math.toIntExact(source.byteSize(cols)), blocks = cols / BLOCK, slices = rows / ROWS;
        long limit = (long) blocks * (slices / 2 * 2L * steps + slices % 2 * loneSteps), at = tableBytes(rows), taken = 0;
        long room = (long) rows * byteSize(cols);
        byte[] in = new byte[UNIT * rb], out = dst == null ? null : new byte[Math.toIntExact(firstBlock(blocks) + (2L * LANES + (long) step * 2 * 64) * blocks)];
        long[] masks = new long[UNIT * TILES];
        int[] counts = new int[2 * TILES], lanes = new int[UNIT * TILES];
        for (int s = 0; s < slices; s += 2) {
            int n = Math.min(2, slices - s); // a last unit of one slice: rows 16..31 hold nothing
            java.util.Arrays.fill(in, 0, in.length, (byte) 0);
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, (long) s * ROWS * rb, in, 0, n * ROWS * rb);
            int len = (int) firstBlock(blocks);
            if (dst == null || taken > limit) {
                for (int j = 0; j < blocks; j++) {
                    tileMasks(in, rb, j, masks, null, 0);
                    len += 2 * LANES + step * rank(masks, counts, lanes);
                }
            } else {
                len = packUnit(in, rb, out, blocks);
            }
            taken += (len - firstBlock(blocks) - 2L * LANES * blocks) / step;
            if (dst != null && taken <= limit && at + len <= room) {
                for (int i = 0; i < n; i++) {
                    dst.set(LONG_LE, 8L * (s + i), at);
                }
                MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, at, len);
            }
            at += len;
        }
        // The room past the last unit is never read, nor written.
        return taken > limit ? -taken : at > room ? PAST_ROOM : at;
    }

    /**
     * Block j's tile masks of the 32 rows at {@code in[r·rb..]} into {@code masks[4r + t]}, set bits past
     * the capacity dropped (the reference decodes them to zero); with {@code out}, the scales copied to
     * the block's scales at {@code out[so..]}.
     */
    private void tileMasks(byte[] in, int rb, int j, long[] masks, byte[] out, int so) {
        int bb = source.blockBytes();
        for (int r = 0; r < UNIT; r++) {
            int ro = r * rb + j * bb, left = capacity;
            for (int t = 0; t < TILES; t++) {
                long mask = 0;
                for (int b = 0; b < 8; b++) {
                    mask |= (in[ro + source.masksAt() + 8 * t + b] & 0xFFL) << 8 * b;
                }
                if (Long.bitCount(mask) > left) {
                    mask = Long.expand((1L << left) - 1, mask);
                }
                left -= Long.bitCount(mask);
                masks[TILES * r + t] = mask;
                if (out != null) {
                    out[so + 64 * t + 2 * r] = in[ro + 2 * t];
                    out[so + 64 * t + 2 * r + 1] = in[ro + 2 * t + 1];
                }
            }
        }
    }

    /**
     * Ranks each tile's 32 rows by their steps (a row's count over four, rounded up), fullest first, the
     * first row of equals first: row r's lane in tile t into {@code lanes[32t + r]} (0..15 group A, 16..31
     * group B), A's and B's steps (their fullest rows') into {@code counts[2t]} and {@code counts[2t + 1]};
     * returns the block's steps.
     */
    private static int rank(long[] masks, int[] counts, int[] lanes) {
        int all = 0;
        int[] first = new int[TILE / 4 + 2]; // a counting sort by steps, fullest first: first[16 - k] is where rows of k steps start
        for (int t = 0; t < TILES; t++) {
            java.util.Arrays.fill(first, 0);
            for (int r = 0; r < UNIT; r++) {
                first[TILE / 4 - steps(masks[TILES * r + t]) + 1]++;
            }
            for (int k = 1; k < first.length; k++) {
                first[k] += first[k - 1];
            }
            counts[2 * t + 1] = -1;
            for (int r = 0; r < UNIT; r++) { // rows in order, so equals keep the first row first
                int need = steps(masks[TILES * r + t]), lane = first[TILE / 4 - need]++;
                lanes[UNIT * t + r] = lane;
                if (lane == 0) {
                    counts[2 * t] = need;
                } else if (lane == ROWS) {
                    counts[2 * t + 1] = need;
                }
            }
            all += counts[2 * t] + counts[2 * t + 1];
        }
        return all;
    }

    /** A row's steps in a tile: its stored values over four, rounded up. */
    private static int steps(long tileMask) {
        return (Long.bitCount(tileMask) + 3) / 4;
    }

    /** One slice packed as a unit on its own (rows 16..31 empty), as {@link #repackMatrix} packs a last odd slice. */
    @Override
    void interleaveSlice(byte[] in, int rowBytes, byte[] out, int blocks) {
        byte[] unit = java.util.Arrays.copyOf(in, UNIT * rowBytes);
        packUnit(unit, rowBytes, out, blocks);
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

    /** One unit in this layout at {@code out[0..]}, from the 32 rows at {@code in[r·rowBytes..]}; returns its length. */
    private int packUnit(byte[] in, int rowBytes, byte[] out, int blocks) {
        long[] masks = new long[UNIT * TILES];
        int[] counts = new int[2 * TILES], lanes = new int[UNIT * TILES], next = new int[UNIT];
        int p = (int) firstBlock(blocks);
        java.util.Arrays.fill(out, 0, p, (byte) 0);
        for (int j = 0; j < blocks; j++) {
            tileMasks(in, rowBytes, j, masks, out, (int) scalesAt(blocks, j));
            int need = rank(masks, counts, lanes), lanesAt = p;
            p += 2 * LANES;
            java.util.Arrays.fill(out, p, p + step * need, (byte) 0); // padding slots: column 0, value 0
            java.util.Arrays.fill(next, 0);
            for (int t = 0; t < TILES; t++) {
                out[(int) countsAt(blocks, j) + 2 * t] = (byte) counts[2 * t];
                out[(int) countsAt(blocks, j) + 2 * t + 1] = (byte) counts[2 * t + 1];
                for (int r = 0; r < UNIT; r++) {
                    int lane = lanes[UNIT * t + r], first = p + (lane < ROWS ? 0 : step * counts[2 * t]), k = 0;
                    out[lanesAt + 32 * t + r] = (byte) lane;
                    for (long m = masks[TILES * r + t]; m != 0; m &= m - 1, k++) {
                        int slot = 4 * (lane % ROWS) + k % 4, at = first + step * (k / 4) + slot;
                        out[at] = (byte) Long.numberOfTrailingZeros(m);
                        int q = level(in, r * rowBytes + j * source.blockBytes() + source.valuesAt(), next[r]++);
                        if (q4) { // slot 2i in byte i's low nibble, 2i + 1 in its high one
                            out[at - slot + VALUES + slot / 2] |= (byte) ((q & 15) << 4 * (slot % 2));
                        } else {
                            out[at - slot + VALUES + slot] = (byte) q;
                        }
                    }
                }
                p += step * (counts[2 * t] + counts[2 * t + 1]);
            }
        }
        return p;
    }
}
