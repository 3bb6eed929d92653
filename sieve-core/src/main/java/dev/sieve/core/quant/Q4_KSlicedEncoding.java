package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/**
 * Q4_K_R16: {@link Q4_KRepackedEncoding}'s blocks (Q4_K's values, each sub-block's nibbles in Q4_0's
 * order, scales and mins one byte each) with every 16 rows interleaved (a {@link SlicedEncoding},
 * made at load at 512 bits from Q4_K or Q4_K_R). Per 16-row slice and 256-column block, 2,368 bytes,
 * the 16 rows' 148, in two parts: the slice's heads first, block b's 64 bytes at 64·b ({@link #headAt}),
 * <pre>
 *   d[16]        f16   row l's at 2·l
 *   dmin[16]     f16   row l's at 32 + 2·l
 * </pre>
 * then the blocks' bodies, block b's 2,304 bytes at 64·B + 2,304·b for a row of B blocks ({@link #bodyAt}),
 * <pre>
 *   per sub-block j = 0..7, at 288·j:
 *     sc[16]     u8    row l's scale at l
 *     m[16]      u8    row l's min at 16 + l
 *     q[16][16]  u8    byte p of row l's sub-block (weight 32j + p low, 32j + 16 + p high) at 32 + 16·p + l
 * </pre>
 * so a sub-block's nibbles are placed as a Q4_0_R16 block's ({@link Q4_0SlicedEncoding}) and its
 * 16 rows' scales and mins are one 16-byte load each: the lane-per-row kernels of Q4_0_R16 apply,
 * with d·sc per row where Q4_0 has d and dmin·m·Σx where it has 8·d·Σx. Why: Q4_K_R's row decoder
 * reduces across lanes and handles scales per row; here a sub-block's scales serve 16 rows and no
 * lane is reduced. Values and activations (Q8_0, a block per sub-block) are Q4_K_R's. The heads lead
 * the slice because the decode kernel converts a slice's d and dmin before its sub-blocks: read from
 * between the bodies (one line in 36) they came from memory before any arithmetic (6% of Q4_K_M's decode).
 */
public final class Q4_KSlicedEncoding extends SlicedEncoding {
    public static final Q4_KSlicedEncoding INSTANCE = new Q4_KSlicedEncoding();
    /** Sieve's id, after Q4_0_R16's 2308. */
    private static final int ID = 2309;
    private static final int QK = Q4_KRepackedEncoding.QK;
    private static final int BB = Q4_KRepackedEncoding.BLOCK_BYTES;
    /** Bytes before a slice block's first sub-block: d[16] and dmin[16]. */
    public static final int HEAD = 4 * ROWS;
    /** Bytes of one sub-block of a slice: sc[16], m[16], the 16 rows' 16 nibble bytes. */
    public static final int SUB = 2 * ROWS + ROWS * 16;
    /** Offset of the nibble bytes in a slice sub-block. */
    public static final int NIBBLES = 2 * ROWS;
    /** Bytes of a slice block's body: its eight sub-blocks. */
    public static final int BODY = 8 * SUB;

    /** Where block b's head (d, dmin) lies in the slice at {@code sliceBase}. */
    public static long headAt(long sliceBase, int b) {
        return sliceBase + (long) HEAD * b;
    }

    /** Where block b's body (its sub-blocks) lies in the slice at {@code sliceBase}, whose rows hold {@code rowBlocks} blocks. */
    public static long bodyAt(long sliceBase, int rowBlocks, int b) {
        return sliceBase + (long) HEAD * rowBlocks + (long) BODY * b;
    }

    private Q4_KSlicedEncoding() {
        super(Q4_KRepackedEncoding.INSTANCE);
    }

    @Override public String name() { return "Q4_K_R16"; }
    @Override public int ggmlType() { return ID; }
    @Override public WeightEncoding activationEncoding() { return Q8_0Encoding.INSTANCE; }

    /** From Q4_K_R, or from Q4_K (rewritten as Q4_K_R rows first, losslessly). */
    @Override
    public boolean repacks(WeightEncoding from) {
        return from == source() || from == Q4_KEncoding.INSTANCE;
    }

    @Override
    void sourceRows(WeightEncoding from, byte[] in, int inRowBytes, byte[] out, int rowBytes, int blocks) {
        MemorySegment src = MemorySegment.ofArray(in), dst = MemorySegment.ofArray(out);
        for (int l = 0; l < ROWS; l++) {
            Q4_KRepackedEncoding.INSTANCE.repackBlocks(src, (long) l * inRowBytes, dst, (long) l * rowBytes, blocks);
        }
    }

    @Override
    void interleaveSlice(byte[] in, int rowBytes, byte[] out, int blocks) {
        long[] r = new long[8];
        for (int b = 0; b < blocks; b++) {
            int blk = b * BB, ho = (int) headAt(0, b), bo = (int) bodyAt(0, blocks, b);
            for (int l = 0; l < ROWS; l++) {
                int row = l * rowBytes + blk;
                out[ho + 2 * l] = in[row];
                out[ho + 2 * l + 1] = in[row + 1];
                out[ho + 2 * ROWS + 2 * l] = in[row + Q4_KRepackedEncoding.DMIN];
                out[ho + 2 * ROWS + 2 * l + 1] = in[row + Q4_KRepackedEncoding.DMIN + 1];
                for (int j = 0; j < 8; j++) {
                    out[bo + SUB * j + l] = in[row + Q4_KRepackedEncoding.SC + j];
                    out[bo + SUB * j + ROWS + l] = in[row + Q4_KRepackedEncoding.M + j];
                }
            }
            for (int j = 0; j < 8; j++) {
                Q4_0SlicedEncoding.transpose16(in, blk + Q4_KRepackedEncoding.QS + 16 * j, rowBytes, out,
                        bo + SUB * j + NIBBLES, r);
            }
        }
    }

    /** Lane {@code l}'s block b of the slice at {@code base} (rows of {@code rowBlocks} blocks), back in Q4_K_R's 148 bytes at {@code blk}. */
    private static void rowBlock(MemorySegment m, long base, int rowBlocks, int b, int l, MemorySegment blk) {
        long ho = headAt(base, b), bo = bodyAt(base, rowBlocks, b);
        MemorySegment.copy(m, ho + 2L * l, blk, 0, 2);
        MemorySegment.copy(m, ho + 2L * ROWS + 2L * l, blk, Q4_KRepackedEncoding.DMIN, 2);
        for (int j = 0; j < 8; j++) {
            long sub = bo + (long) SUB * j;
            MemorySegment.copy(m, sub + l, blk, Q4_KRepackedEncoding.SC + j, 1);
            MemorySegment.copy(m, sub + ROWS + l, blk, Q4_KRepackedEncoding.M + j, 1);
            for (int p = 0; p < 16; p++) {
                MemorySegment.copy(m, sub + NIBBLES + (long) ROWS * p + l, blk, Q4_KRepackedEncoding.QS + 16L * j + p, 1);
            }
        }
    }

    /** Q4_K_R's own decoder on each block put back in its layout, so the values are Q4_K's, bit for bit. */
    @Override
    public void dequantizeBlocks(MemorySegment m, long sliceBase, int rowBlocks, int l, int block0, int blocks, float[] dst, int off) {
        MemorySegment blk = MemorySegment.ofArray(new byte[BB]);
        for (int j = 0; j < blocks; j++) {
            rowBlock(m, sliceBase, rowBlocks, block0 + j, l, blk);
            Q4_KRepackedEncoding.INSTANCE.dequantize(blk, 0, dst, off + j * QK, QK);
        }
    }

    /** Q4_K_R's dot against Q8_0 activations on the row put back in its layout: the same float as the row layout's. */
    @Override
    public float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        MemorySegment r = MemorySegment.ofArray(new byte[cols / QK * BB]);
        long base = sliceOffset(rowBytes, row);
        for (int j = 0; j < cols / QK; j++) {
            rowBlock(w, base, cols / QK, j, row % ROWS, r.asSlice((long) j * BB, BB));
        }
        return Q4_KRepackedEncoding.INSTANCE.dotQuantized(r, 0, a, aOffset, cols);
    }
}
