package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/**
 * N:M {@link SparseEncoding}s with every 16 consecutive rows interleaved (a {@link SlicedEncoding}, made at load
 * at 512 bits), so that a kernel multiplies 16 rows at once, one row per lane, and does its work per stored
 * value instead of per position: 2:4 with Q8, Q4, BF16 or F16 values ({@code Q8_S24_R} …) and 4:8 with Q8 or
 * Q4 values ({@code Q8_S48_R}, {@code Q4_S48_R}; 4:8 with BF16 or F16 values is loaded as indexed 8:16). Per
 * 16-row slice and 32-column block, the 16 rows' bytes of the row layout (Q8: 16 · 22, Q4: 16 · 14, BF16 and
 * F16: 16 · 36). BF16 and F16 (2:4 only) keep each group's mask as its two stored values' columns, 2 bits each:
 * <pre>
 *   idx[16]     u32   row l's at 4·l: stored value s's column within its group (s / 2) at bits 2s, 2s + 1
 *   v[16][16]         value s of row l at 64 + 32·s + 2·l, as stored
 * </pre>
 * Q4 and Q8 values are laid out for 16-bit kernels instead ({@link #patterned}; {@link #activationEncoding}:
 * Q8_0) as <em>pairs</em>: two stored values of a row and their two columns, a &lt; b, as one of the
 * {@link #PAIRS} patterns. A block holds eight pairs q of each row: for 2:4 pair q is group q; for 4:8 a
 * group's four values, in column order, are two pairs (its first two columns lie within the group's first
 * six, its last two within its last six: pair 2g + h's columns count from the group's column 2h, so every
 * pair is one of fifteen patterns, {@link #pairBase}). Four steps of two pairs, lane j = 16·h + l of step
 * t holding pair 2t + h of row l:
 * <pre>
 *   d[16]         f16  row l's scale at 2·l
 *   code[32]      u16  at 32 + 2·j: lane j's pattern in step t at bits 4t … 4t + 3
 *   Q4: v[4][32]  u8   at 96 + 32·t + j: column a's level + 8 (low nibble), column b's level as a signed nibble (high)
 *   Q8: v[4][32][2] i8 at 96 + 64·t + 2·j: column a's level, then column b's
 * </pre>
 * With per-step tables of each pattern's activation levels (entry 16·h + pattern), a permute by the
 * code: for Q4, x_a and x_b − 16·x_a, so the value byte read as a signed byte e gives e·x_a + (e &gt;&gt;
 * 4)·(x_b − 16·x_a) = (a's level + 8)·x_a + b's level·x_b in 16-bit lanes, and the +8 is taken off once per
 * block from the sum of the x_a; for Q8, x_a and x_b, the lane's two bytes a·x_a + b·x_b (at most 2·128·127,
 * in 16 bits). The pairs of a 4:8 group need fifteen patterns each, so the lane's half h is not part of
 * the code (2:4's six would fit in three bits) but joins it in the kernel (docs/formats.md).
 * A group's values are its first N set positions' (value r of the row layout for the r-th set bit, zero
 * past the 16th), so every valid block decodes exactly as the row layout's reference; a group with fewer
 * fills its free slots with zeros at its first unset positions (no column named twice). A group with more
 * than N set positions breaks the pattern: its first N keep their values and the others are dropped, where
 * the reference decodes them all (the 8-lane N:M kernel also departs from the reference there;
 * docs/formats.md).
 */
public final class SlicedNMEncoding extends SlicedEncoding {
    /** Sieve's ids, after the sliced indexed encodings' 2352 + 32: 2:4 from 2384, 4:8 from 2388. */
    private static final int ID = 2384;
    private static final int QK = 32;
    /** Bytes of a block's 16 rows' index words, after the scales (Q4, Q8: its code words, the same size). */
    public static final int INDICES = 4 * ROWS;
    /**
     * The column pairs a &lt; b a pair's code names, counted from its {@link #pairBase}: codes 0–5 are the
     * six of four columns (2:4's groups), 0–14 the fifteen of six (4:8's pairs).
     */
    public static final int[][] PAIRS = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3},
        {0, 4}, {0, 5}, {1, 4}, {1, 5}, {2, 4}, {2, 5}, {3, 4}, {3, 5}, {4, 5}};
    /** Per 4-bit 2:4 group mask, BF16 and F16: the places its two values take ({@link #places}), in value order. */
    private static final int[][] PLACES = new int[16][];
    /**
     * Per group mask of 2:4 (4 bits) and of 4:8 (8 bits), Q4 and Q8: its places in ascending order, and
     * for each the group's value it takes (the rank of its set bit, or −1 for a filled zero), and each
     * pair's code, so that the relayout looks each group up instead of searching (a 1.1B 2:4 model: ~10 s
     * to relayout by search and allocation per group; docs/performance.md, session 35).
     */
    private static final int[][] SORTED4 = new int[16][], RANK4 = new int[16][], CODE4 = new int[16][],
            SORTED8 = new int[256][], RANK8 = new int[256][], CODE8 = new int[256][];

    static {
        for (int m = 0; m < 16; m++) {
            PLACES[m] = places(m, 4);
            order(m, 4, SORTED4, RANK4, CODE4);
        }
        for (int m = 0; m < 256; m++) {
            order(m, 8, SORTED8, RANK8, CODE8);
        }
    }

    /** For group mask m of width w: its places sorted, their values' ranks, and each pair's code (pair h counted from column 2h when w = 8). */
    private static void order(int m, int w, int[][] sorted, int[][] rank, int[][] code) {
        int[] at = places(m, w);
        int k = at.length, set = Math.min(Integer.bitCount(m), k);
        Integer[] by = new Integer[k];
        for (int i = 0; i < k; i++) {
            by[i] = i;
        }
        java.util.Arrays.sort(by, java.util.Comparator.comparingInt(i -> at[i]));
        sorted[m] = new int[k];
        rank[m] = new int[k];
        code[m] = new int[k / 2];
        for (int i = 0; i < k; i++) {
            sorted[m][i] = at[by[i]];
            rank[m][i] = by[i] < set ? by[i] : -1;
        }
        for (int h = 0; h < k / 2; h++) {
            int base = w == 8 ? 2 * h : 0, a = sorted[m][2 * h] - base, b = sorted[m][2 * h + 1] - base, c = 0;
            while (PAIRS[c][0] != a || PAIRS[c][1] != b) {
                c++;
            }
            code[m][h] = c;
        }
    }

    private static final SlicedNMEncoding Q8 = new SlicedNMEncoding(SparseEncoding.nm(2, 4, SparseEncoding.Values.Q8));
    private static final SlicedNMEncoding Q4 = new SlicedNMEncoding(SparseEncoding.nm(2, 4, SparseEncoding.Values.Q4));
    private static final SlicedNMEncoding BF16 = new SlicedNMEncoding(SparseEncoding.nm(2, 4, SparseEncoding.Values.BF16));
    private static final SlicedNMEncoding F16 = new SlicedNMEncoding(SparseEncoding.nm(2, 4, SparseEncoding.Values.F16));
    private static final SlicedNMEncoding Q8_48 = new SlicedNMEncoding(SparseEncoding.nm(4, 8, SparseEncoding.Values.Q8));
    private static final SlicedNMEncoding Q4_48 = new SlicedNMEncoding(SparseEncoding.nm(4, 8, SparseEncoding.Values.Q4));
    private static final java.util.List<SlicedNMEncoding> ALL = java.util.List.of(Q8, Q4, BF16, F16, Q8_48, Q4_48);

    private final SparseEncoding source;
    private final SparseEncoding.Values values;
    private final boolean q8;
    /** M of N:M: 4 (2:4) or 8 (4:8). */
    private final int groupSize;
    /** Bytes of a block's scales (none for BF16 values), before its index words. */
    private final int scaleBytes;

    private SlicedNMEncoding(SparseEncoding source) {
        super(source);
        this.source = source;
        this.values = source.values();
        this.q8 = values == SparseEncoding.Values.Q8;
        this.groupSize = source.groupSize();
        this.scaleBytes = halves() ? 0 : SCALES;
    }

    /** Whether {@code e} has a 16-row layout of this kind: 2:4 with Q8, Q4, BF16 or F16 values, 4:8 with Q8 or Q4. */
    public static boolean slices(WeightEncoding e) {
        return ALL.stream().anyMatch(s -> s.source == e);
    }

    /** The 16-row layout of {@code e}, a 2:4 encoding with Q8, Q4, BF16 or F16 values or a 4:8 with Q8 or Q4 ({@link #slices}). */
    public static SlicedNMEncoding of(WeightEncoding e) {
        return ALL.stream().filter(s -> s.source == e).findFirst().orElseThrow(
                () -> new IllegalArgumentException("16-row N:M layouts hold 2:4 with Q8, Q4, BF16 or F16 values and 4:8 with Q8 or Q4, not " + e.name()));
    }

    /** Every such layout: 2:4 Q8, Q4, BF16, F16, then 4:8 Q8, Q4. */
    public static java.util.List<SlicedNMEncoding> encodings() {
        return ALL;
    }

    /** Whether the values are two-byte floats (BF16, F16), stored as they are, without scales. */
    private boolean halves() {
        return values == SparseEncoding.Values.BF16 || values == SparseEncoding.Values.F16;
    }

    /** The stored values' type. */
    public SparseEncoding.Values values() {
        return values;
    }

    /** Bytes from a slice block's start to its index words: its scales (32), or none for BF16 and F16 values. */
    public int scaleBytes() {
        return scaleBytes;
    }

    @Override
    public SparseEncoding source() {
        return source;
    }

    /** Whether the values are Q8 (else Q4). */
    public boolean q8() {
        return q8;
    }

    @Override public String name() { return source.name() + "_R"; }
    @Override public int ggmlType() { return ID + ALL.indexOf(this); }
    /** Q8_0 for Q4 and Q8 values (their 16-bit kernels multiply the activations' levels: {@link #patterned}), else F32. */
    @Override public WeightEncoding activationEncoding() {
        return patterned() ? Q8_0Encoding.INSTANCE : F32Encoding.INSTANCE;
    }

    @Override
    public void dequantizeBlocks(MemorySegment m, long sliceBase, int rowBlocks, int l, int block0, int blocks, float[] dst, int off) {
        for (int j = 0; j < blocks; j++) {
            long bo = sliceBase + (block0 + j) * sliceBlockBytes(), io = bo + scaleBytes;
            int out = off + j * QK;
            java.util.Arrays.fill(dst, out, out + QK, 0f);
            float d = scaleBytes == 0 ? 1f : Half.f16(m, bo + 2L * l);
            if (patterned()) {
                for (int q = 0; q < 8; q++) { // the relayout never names a column twice
                    int code = code(m, io, l, q);
                    dst[out + column(q, code, 0)] = d * patternLevel(m, io, l, q, 0);
                    dst[out + column(q, code, 1)] = d * patternLevel(m, io, l, q, 1);
                }
                continue;
            }
            int idx = m.get(Half.INT_LE, io + 4L * l);
            for (int s = 0; s < 16; s++) { // the two columns of a group differ (a stored zero keeps its sign, as the reference's)
                dst[out + column(idx, s)] = d * level(m, io, l, s);
            }
        }
    }

    /**
     * Whether the layout is the 16-bit kernels' (Q4 and Q8 values): per group a pattern code and its two
     * values (see the class comment); BF16 and F16 keep the index words.
     */
    public boolean patterned() {
        return values == SparseEncoding.Values.Q4 || q8;
    }

    /** Q4 and Q8: the code of pair q of row l in the block whose code words are at {@code io} (an index into {@link #PAIRS}). */
    private static int code(MemorySegment m, long io, int l, int q) {
        int t = q / 2, j = ROWS * (q % 2) + l;
        return Half.u8(m, io + 2L * j + t / 2) >>> 4 * (t % 2) & 15;
    }

    /**
     * The block column that pair q's pattern counts from: 4q for 2:4 (pair q is group q), 8·(q / 2) + 2·(q
     * mod 2) for 4:8 (group q / 2's first pair from its column 0, its second from its column 2).
     */
    public int pairBase(int q) {
        return groupSize == 4 ? 4 * q : 8 * (q / 2) + 2 * (q % 2);
    }

    /** How many of {@link #PAIRS} a pair's code names: 6 (2:4) or 15 (4:8); a larger code reads as the last. */
    public int patterns() {
        return groupSize == 4 ? 6 : 15;
    }

    /** The block column of pair q's first (k = 0) or second (k = 1) value when its code is {@code code}. */
    public int column(int q, int code, int k) {
        return pairBase(q) + PAIRS[Math.min(code, patterns() - 1)][k];
    }

    /** Q4 and Q8: the level of pair q's column a (k = 0) or b (k = 1), row l. */
    private int patternLevel(MemorySegment m, long io, int l, int q, int k) {
        int j = ROWS * (q % 2) + l;
        if (q8) { // the lane's two bytes: a's level, then b's
            return Half.i8(m, io + INDICES + 64L * (q / 2) + 2L * j + k);
        }
        int b = Half.u8(m, io + INDICES + 32L * (q / 2) + j);
        return k == 0 ? (b & 15) - 8 : ((b >>> 4) ^ 8) - 8;
    }

    @Override
    public float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        long base = sliceOffset(rowBytes, row);
        int l = row % ROWS;
        float sum = 0;
        if (patterned()) {
            return dotRowPatterned(w, base, l, a, aOffset, cols);
        }
        for (int j = 0; j < cols / QK; j++) {
            long bo = base + j * sliceBlockBytes(), io = bo + scaleBytes;
            long x = aOffset + 4L * QK * j;
            int idx = w.get(Half.INT_LE, io + 4L * l);
            float s = 0;
            for (int v = 0; v < 16; v++) {
                s += level(w, io, l, v) * a.get(Half.FLOAT_LE, x + 4L * column(idx, v));
            }
            sum += scaleBytes == 0 ? s : s * Half.f16(w, bo + 2L * l);
        }
        return sum;
    }

    /** Q4 and Q8 against Q8_0 activations: per block the integer sum of levels times the activations' levels, scaled by both scales. */
    private float dotRowPatterned(MemorySegment w, long base, int l, MemorySegment a, long aOffset, int cols) {
        float sum = 0;
        for (int j = 0; j < cols / QK; j++) {
            long bo = base + j * sliceBlockBytes(), io = bo + SCALES, ab = aOffset + (long) Q8_0Encoding.BLOCK_BYTES * j;
            int s = 0;
            for (int q = 0; q < 8; q++) {
                int code = code(w, io, l, q);
                s += patternLevel(w, io, l, q, 0) * a.get(java.lang.foreign.ValueLayout.JAVA_BYTE, ab + 2 + column(q, code, 0))
                        + patternLevel(w, io, l, q, 1) * a.get(java.lang.foreign.ValueLayout.JAVA_BYTE, ab + 2 + column(q, code, 1));
            }
            sum += s * Half.f16(w, bo + 2L * l) * Half.f16(a, ab);
        }
        return sum;
    }

    /** Value s's column in its block: its group's first, and its 2-bit place in the group. */
    private static int column(int idx, int s) {
        return 4 * (s / 2) + (idx >>> 2 * s & 3);
    }

    /** Value s of row l of the block whose index words are at {@code io}, unscaled: BF16's or F16's value (Q4, Q8: {@link #patternLevel}). */
    private float level(MemorySegment m, long io, int l, int s) {
        return switch (values) {
            case Q8 -> throw new AssertionError("Q8 levels are read per group (patternLevel)");
            case Q4 -> throw new AssertionError("Q4 levels are read per group (patternLevel)");
            case BF16 -> Half.bf16(m, io + INDICES + 2L * (ROWS * s + l));
            case F16 -> Half.f16(m, io + INDICES + 2L * (ROWS * s + l));
        };
    }

    @Override
    void interleaveSlice(byte[] in, int rowBytes, byte[] out, int blocks) {
        int bb = blockBytes();
        int[] level = new int[16];
        for (int j = 0; j < blocks; j++) {
            int bo = j * ROWS * bb, io = bo + scaleBytes;
            if (scaleBytes > 0) {
                copyScales(in, rowBytes, out, j, bo);
            }
            for (int l = 0; l < ROWS; l++) {
                int so = l * rowBytes + j * bb;
                int mask = (in[so + source.masksAt()] & 0xFF) | (in[so + source.masksAt() + 1] & 0xFF) << 8
                        | (in[so + source.masksAt() + 2] & 0xFF) << 16 | (in[so + source.masksAt() + 3] & 0xFF) << 24;
                if (patterned()) {
                    pairRow(in, so, mask, out, io, l);
                    continue;
                }
                int idx = 0;
                for (int g = 0, r = 0; g < 8; g++) { // r: the row layout's value for the next set bit
                    int m = mask >>> 4 * g & 15, n = Integer.bitCount(m);
                    int v0 = n > 0 && r < 16 ? rowLevel(in, so, r) : 0, v1 = n > 1 && r + 1 < 16 ? rowLevel(in, so, r + 1) : 0;
                    r += n;
                    idx |= PLACES[m][0] << 4 * g | PLACES[m][1] << 4 * g + 2;
                    level[2 * g] = v0;
                    level[2 * g + 1] = v1;
                }
                for (int b = 0; b < 4; b++) {
                    out[io + 4 * l + b] = (byte) (idx >>> 8 * b);
                }
                for (int s = 0; s < 16; s++) { // the value's two bytes as stored
                    out[io + INDICES + 2 * (ROWS * s + l)] = (byte) level[s];
                    out[io + INDICES + 2 * (ROWS * s + l) + 1] = (byte) (level[s] >>> 8);
                }
            }
        }
    }

    /**
     * Q4 and Q8: row l of a block ({@code in[so..]}, its 32-bit mask {@code mask}) as its eight pairs: per
     * group its first N set positions' values (the row layout's value r for the r-th set bit), its places
     * and codes looked up by the group's mask.
     */
    private void pairRow(byte[] in, int so, int mask, byte[] out, int io, int l) {
        int w = groupSize, k = w / 2;
        int[][] sorted = w == 4 ? SORTED4 : SORTED8, rank = w == 4 ? RANK4 : RANK8, code = w == 4 ? CODE4 : CODE8;
        int[] v = new int[k];
        for (int g = 0, r = 0; g < QK / w; g++) { // r: the row layout's value for the group's first set bit
            int m = mask >>> w * g & (1 << w) - 1, n = Integer.bitCount(m);
            for (int i = 0; i < k; i++) {
                v[i] = i < n && r + i < 16 ? rowLevel(in, so, r + i) : 0;
            }
            r += n;
            for (int h = 0; h < k / 2; h++) {
                int ra = rank[m][2 * h], rb = rank[m][2 * h + 1];
                pair(code[m][h], ra < 0 ? 0 : v[ra], rb < 0 ? 0 : v[rb], out, io, l, k / 2 * g + h);
            }
        }
    }

    /** Q4 and Q8: pair q of row l, its code and its two values' levels (columns ascending), into the block at {@code out[io..]} (its code words). */
    private void pair(int code, int v0, int v1, byte[] out, int io, int l, int q) {
        int t = q / 2, h = q % 2, j = ROWS * h + l, c = io + 2 * j + t / 2;
        int shift = 4 * (t % 2);
        out[c] = (byte) (out[c] & ~(15 << shift) | code << shift);
        if (q8) {
            out[io + INDICES + 64 * t + 2 * j] = (byte) v0;
            out[io + INDICES + 64 * t + 2 * j + 1] = (byte) v1;
        } else {
            out[io + INDICES + 32 * t + j] = (byte) ((v0 + 8) | (v1 & 15) << 4);
        }
    }

    /**
     * The w / 2 places a group of w positions gives its values: its first w / 2 set positions; where
     * fewer are set, its first unset ones after them (distinct, so that no column is named twice).
     */
    private static int[] places(int m, int w) {
        int[] at = new int[w / 2];
        int k = 0;
        for (int p = 0; p < w && k < at.length; p++) {
            if ((m >>> p & 1) != 0) {
                at[k++] = p;
            }
        }
        for (int p = 0; p < w && k < at.length; p++) {
            if ((m >>> p & 1) == 0) {
                at[k++] = p;
            }
        }
        return at;
    }

    /** The row layout's value r of the block at {@code in[so..]}, unscaled (Q8's int8, Q4's q − 8, BF16's 16 bits). */
    private int rowLevel(byte[] in, int so, int r) {
        int v = so + source.valuesAt();
        if (halves()) {
            return (in[v + 2 * r] & 0xFF) | (in[v + 2 * r + 1] & 0xFF) << 8;
        }
        if (q8) {
            return in[v + r];
        }
        int b = in[v + r % 8] & 0xFF;
        return (r < 8 ? b & 15 : b >>> 4) - 8;
    }
}
