package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Q4_0_R16: {@link Q4_0Encoding}'s blocks with every 16 rows interleaved (a {@link SlicedEncoding},
 * made at load at 512 bits). Per 16-row slice and 32-column block, 288 bytes, the 16 rows' 18:
 * <pre>
 *   d[16]       f16   row l's scale at 2·l
 *   q[16][16]   u8    byte j of row l's block at 32 + 16·j + l (weight j low, weight j + 16 high)
 * </pre>
 * so one 16-byte load holds the same byte of 16 rows, and its two nibbles are columns j and j + 16
 * for 16 rows: a vector lane per row, each column's activation broadcast to all lanes. Why: Q4_0's
 * row decoder spends most of its time on per-block work (a scale, two reductions) and on address
 * arithmetic (about 45 instructions per 32 weights, docs/performance.md); here a block's scales are
 * one vector for 16 rows and a lane never needs reducing. Values and activations (Q8_0) are Q4_0's.
 * Scales are finite: a source block with an infinite or NaN scale is refused when the layout is made.
 */
public final class Q4_0SlicedEncoding extends SlicedEncoding {
    public static final Q4_0SlicedEncoding INSTANCE = new Q4_0SlicedEncoding();
    /** Sieve's id, after Q4_0_R's 2307. */
    private static final int ID = 2308;
    private static final int QK = Q4_0Encoding.QK;

    private Q4_0SlicedEncoding() {
        super(Q4_0Encoding.INSTANCE);
    }

    @Override public String name() { return "Q4_0_R16"; }
    @Override public int ggmlType() { return ID; }
    @Override public WeightEncoding activationEncoding() { return Q8_0Encoding.INSTANCE; }

    /**
     * From Q4_0, or from a bitmap type with Q4 values ({@code Q4_B<c>}, 64-position tiles), rewritten as
     * Q4_0 rows first, losslessly: a tile's scale is both of its 32-column blocks' d, a stored level keeps
     * its nibble, an unset position takes nibble 8 (level 0). At 512 bits the loader makes the denser
     * bitmap Q4 types this layout where their own decode is slower than Q4_0's
     * ({@code PanamaKernels.preferredLayout}).
     */
    @Override
    public boolean repacks(WeightEncoding from) {
        return from == source() || bitmapQ4(from);
    }

    /** Whether {@code e} is a file's bitmap type with Q4 values (tiles of 64, blocks unpadded). */
    public static boolean bitmapQ4(WeightEncoding e) {
        return e instanceof SparseEncoding s && s.values() == SparseEncoding.Values.Q4 && !s.isNM() && !s.isPadded()
                && s.tileBits() == 64;
    }

    @Override
    void sourceRows(WeightEncoding from, byte[] in, int inRowBytes, byte[] out, int rowBytes, int blocks) {
        if (!bitmapQ4(from)) {
            super.sourceRows(from, in, inRowBytes, out, rowBytes, blocks); // throws: not a source of this layout
            return;
        }
        SparseEncoding s = (SparseEncoding) from;
        int tiles = s.tiles(), cap = s.capacity(), half = cap / 2, bb = Q4_0Encoding.BLOCK_BYTES;
        for (int l = 0; l < ROWS; l++) {
            for (int b = 0; b < blocks / (2 * tiles); b++) {
                int so = l * inRowBytes + b * s.blockBytes(), vo = so + s.valuesAt();
                for (int t = 0, r = 0; t < tiles; t++) { // r: the block's value for the tile's first set bit
                    long mask = (long) LONGS.get(in, so + s.masksAt() + 8 * t);
                    for (int h = 0; h < 2; h++) { // the tile's two Q4_0 blocks
                        int o = l * rowBytes + (b * 2 * tiles + 2 * t + h) * bb;
                        out[o] = in[so + 2 * t];
                        out[o + 1] = in[so + 2 * t + 1];
                        for (int j = 0; j < QK / 2; j++) {
                            int p = 32 * h + j;
                            out[o + 2 + j] = (byte) (nibble(in, vo, mask, p, r, cap, half) | nibble(in, vo, mask, p + 16, r, cap, half) << 4);
                        }
                    }
                    r += Long.bitCount(mask);
                }
            }
        }
    }

    /**
     * Q4_0's nibble for tile position p: the stored value's (the block's value r + the set bits before p,
     * its nibble by the bitmap Q4 rule), or 8 (level 0) where p is unset or its value past the capacity.
     */
    private static int nibble(byte[] in, int vo, long mask, int p, int r, int cap, int half) {
        if ((mask >>> p & 1) == 0) {
            return 8;
        }
        int v = r + Long.bitCount(mask & ((1L << p) - 1));
        if (v >= cap) {
            return 8;
        }
        int b = in[vo + (v < half ? v : v - half)] & 0xFF;
        return v < half ? b & 0x0F : b >>> 4;
    }

    /**
     * This layout holds finite scales only: its 16-bit decode converts them without an infinity or NaN
     * case (three vector operations a block and slice where the general conversion takes ten), and a
     * block whose scale is infinite or NaN would make every product with its row infinite or NaN anyway.
     */
    private static void requireFiniteScale(int half, int row, int block) {
        if ((half & 0x7C00) == 0x7C00) {
            throw new IllegalArgumentException(String.format(
                    "Q4_0 block %d of row %d (of a 16-row slice) has %s scale (f16 0x%04x): the weights are corrupt",
                    block, row, (half & 0x3FF) == 0 ? "an infinite" : "a NaN", half));
        }
    }

    /**
     * Each block's nibble bytes are one 16 × 16 byte transpose (row l's byte j to {@code 16·j + l}),
     * done as four 8 × 8 transposes of longs, three rounds of masked swaps each (Hacker's Delight 7-3,
     * on bytes). A byte at a time, 5632 × 2048 took 3.5 ms (a 1.1B model's start 0.4 s longer); this
     * way 2.6.
     */
    @Override
    void interleaveSlice(byte[] in, int rowBytes, byte[] out, int blocks) {
        int bb = Q4_0Encoding.BLOCK_BYTES;
        long[] r = new long[8];
        for (int j = 0; j < blocks; j++) {
            int blk = j * bb, bo = j * ROWS * bb;
            for (int l = 0; l < ROWS; l++) {
                requireFiniteScale(in[l * rowBytes + blk] & 0xFF | (in[l * rowBytes + blk + 1] & 0xFF) << 8, l, j);
            }
            copyScales(in, rowBytes, out, j, bo);
            transpose16(in, blk + 2, rowBytes, out, bo + SCALES, r);
        }
    }

    /**
     * 16 rows' 16 bytes ({@code in[at + l·stride + j]} for row l) to {@code out[to + 16·j + l]}, through
     * {@code r} (eight longs of scratch): four 8 × 8 transposes.
     */
    static void transpose16(byte[] in, int at, int stride, byte[] out, int to, long[] r) {
        for (int h = 0; h < 2; h++) { // rows 8h .. 8h + 7
            for (int half = 0; half < 2; half++) { // their bytes 8·half .. 8·half + 7
                for (int i = 0; i < 8; i++) {
                    r[i] = (long) LONGS.get(in, at + (8 * h + i) * stride + 8 * half);
                }
                transpose8(r);
                for (int c = 0; c < 8; c++) { // byte 8·half + c of the 8 rows
                    LONGS.set(out, to + ROWS * (8 * half + c) + 8 * h, r[c]);
                }
            }
        }
    }

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** Byte c of r[l] becomes byte l of r[c] (little-endian bytes: byte k is bits 8k .. 8k + 7). */
    static void transpose8(long[] r) {
        swap(r, 4, 32, 0x00000000FFFFFFFFL);
        swap(r, 2, 16, 0x0000FFFF0000FFFFL);
        swap(r, 1, 8, 0x00FF00FF00FF00FFL);
    }

    /** For every pair (i, i + d) with i's bit d clear: exchange i's high and (i + d)'s low parts of each 2s-bit field. */
    private static void swap(long[] r, int d, int s, long lowMask) {
        for (int i = 0; i < 8; i++) {
            if ((i & d) == 0) {
                long a = r[i], b = r[i + d];
                r[i] = (a & lowMask) | ((b & lowMask) << s);
                r[i + d] = ((a >>> s) & lowMask) | (b & ~lowMask);
            }
        }
    }

    /** Lane {@code l}'s block at slice block {@code bo}, back in Q4_0's 18 bytes at {@code blk}. */
    private static void rowBlock(MemorySegment m, long bo, int l, MemorySegment blk) {
        MemorySegment.copy(m, bo + 2L * l, blk, 0, 2);
        for (int j = 0; j < QK / 2; j++) {
            MemorySegment.copy(m, bo + SCALES + (long) ROWS * j + l, blk, 2 + j, 1);
        }
    }

    /**
     * Q4_0's reference decode read in place, (q − 8)·d with Q4_0's rounding, so the values are Q4_0's bit
     * for bit (a tied head in this layout is also the token embedding: a row is decoded per token).
     */
    @Override
    public void dequantizeBlocks(MemorySegment m, long sliceBase, int rowBlocks, int l, int block0, int blocks, float[] dst, int off) {
        for (int j = 0; j < blocks; j++) {
            long bo = sliceBase + (block0 + j) * sliceBlockBytes();
            float d = Half.f16(m, bo + 2L * l);
            int out = off + j * QK;
            for (int k = 0; k < QK / 2; k++) {
                int q = Half.u8(m, bo + SCALES + (long) ROWS * k + l);
                dst[out + k] = ((q & 0x0F) - 8) * d;
                dst[out + k + QK / 2] = ((q >>> 4) - 8) * d;
            }
        }
    }

    /** Q4_0's dot against Q8_0 activations, block by block in its order: the same float as the row layout's. */
    @Override
    public float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        MemorySegment blk = MemorySegment.ofArray(new byte[Q4_0Encoding.BLOCK_BYTES]);
        long base = sliceOffset(rowBytes, row);
        float sum = 0;
        for (int j = 0; j < cols / QK; j++) {
            rowBlock(w, base + j * sliceBlockBytes(), row % ROWS, blk);
            sum += Q4_0Encoding.INSTANCE.dotQuantized(blk, 0, a, aOffset + (long) j * Q8_0Encoding.BLOCK_BYTES, QK);
        }
        return sum;
    }
}
