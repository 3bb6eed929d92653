package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/**
 * An {@link IndexedSparseEncoding}'s values, bit for bit, with every 16 consecutive rows
 * interleaved (a {@link SlicedEncoding}). A 512-bit kernel multiplies 16 rows at once, one row per
 * lane: stored pair k of a block, for all 16 rows, is one 16-byte load of indices that permute the
 * block's 16 + 16 activations (held in two registers) and one or two 16-byte loads of values. Per
 * 16-row slice and 32-column block:
 * <pre>
 *   d[16]          f16   row l's scale at 2·l
 *   for k &lt; N:     Q8: idx[16] u8 (row l at l), a[16] int8, b[16] int8
 *                  Q4: (idx, v)[16] u8 pairs (row l's at 2·l: one 16-bit lane per row, one load);
 *                      v's nibbles are A's and B's q ^ 8, i.e. q − 8 as signed 4-bit numbers
 *                  BF16 (no scales): idx[16] u8, then (a, b)[16] two-byte pairs (row l's at
 *                      4·l: one 32-bit lane per row holds both values, A's in the low half)
 *                  F16 (no scales): idx[16] u8, a[16], b[16] two bytes each
 * </pre>
 * 16 · (2 + 3N) bytes (Q8), 16 · (2 + 2N) (Q4) or 16 · 5N (F16, BF16): the 16 rows' bytes of the row
 * layout (Q4's levels re-biased so that the kernel sign-extends them instead of masking and
 * subtracting 8; a BF16 pair's A is its lane shifted left 16 and B its lane with the low half masked:
 * one operation each, where two-byte values in their own arrays take a widening and a shift; F16's
 * values stay in runs of 32 halves, which a plain loop converts with VCVTPH2PS).
 *
 * <p>Where a block's parts lie ({@link #scalesAt}, {@link #pairsAt}): for Q4 values the slice holds its
 * blocks in groups of {@link #SCALE_GROUP} (32), each group its blocks' scales first ({@code d[32][16]},
 * block j's at 32·(j mod 32)) and then their pairs (block j's at 32·m + (j mod 32)·{@link #pairBytes},
 * m the group's blocks: 32, or fewer in a row's last group); for the other types each block's scales
 * come before its pairs, blocks in order. The Q4 kernel converts a group's scales before its
 * arithmetic, so that its blocks, a few 64-byte loads each, carry no conversion (Q4_I5 tg64 with the
 * conversion written out per block 34.4-37.1, with a pass over the slice's scales 36.4-36.5;
 * docs/performance.md, session 35). Groups rather than the whole slice's scales first (session 36): read
 * ahead of all the pairs, a slice's scales came from memory with no arithmetic to overlap (a sixth of
 * Q4_I5's bytes; that pass took 19% of a single-threaded product beyond the caches against 6% within
 * them); a group's scales lie in the stream that its pairs continue. Groups of 8 blocks lost 17–30% in
 * decode beyond the caches, 32 gained 4–10% (alternating, 22 layers, 2 threads). Q8 converts each
 * block's scales where they are used, and lost 5–8% with the scales apart from their pairs (a second
 * stream; session 28).
 */
public final class SlicedIndexedEncoding extends SlicedEncoding {
    private static final int ID = 2352; // after the indexed encodings' 2320 + 2 · 16
    private static final int TWO_BYTE_ID = 2432; // after the two-byte indexed encodings' 2400 + 2 · 16
    /** One per indexed encoding, in {@link IndexedSparseEncoding#encodings()}'s order (Q8 n = 1..16, then Q4, F16, BF16). */
    private static final SlicedIndexedEncoding[] ALL =
            IndexedSparseEncoding.encodings().stream().map(SlicedIndexedEncoding::new).toArray(SlicedIndexedEncoding[]::new);

    private final IndexedSparseEncoding source;
    private final boolean q8, twoByte, f16;
    private final int n;
    /** Bytes of one stored pair for all 16 rows. */
    private final int step;
    /** Q4 values: decoded in 16-bit lanes ({@link #sixteenBit}), scales in groups ahead of their pairs ({@link #scalesLead}). */
    private final boolean q4;
    /** Blocks per group of a Q4 slice ({@link #scalesAt}). */
    public static final int SCALE_GROUP = 32;

    private SlicedIndexedEncoding(IndexedSparseEncoding source) {
        super(source);
        this.source = source;
        this.q8 = source.values() == SparseEncoding.Values.Q8;
        this.twoByte = !source.scaled();
        this.f16 = source.values() == SparseEncoding.Values.F16;
        this.n = source.perGroup();
        this.step = q8 ? 3 * ROWS : twoByte ? 5 * ROWS : 2 * ROWS;
        this.q4 = source.values() == SparseEncoding.Values.Q4;
    }

    /** The sliced layout of {@code e}. */
    public static SlicedIndexedEncoding of(IndexedSparseEncoding e) {
        return ALL[e.ordinal()];
    }

    @Override
    public IndexedSparseEncoding source() {
        return source;
    }

    /** Bytes of one stored pair k for the 16 rows: indices, then values. */
    public int stepBytes() {
        return step;
    }

    /** Bytes of one block's stored pairs for the 16 rows: N steps. */
    public int pairBytes() {
        return n * step;
    }

    /**
     * Whether a slice holds its blocks in groups of {@link #SCALE_GROUP}, each group's scales first and then
     * its pairs: the 16-bit layouts (Q4 values), whose kernel converts a group's scales in one pass.
     */
    public boolean scalesLead() {
        return q4;
    }

    /** Whether the blocks have scales (Q8, Q4; F16 and BF16 values are stored as they are). */
    public boolean scaled() {
        return !twoByte;
    }

    /** Where block j's 16 scales start in the slice at {@code sliceBase}, whose rows hold {@code rowBlocks} blocks (scaled types only). */
    public long scalesAt(long sliceBase, int rowBlocks, int j) {
        // Q4: the groups before j's are whole, SCALE_GROUP · (32 + pairBytes) bytes each.
        return q4 ? sliceBase + (long) SCALES * j + (long) SCALE_GROUP * pairBytes() * (j / SCALE_GROUP) : sliceBase + j * sliceBlockBytes();
    }

    /** Where block j's stored pairs start in the slice at {@code sliceBase}, whose rows hold {@code rowBlocks} blocks. */
    public long pairsAt(long sliceBase, int rowBlocks, int j) {
        // Q4: after the scales of every block up to the end of j's group.
        return q4 ? sliceBase + (long) j * pairBytes() + (long) SCALES * Math.min(j / SCALE_GROUP * SCALE_GROUP + SCALE_GROUP, rowBlocks)
                : sliceBase + j * sliceBlockBytes() + (twoByte ? 0 : SCALES);
    }

    /**
     * Its source's rows, and for N = 8 also 4:8 rows with the same value type, which every
     * {@code Q8_I8}/{@code Q4_I8}/{@code F16_I8}/{@code BF16_I8} block holds (four of each group of
     * eight is eight of each half of 16): at 512 bits the loader makes 4:8 with F16 or BF16 values
     * this layout, so that their decode works per stored value (docs/formats.md; 4:8 with Q8 or Q4
     * values takes {@link SlicedNMEncoding}, the file's bytes). The layout is larger than the 4:8 rows
     * (F16 and BF16 40 bytes a block against 36; Q8 26 against 22, Q4 18 against 14).
     */
    @Override
    public boolean repacks(WeightEncoding from) {
        return from == source || n == 8 && from instanceof SparseEncoding s && s == SparseEncoding.nm(4, 8, source.values());
    }

    @Override
    void sourceRows(WeightEncoding from, byte[] in, int inRowBytes, byte[] out, int rowBytes, int blocks) {
        SparseEncoding nm = (SparseEncoding) from;
        for (int l = 0; l < ROWS; l++) {
            for (int j = 0; j < blocks; j++) {
                source.fromFourOfEight(nm, in, l * inRowBytes + j * nm.blockBytes(), out, l * rowBytes + j * blockBytes());
            }
        }
    }

    @Override public String name() { return source.name() + "_R"; }
    @Override public int ggmlType() { return twoByte ? TWO_BYTE_ID + source.ordinal() - 2 * IndexedSparseEncoding.MAX_N : ID + source.ordinal(); }
    /** Q8_0 for Q4 values (their 16-bit kernel multiplies the activations' levels: {@link #sixteenBit}), else F32. */
    @Override public WeightEncoding activationEncoding() { return sixteenBit() ? Q8_0Encoding.INSTANCE : F32Encoding.INSTANCE; }

    /**
     * Whether decode runs in 16-bit lanes against Q8_0 activations: Q4 values, two stored pairs to a
     * 64-byte load (an odd N's last pair a 32-byte one). Until session 35 an odd N took the float
     * decoder: Q4_I5 tg64 26.6-27.3 tokens/s, in 16-bit lanes 31.6-36.5 (Q4_0 24.8-27.3).
     */
    public boolean sixteenBit() {
        return q4;
    }

    @Override
    public void dequantizeBlocks(MemorySegment m, long sliceBase, int rowBlocks, int l, int block0, int blocks, float[] dst, int off) {
        for (int j = 0; j < blocks; j++) {
            long po = pairsAt(sliceBase, rowBlocks, block0 + j);
            int out = off + j * IndexedSparseEncoding.QK;
            java.util.Arrays.fill(dst, out, out + IndexedSparseEncoding.QK, 0f);
            float d = twoByte ? 1f : Half.f16(m, scalesAt(sliceBase, rowBlocks, block0 + j) + 2L * l);
            for (int k = 0; k < n; k++) {
                long s = po + (long) k * step;
                int idx = Half.u8(m, s + idxAt(l));
                dst[out + (idx & 15)] += d * levelA(m, s, l);
                dst[out + IndexedSparseEncoding.GROUP + (idx >>> 4)] += d * levelB(m, s, l);
            }
        }
    }

    @Override
    public float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        long base = sliceOffset(rowBytes, row);
        int l = row % ROWS, blocks = cols / IndexedSparseEncoding.QK;
        float sum = 0;
        if (sixteenBit()) { // against Q8_0 blocks: the integer sum of levels, scaled by both scales
            for (int j = 0; j < blocks; j++) {
                long po = pairsAt(base, blocks, j), x = aOffset + (long) Q8_0Encoding.BLOCK_BYTES * j;
                int s = 0;
                for (int k = 0; k < n; k++) {
                    long st = po + (long) k * step;
                    int idx = Half.u8(w, st + idxAt(l));
                    s += (int) levelA(w, st, l) * a.get(java.lang.foreign.ValueLayout.JAVA_BYTE, x + 2 + (idx & 15))
                            + (int) levelB(w, st, l) * a.get(java.lang.foreign.ValueLayout.JAVA_BYTE, x + 2 + IndexedSparseEncoding.GROUP + (idx >>> 4));
                }
                sum += s * Half.f16(w, scalesAt(base, blocks, j) + 2L * l) * Half.f16(a, x);
            }
            return sum;
        }
        for (int j = 0; j < blocks; j++) {
            long po = pairsAt(base, blocks, j);
            long x = aOffset + 4L * IndexedSparseEncoding.QK * j;
            float s = 0;
            for (int k = 0; k < n; k++) {
                long st = po + (long) k * step;
                int idx = Half.u8(w, st + idxAt(l));
                s += levelA(w, st, l) * a.get(Half.FLOAT_LE, x + 4L * (idx & 15))
                        + levelB(w, st, l) * a.get(Half.FLOAT_LE, x + 4L * (IndexedSparseEncoding.GROUP + (idx >>> 4)));
            }
            sum += s * (twoByte ? 1f : Half.f16(w, scalesAt(base, blocks, j) + 2L * l));
        }
        return sum;
    }

    /** Byte offset, within a step, of row l's index byte. */
    private int idxAt(int l) {
        return q8 || twoByte ? l : 2 * l;
    }

    /** Byte offset, within a step, of row l's two-byte A value (BF16: its B follows in the same lane). */
    private int aAt(int l) {
        return f16 ? ROWS + 2 * l : ROWS + 4 * l;
    }

    /** Byte offset, within a step, of row l's two-byte B value. */
    private int bAt(int l) {
        return f16 ? 3 * ROWS + 2 * l : ROWS + 4 * l + 2;
    }

    /** A's level: Q8's byte, Q4's low nibble read as a signed 4-bit number (stored as q ^ 8, which is q − 8 in 4 bits), or the two-byte value. */
    private float levelA(MemorySegment m, long s, int l) {
        return q8 ? Half.i8(m, s + ROWS + l) : twoByte ? twoByte(m, s + aAt(l)) : (((Half.u8(m, s + 2 * l + 1) & 15) ^ 8) - 8);
    }

    private float levelB(MemorySegment m, long s, int l) {
        return q8 ? Half.i8(m, s + 2 * ROWS + l) : twoByte ? twoByte(m, s + bAt(l)) : (((Half.u8(m, s + 2 * l + 1) >>> 4) ^ 8) - 8);
    }

    private float twoByte(MemorySegment m, long o) {
        return f16 ? Half.f16(m, o) : Half.bf16(m, o);
    }

    @Override
    void interleaveSlice(byte[] in, int rowBytes, byte[] out, int blocks) {
        int bb = blockBytes();
        for (int j = 0; j < blocks; j++) {
            if (!twoByte) {
                copyScales(in, rowBytes, out, j, (int) scalesAt(0, blocks, j));
            }
            int po = (int) pairsAt(0, blocks, j);
            for (int l = 0; l < ROWS; l++) {
                int so = l * rowBytes + j * bb;
                for (int k = 0; k < n; k++) {
                    int st = po + k * step;
                    out[st + idxAt(l)] = in[so + source.indexAt() + k];
                    if (twoByte) { // BF16: A's and B's two bytes side by side in row l's 32-bit lane; F16: A's and B's arrays
                        int a = so + source.valuesAt() + 2 * k, b = a + 2 * n;
                        out[st + aAt(l)] = in[a];
                        out[st + aAt(l) + 1] = in[a + 1];
                        out[st + bAt(l)] = in[b];
                        out[st + bAt(l) + 1] = in[b + 1];
                    } else if (q8) { // A's and B's value arrays
                        out[st + ROWS + l] = in[so + source.valuesAt() + k];
                        out[st + 2 * ROWS + l] = in[so + source.valuesAt() + n + k];
                    } else { // one byte holds both levels, each q ^ 8: q − 8 as a signed nibble
                        out[st + 2 * l + 1] = (byte) (in[so + source.valuesAt() + k] ^ 0x88);
                    }
                }
            }
        }
    }
}
