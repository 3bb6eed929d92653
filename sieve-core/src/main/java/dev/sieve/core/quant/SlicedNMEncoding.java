package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/**
 * A 2:4 {@link SparseEncoding} with Q8, Q4, BF16 or F16 values ({@code Q8_S24}, {@code Q4_S24}, {@code
 * BF16_S24}, {@code F16_S24}) with every 16 consecutive rows interleaved (a {@link SlicedEncoding}, made at load at 512
 * bits), so that a kernel multiplies 16 rows at once, one row per lane, and does its work per stored
 * value instead of per position: each 2:4 group's mask (4 bits, two of them set) becomes its two stored
 * values' columns within the group, 2 bits each, the same 4 bits. Per 16-row slice and 32-column block,
 * the 16 rows' bytes of the row layout (Q8: 16 · 22, Q4: 16 · 14, BF16 and F16: 16 · 36):
 * <pre>
 *   d[16]       f16   row l's scale at 2·l (Q8 and Q4 only: {@link #scaleBytes})
 *   idx[16]     u32   BF16, F16: row l's at 4·l: stored value s's column within its group (s / 2) at bits 2s, 2s + 1
 *   BF16, F16: v[16][16]  value s of row l at 64 + 32·s + 2·l, as stored
 * </pre>
 * Q4 and Q8 values are laid out for 16-bit kernels instead ({@link #patterned}; {@link #activationEncoding}:
 * Q8_0), in four steps of two groups (2t and 2t + 1), lane j = 16·h + l holding group 2t + h of row l; in
 * place of the index words:
 * <pre>
 *   code[2][32] u8   at 32·u + j: step 2u's code of lane j (low nibble), step 2u + 1's (high nibble); a code is
 *                    the group's pattern, its two columns a &lt; b as {@link #PAIRS} lists them, plus 8·h
 *   Q4: v[4][32]     u8   at 64 + 32·t + j: column a's level + 8 (low nibble), column b's level as a signed nibble (high)
 *   Q8: v[4][32][2]  i8   at 64 + 64·t + 2·j: column a's level, then column b's
 * </pre>
 * With per-step tables of each pattern's activation levels, a permute by the code: for Q4, x_a and x_b −
 * 16·x_a, so the value byte read as a signed byte e gives e·x_a + (e &gt;&gt; 4)·(x_b − 16·x_a) = (a's level
 * + 8)·x_a + b's level·x_b in 16-bit lanes, and the +8 is taken off once per block from the sum of the x_a;
 * for Q8, x_a and x_b, the lane's two bytes a·x_a + b·x_b (at most 2·128·127, in 16 bits).
 * Value s of a block is group s / 2's first (s even) or second set position's, holding the row
 * layout's value for that set bit (value r for the r-th set bit, zero past the 16th), so every block
 * whose groups have at most two set positions decodes exactly as the row layout's reference; a group
 * with fewer fills its free slots with zeros at unset positions (no column named twice). A group with
 * three or four set positions breaks the pattern: its first two keep their values and the others are
 * dropped, where the reference decodes them all (the 8-lane N:M kernel also departs from the reference
 * there; docs/formats.md).
 */
public final class SlicedNMEncoding extends SlicedEncoding {
    /** Sieve's ids, after the sliced indexed encodings' 2352 + 32. */
    private static final int ID = 2384;
    private static final int QK = 32;
    /** Bytes of a block's 16 rows' index words, after the scales (Q4: its codes, the same size). */
    public static final int INDICES = 4 * ROWS;
    /** A Q4 group's patterns: its two columns, ascending. */
    public static final int[][] PAIRS = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
    /** Per 4-bit group mask: the places its two values take ({@link #places}). */
    private static final int[][] PLACES = new int[16][];
    /**
     * Per 4-bit group mask: the {@link #PAIRS} index of its places in ascending order, plus 8 where the
     * first value takes the later column (a mask with fewer than two bits set), so that the relayout
     * looks each group up instead of searching (a 1.1B 2:4 model: ~10 s to relayout by search and
     * allocation per group; docs/performance.md, session 35).
     */
    private static final int[] PATTERN = new int[16];

    static {
        for (int m = 0; m < 16; m++) {
            int[] at = places(m);
            int a = Math.min(at[0], at[1]), b = Math.max(at[0], at[1]), code = 0;
            while (PAIRS[code][0] != a || PAIRS[code][1] != b) {
                code++;
            }
            PLACES[m] = at;
            PATTERN[m] = code | (at[0] > at[1] ? 8 : 0);
        }
    }

    private static final SlicedNMEncoding Q8 = new SlicedNMEncoding(SparseEncoding.nm(2, 4, SparseEncoding.Values.Q8));
    private static final SlicedNMEncoding Q4 = new SlicedNMEncoding(SparseEncoding.nm(2, 4, SparseEncoding.Values.Q4));
    private static final SlicedNMEncoding BF16 = new SlicedNMEncoding(SparseEncoding.nm(2, 4, SparseEncoding.Values.BF16));
    private static final SlicedNMEncoding F16 = new SlicedNMEncoding(SparseEncoding.nm(2, 4, SparseEncoding.Values.F16));
    private static final java.util.List<SlicedNMEncoding> ALL = java.util.List.of(Q8, Q4, BF16, F16);

    private final SparseEncoding source;
    private final SparseEncoding.Values values;
    private final boolean q8;
    /** Bytes of a block's scales (none for BF16 values), before its index words. */
    private final int scaleBytes;

    private SlicedNMEncoding(SparseEncoding source) {
        super(source);
        this.source = source;
        this.values = source.values();
        this.q8 = values == SparseEncoding.Values.Q8;
        this.scaleBytes = halves() ? 0 : SCALES;
    }

    /** Whether {@code e} has a 16-row layout of this kind: 2:4 with Q8, Q4, BF16 or F16 values. */
    public static boolean slices(WeightEncoding e) {
        return ALL.stream().anyMatch(s -> s.source == e);
    }

    /** The 16-row layout of {@code e}, a 2:4 encoding with Q8, Q4, BF16 or F16 values ({@link #slices}). */
    public static SlicedNMEncoding of(WeightEncoding e) {
        return ALL.stream().filter(s -> s.source == e).findFirst().orElseThrow(
                () -> new IllegalArgumentException("16-row N:M layouts hold 2:4 with Q8, Q4, BF16 or F16 values, not " + e.name()));
    }

    /** Every such layout: Q8, Q4, BF16, F16. */
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
                for (int g = 0; g < 8; g++) {
                    int[] ab = PAIRS[code(m, io, l, g)];
                    dst[out + 4 * g + ab[0]] = d * patternLevel(m, io, l, g, 0);
                    dst[out + 4 * g + ab[1]] = d * patternLevel(m, io, l, g, 1);
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

    /** Q4 and Q8: the pattern of group g of row l in the block whose codes are at {@code io} (an index into {@link #PAIRS}). */
    private static int code(MemorySegment m, long io, int l, int g) {
        int t = g / 2, j = ROWS * (g % 2) + l;
        return Half.u8(m, io + 32L * (t / 2) + j) >>> 4 * (t % 2) & 7;
    }

    /** Q4 and Q8: the level of group g's column a (k = 0) or b (k = 1), row l. */
    private int patternLevel(MemorySegment m, long io, int l, int g, int k) {
        int j = ROWS * (g % 2) + l;
        if (q8) { // the lane's two bytes: a's level, then b's
            return Half.i8(m, io + INDICES + 64L * (g / 2) + 2L * j + k);
        }
        int b = Half.u8(m, io + INDICES + 32L * (g / 2) + j);
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
            for (int g = 0; g < 8; g++) {
                int[] pair = PAIRS[code(w, io, l, g)];
                s += patternLevel(w, io, l, g, 0) * a.get(java.lang.foreign.ValueLayout.JAVA_BYTE, ab + 2 + 4 * g + pair[0])
                        + patternLevel(w, io, l, g, 1) * a.get(java.lang.foreign.ValueLayout.JAVA_BYTE, ab + 2 + 4 * g + pair[1]);
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
                int idx = 0;
                for (int g = 0, r = 0; g < 8; g++) { // r: the row layout's value for the next set bit
                    int m = mask >>> 4 * g & 15, n = Integer.bitCount(m);
                    int v0 = n > 0 && r < 16 ? rowLevel(in, so, r) : 0, v1 = n > 1 && r + 1 < 16 ? rowLevel(in, so, r + 1) : 0;
                    r += n;
                    if (patterned()) {
                        patternGroup(PATTERN[m], v0, v1, out, io, l, g);
                        continue;
                    }
                    idx |= PLACES[m][0] << 4 * g | PLACES[m][1] << 4 * g + 2;
                    level[2 * g] = v0;
                    level[2 * g + 1] = v1;
                }
                if (patterned()) {
                    continue;
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
     * Q4 and Q8: group g of row l, its pattern {@code pattern} ({@link #PATTERN}) and its two values'
     * levels in the row layout's order, as a code and values, the group's columns ascending.
     */
    private void patternGroup(int pattern, int v0, int v1, byte[] out, int io, int l, int g) {
        if (pattern >= 8) {
            int t = v0;
            v0 = v1;
            v1 = t;
        }
        int t = g / 2, h = g % 2, j = ROWS * h + l, c = io + 32 * (t / 2) + j;
        int shift = 4 * (t % 2);
        out[c] = (byte) (out[c] & ~(15 << shift) | ((pattern & 7) + 8 * h) << shift);
        if (q8) {
            out[io + INDICES + 64 * t + 2 * j] = (byte) v0;
            out[io + INDICES + 64 * t + 2 * j + 1] = (byte) v1;
        } else {
            out[io + INDICES + 32 * t + j] = (byte) ((v0 + 8) | (v1 & 15) << 4);
        }
    }

    /**
     * The two places a group's values take: its first two set positions; where fewer are set, its
     * first unset ones after them (distinct, so that no column is named twice).
     */
    private static int[] places(int m) {
        int[] at = new int[2];
        int k = 0;
        for (int p = 0; p < 4 && k < 2; p++) {
            if ((m >>> p & 1) != 0) {
                at[k++] = p;
            }
        }
        for (int p = 0; p < 4 && k < 2; p++) {
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
