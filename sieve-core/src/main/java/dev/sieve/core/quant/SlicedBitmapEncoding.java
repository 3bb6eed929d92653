package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A bitmap {@link SparseEncoding} with Q8 or Q4 values ({@code Q8_B<c>}, {@code Q4_B<c>}) with every 16
 * consecutive rows interleaved ({@code Q8_B<c>_R}, {@code Q4_B<c>_R}, a {@link SlicedEncoding} made at load at 512 bits where the CPU
 * expands bytes by a mask in one instruction, AVX-512 VBMI2's VPEXPANDB; bitmap Q4 at 50% or denser is
 * loaded as {@link Q4_0SlicedEncoding} instead, whose decode is faster), so that a kernel multiplies
 * 16 rows at once, one row per lane, as {@link Q8_0SlicedEncoding}'s does: each step's 64 weights
 * (four columns of 16 rows) are one 64-bit mask and the step's stored values packed; expanded by the
 * mask they are Q8_0_R16's 64 bytes for the same columns, zeros at the unset positions. Per 16-row
 * slice, the 16 rows' bytes of the row layout (16 · (40 + c) a block), each block's masks and values
 * first, all blocks' scales after them:
 * <pre>
 *   per block b, at b · (512 + 16c):
 *     m[64]     u64   at 8·s: step s, columns 4s .. 4s + 3: bit 2l + e is row l's column 4s + e, bit 32 + 2l + e
 *                     row l's column 4s + 2 + e (e = 0, 1)
 *     v[16c]    i8    at 512: the 64 steps' stored values, step after step, each step's in the order of its
 *                     mask's bits; bytes past the last stored value are zero (Q4: nibbles, below, in 8c + 32 bytes)
 *   then per block b, at nb · (512 + 16c) + 128·b (nb blocks a row):
 *     d[4][16]  f16   at 32·t + 2·l: row l's scale of tile t (columns 64t .. 64t + 63)
 * </pre>
 * Why this order: a step's mask is read before its values (the values' place is the running count of
 * the masks' bits), so the masks lead their values in the stream; with the masks after the values
 * (2 KiB ahead of them at 50%) the kernel waited on each block's first mask lines from memory (5632 ×
 * 2048 beyond the L3: 1.9–2.5 ms against 1.26–1.33). The scales trail the slice, so that a 64-byte load
 * from any value's place stays inside the slice, also in the matrix's last block, and they stream
 * beside the blocks, a line each second block. A row's set bits past the block's capacity, which the
 * reference decodes to zero, are cleared; every block then holds the reference's weights exactly.
 * Activations: Q8_0, as for Q8_0_R16 (the same 16-bit patterns), so a product differs from the row
 * layout's float-activation reference by the activations' rounding.
 *
 * <p>Q4 values: each step's values in its mask's bit order as signed levels q − 8 in nibbles, two a
 * byte (the first in the low nibble), a step's run starting on a whole byte (after a step with an odd
 * count the last high nibble is zero). A kernel zero-extends a step's 32 value bytes to shorts, ORs each
 * with itself shifted up four (so every byte's low nibble is the next value), and expands those 64 bytes
 * by the mask in one instruction: one expansion a step, where two streams of half the rows each (one
 * nibble of each byte) took two and four stream places (decode-shaped harness: docs/performance.md,
 * session 37). The byte alignment costs at most 32 bytes a block of 16 rows ({@link #blockBytes}: the
 * row layout's plus two a row). A row holds at most c values a block, so the 16 rows' runs fit.
 */
public final class SlicedBitmapEncoding extends SlicedEncoding {
    /** Sieve's ids: 3500 + c − 1 for Q8, 3756 + c − 1 for Q4, after the padded bitmaps' 2464 + 4 · 256. */
    private static final int ID = 3500;
    private static final int BLOCK = SparseEncoding.BITMAP_BLOCK;
    /** Steps per block: four columns of 16 rows each. */
    public static final int STEPS = BLOCK / 4;
    private static final BitmapLayouts<SlicedBitmapEncoding> ALL = new BitmapLayouts<>(SlicedBitmapEncoding::new);
    private static final ValueLayout.OfLong LONG_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private final SparseEncoding source;
    private final int capacity;
    private final boolean q4;
    /** Bytes of the row layout's values a block (Q8: c; Q4: c / 2 rounded up). */
    private final int valueBytes;

    private SlicedBitmapEncoding(SparseEncoding source) {
        super(source);
        this.source = source;
        this.capacity = source.capacity();
        this.q4 = source.values() == SparseEncoding.Values.Q4;
        this.valueBytes = source.blockBytes() - source.valuesAt();
    }

    /** Whether {@code e} has this layout: a bitmap encoding with Q8 or Q4 values (not its padded form). */
    public static boolean slices(WeightEncoding e) {
        return e instanceof SparseEncoding s && !s.isNM() && !s.isPadded()
                && (s.values() == SparseEncoding.Values.Q8 || s.values() == SparseEncoding.Values.Q4);
    }

    /** The 16-row layout of {@code e}, a bitmap encoding with Q8 or Q4 values ({@link #slices}). */
    public static SlicedBitmapEncoding of(WeightEncoding e) {
        if (!slices(e)) {
            throw new IllegalArgumentException("16-row bitmap layouts hold bitmap blocks with Q8 or Q4 values, not " + e.name());
        }
        return ALL.of((SparseEncoding) e);
    }

    @Override public SparseEncoding source() { return source; }
    @Override public String name() { return source.name() + "_R"; }
    @Override public int ggmlType() { return ID + (q4 ? BLOCK : 0) + capacity - 1; }

    /** Whether the values are Q4 (two a byte, each step's run on whole bytes), else Q8. */
    public boolean q4() {
        return q4;
    }

    /** Q8_0: the kernel multiplies the activations' levels in 16-bit lanes, as Q8_0_R16's does. */
    @Override public WeightEncoding activationEncoding() { return Q8_0Encoding.INSTANCE; }

    /** Bytes of a block's masks, which lead its values. */
    public static final int MASKS = 8 * STEPS;

    /** Q4: the row layout's bytes plus two a row, room for the steps' runs to start on whole bytes. */
    @Override
    public int blockBytes() {
        return source.blockBytes() + (q4 ? Q4_ALIGN / ROWS : 0);
    }

    /** Q4: bytes a block may need beyond its 8c for its 64 steps' runs to start on whole bytes. */
    private static final int Q4_ALIGN = STEPS / 2;

    /** Bytes of a block's masks and values (Q8: 16c; Q4: 8c, rounded up, plus 32). */
    public long bodyBytes() {
        return MASKS + (long) ROWS * valueBytes + (q4 ? Q4_ALIGN : 0);
    }

    /** Byte offset, from its slice's start, of block b's masks (its values follow them). */
    public long bodyAt(int b) {
        return b * bodyBytes();
    }

    /** Byte offset, from its slice's start, of block b's scales in a row of {@code nb} blocks. */
    public long scalesAt(int nb, int b) {
        return nb * bodyBytes() + (long) SCALES * source.tiles() * b;
    }

    /** Row (lane) of bit p of a step's mask. */
    static int rowOf(int p) {
        return p % 32 / 2;
    }

    /** Column within its step (0..3) of bit p of a step's mask. */
    static int columnOf(int p) {
        return 2 * (p / 32) + p % 2;
    }

    @Override
    public void dequantizeBlocks(MemorySegment m, long sliceBase, int rowBlocks, int l, int block0, int blocks, float[] dst, int off) {
        for (int j = 0; j < blocks; j++) {
            long bo = sliceBase + bodyAt(block0 + j), so = sliceBase + scalesAt(rowBlocks, block0 + j);
            long[] v = {bo + MASKS, 0};
            int out = off + j * BLOCK;
            java.util.Arrays.fill(dst, out, out + BLOCK, 0f);
            for (int s = 0; s < STEPS; s++) {
                alignStep(v);
                for (long mask = m.get(LONG_LE, bo + 8L * s); mask != 0; mask &= mask - 1) {
                    int p = Long.numberOfTrailingZeros(mask), c = 4 * s + columnOf(p), q = nextLevel(m, v);
                    if (rowOf(p) == l) {
                        dst[out + c] = q * Half.f16(m, so + 32L * (c / 64) + 2L * l);
                    }
                }
            }
        }
    }

    /** Against Q8_0 activations: per 32-column block the integer sum of levels times activation levels, times both scales. */
    /**
     * The level of the next value, advancing the stream: Q8 the byte at {@code v[0]}; Q4 the nibble
     * {@code v[1]} (0 low, 1 high) of the byte at {@code v[0]}.
     */
    private int nextLevel(MemorySegment m, long[] v) {
        if (!q4) {
            return Half.i8(m, v[0]++);
        }
        int b = Half.u8(m, v[0]);
        if (v[1] == 0) {
            v[1] = 1;
            return (byte) (b << 4) >> 4;
        }
        v[1] = 0;
        v[0]++;
        return (byte) b >> 4;
    }

    /** Q4: a step's run starts on a whole byte. */
    private void alignStep(long[] v) {
        if (q4 && v[1] != 0) {
            v[0]++;
            v[1] = 0;
        }
    }

    @Override
    public float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        long base = sliceOffset(rowBytes, row);
        int l = row % ROWS;
        float sum = 0;
        int nb = cols / BLOCK;
        for (int j = 0; j < nb; j++) {
            long bo = base + bodyAt(j), so = base + scalesAt(nb, j);
            long[] v = {bo + MASKS, 0};
            int[] sums = new int[BLOCK / Q8_0Encoding.QK];
            for (int s = 0; s < STEPS; s++) {
                alignStep(v);
                for (long mask = w.get(LONG_LE, bo + 8L * s); mask != 0; mask &= mask - 1) {
                    int p = Long.numberOfTrailingZeros(mask), c = 4 * s + columnOf(p), q = nextLevel(w, v);
                    if (rowOf(p) == l) {
                        long ab = aOffset + (long) Q8_0Encoding.BLOCK_BYTES * ((BLOCK * j + c) / Q8_0Encoding.QK);
                        sums[c / Q8_0Encoding.QK] += q * Half.i8(a, ab + 2 + c % Q8_0Encoding.QK);
                    }
                }
            }
            for (int k = 0; k < sums.length; k++) {
                long ab = aOffset + (long) Q8_0Encoding.BLOCK_BYTES * (BLOCK / Q8_0Encoding.QK * j + k);
                sum += sums[k] * Half.f16(w, so + 32L * (k / 2) + 2L * l) * Half.f16(a, ab);
            }
        }
        return sum;
    }

    /**
     * Per block: each row's tile masks (set bits past the capacity cleared, as the reference decodes
     * them to zero) spread into the steps' masks four columns at a time, then each step's values taken
     * in its mask's order, which is each row's value order (a row's columns come in ascending order
     * across a block's steps), so a pointer per row finds them. A position at a time, a 1.1B model's
     * relayout took 8 s.
     */
    @Override
    void interleaveSlice(byte[] in, int rowBytes, byte[] out, int blocks) {
        int bb = source.blockBytes(), tiles = source.tiles();
        long[] masks = new long[ROWS * tiles];
        int[] next = new int[ROWS];
        byte[][] levels = q4 ? new byte[ROWS][BLOCK] : null;
        for (int j = 0; j < blocks; j++) {
            int bo = (int) bodyAt(j), v = bo + MASKS, so = (int) scalesAt(blocks, j);
            for (int l = 0; l < ROWS; l++) {
                int ro = l * rowBytes + j * bb, left = capacity;
                next[l] = ro + source.valuesAt();
                for (int t = 0; t < tiles; t++) {
                    long mask = 0;
                    for (int b = 0; b < 8; b++) {
                        mask |= (in[ro + source.masksAt() + 8 * t + b] & 0xFFL) << 8 * b;
                    }
                    if (Long.bitCount(mask) > left) { // set bits past the capacity are zeros: dropped
                        mask = Long.expand((1L << left) - 1, mask);
                    }
                    left -= Long.bitCount(mask);
                    masks[tiles * l + t] = mask;
                    out[so + 32 * t + 2 * l] = in[ro + 2 * t];
                    out[so + 32 * t + 2 * l + 1] = in[ro + 2 * t + 1];
                }
                if (q4) {
                    q4Levels(in, ro, masks, l, levels[l]);
                }
            }
            if (q4) {
                q4Steps(masks, levels, out, bo);
                continue;
            }
            for (int s = 0; s < STEPS; s++) {
                long mask = stepMask(masks, out, bo, s);
                for (long m = mask; m != 0; m &= m - 1) {
                    out[v++] = in[next[rowOf(Long.numberOfTrailingZeros(m))]++];
                }
            }
            java.util.Arrays.fill(out, v, bo + (int) bodyBytes(), (byte) 0);
        }
    }

    /** Step s's mask from the 16 rows' tile masks (four columns of each), also written to the block at {@code out[bo + 8s..]}. */
    private long stepMask(long[] masks, byte[] out, int bo, int s) {
        int tiles = source.tiles();
        long mask = 0;
        for (int l = 0; l < ROWS; l++) {
            long four = masks[tiles * l + s / 16] >>> 4 * (s % 16);
            mask |= (four & 3) << 2 * l | (four >>> 2 & 3) << 32 + 2 * l;
        }
        for (int b = 0; b < 8; b++) {
            out[bo + 8 * s + b] = (byte) (mask >>> 8 * b);
        }
        return mask;
    }

    /**
     * Q4: row l's levels (q − 8) at their columns, from the row layout's block at {@code in[ro..]}
     * (value r in byte r's low nibble below c / 2, else in byte r − c / 2's high nibble).
     */
    private void q4Levels(byte[] in, int ro, long[] masks, int l, byte[] level) {
        java.util.Arrays.fill(level, (byte) 0);
        int tiles = source.tiles(), half = capacity / 2, r = 0;
        for (int t = 0; t < tiles; t++) {
            for (long m = masks[tiles * l + t]; m != 0; m &= m - 1, r++) {
                int b = in[ro + source.valuesAt() + (r < half ? r : r - half)] & 0xFF;
                level[64 * t + Long.numberOfTrailingZeros(m)] = (byte) ((r < half ? b & 15 : b >>> 4) - 8);
            }
        }
    }

    /** Q4: the block's step masks, then each step's levels in its mask's order, two a byte, each step's run from a whole byte. */
    private void q4Steps(long[] masks, byte[][] levels, byte[] out, int bo) {
        int v = bo + MASKS;
        java.util.Arrays.fill(out, v, bo + (int) bodyBytes(), (byte) 0);
        for (int s = 0; s < STEPS; s++) {
            long mask = stepMask(masks, out, bo, s);
            int k = 0;
            for (long m = mask; m != 0; m &= m - 1, k++) {
                int p = Long.numberOfTrailingZeros(m), q = levels[rowOf(p)][4 * s + columnOf(p)] & 15;
                out[v + k / 2] |= (byte) (q << 4 * (k % 2));
            }
            v += (k + 1) / 2;
        }
    }
}
