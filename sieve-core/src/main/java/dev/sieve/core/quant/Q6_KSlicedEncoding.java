package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q6_K_R16: Q6_K's values with every 16 rows interleaved and each 6-bit level widened to a signed byte
 * (a {@link SlicedEncoding}, made at load at 512 bits). Per 16-row slice and 256-column block, 4,384
 * bytes, the 16 rows' 274 (Q6_K's 210: 8.56 bits a weight against 6.56):
 * <pre>
 *   d[16]          f16   row l's super-block scale at 2·l
 *   sc[16][16]     i8    sub-block s's scale of row l at 32 + 16·s + l
 *   q[128][16][2]  i8    levels − 32 of weights 2p and 2p + 1 of row l at 288 + 32·p + 2·l and the byte after
 * </pre>
 * so the codes are placed as {@link Q8_0SlicedEncoding}'s (a 64-byte load is two column pairs of the
 * 16 rows) and each sub-block's 16 row scales are one 16-byte load. Weight = d·sc·(q − 32), Q6_K's
 * values bit for bit. Activations Q8_0 (where Q6_K's are Q8_K): the 16-bit decode kernel shares
 * Q8_0_R16's column patterns. Why a larger layout: Q6_K's row decoder assembles each level from a
 * nibble and two high bits before it can multiply, about twice llama.cpp's time in cache; bytes
 * multiply as Q8_0_R16's do (docs/performance.md, session 32). The d[16] of all a slice's blocks lead
 * it ({@link #headAt}: 32·b), the blocks' sc and q follow ({@link #blockAt}, the offsets above less the
 * 32 bytes of d), as Q4_K_R16's heads do: the decode kernel converts a slice's d before its sub-blocks.
 */
public final class Q6_KSlicedEncoding extends SlicedEncoding {
    public static final Q6_KSlicedEncoding INSTANCE = new Q6_KSlicedEncoding();
    /** Sieve's id, after Q8_0_R16's 2310. */
    private static final int ID = 2311;
    private static final int QK = Q6_KEncoding.QK;
    private static final int SOURCE_BB = Q6_KEncoding.BLOCK_BYTES;
    /** Bytes of a row's block here: 256 levels, 16 scales, d. */
    private static final int BB = QK + QK / 16 + 2;
    /** Offset of the scales and of the levels in a slice block. */
    public static final int SC = SCALES;
    public static final int CODES = SCALES + ROWS * QK / 16;

    private Q6_KSlicedEncoding() {
        super(Q6_KEncoding.INSTANCE);
    }

    @Override public String name() { return "Q6_K_R16"; }
    @Override public int ggmlType() { return ID; }
    @Override public int blockBytes() { return BB; }
    @Override public WeightEncoding activationEncoding() { return Q8_0Encoding.INSTANCE; }

    /** Where block b's d[16] lies in the slice at {@code sliceBase}: the slice's heads lead it (as {@link Q4_KSlicedEncoding}'s). */
    public static long headAt(long sliceBase, int b) {
        return sliceBase + (long) SCALES * b;
    }

    /**
     * Block b's origin for {@link #SC} and {@link #CODES} in the slice at {@code sliceBase} (rows of {@code
     * rowBlocks} blocks): its body (scales, then levels) starts {@link #SCALES} bytes after it.
     */
    public static long blockAt(long sliceBase, int rowBlocks, int b) {
        return sliceBase + (long) SCALES * rowBlocks + (long) (ROWS * BB - SCALES) * b - SCALES;
    }

    /** Offset of weight k (of 256) of lane l from a block's origin ({@link #blockAt}). */
    private static long at(int k, int l) {
        return CODES + 2L * ROWS * (k / 2) + 2L * l + k % 2;
    }

    /** Each row's blocks: d to the slice's d[16], its 16 scales to sc, its levels (−32 each) to the pairs. */
    @Override
    void interleaveSlice(byte[] in, int rowBytes, byte[] out, int blocks) {
        byte[] levels = new byte[QK];
        for (int b = 0; b < blocks; b++) {
            int ho = (int) headAt(0, b), bo = (int) blockAt(0, blocks, b);
            for (int l = 0; l < ROWS; l++) {
                int blk = l * rowBytes + b * SOURCE_BB;
                out[ho + 2 * l] = in[blk + SOURCE_BB - 2]; // d, Q6_K's last two bytes
                out[ho + 2 * l + 1] = in[blk + SOURCE_BB - 1];
                for (int s = 0; s < QK / 16; s++) {
                    out[bo + SC + ROWS * s + l] = in[blk + QK / 2 + QK / 4 + s];
                }
                Q6_KEncoding.levels(in, blk, levels);
                for (int k = 0; k < QK; k++) {
                    out[bo + (int) at(k, l)] = levels[k];
                }
            }
        }
    }

    /** d·sc·(q − 32), rounded as Q6_K's reference decoder rounds it (d·sc first). */
    @Override
    public void dequantizeBlocks(MemorySegment m, long sliceBase, int rowBlocks, int l, int block0, int blocks, float[] dst, int off) {
        for (int j = 0; j < blocks; j++) {
            long bo = blockAt(sliceBase, rowBlocks, block0 + j);
            float d = Half.f16(m, headAt(sliceBase, block0 + j) + 2L * l);
            for (int s = 0; s < QK / 16; s++) {
                float dl = d * m.get(ValueLayout.JAVA_BYTE, bo + SC + ROWS * s + l);
                for (int k = 16 * s; k < 16 * s + 16; k++) {
                    dst[off + j * QK + k] = dl * m.get(ValueLayout.JAVA_BYTE, bo + at(k, l));
                }
            }
        }
    }

    /**
     * The row against Q8_0 activations (34-byte blocks: f16 d, 32 levels), in the 16-bit kernel's
     * order: per 32 columns the two sub-blocks' integer sums times their scales, as an int; that
     * times d_w·d_x, summed in float.
     */
    @Override
    public float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        long base = sliceOffset(rowBytes, row);
        int l = row % ROWS;
        float sum = 0;
        for (int c0 = 0; c0 < cols; c0 += 32) {
            long bo = blockAt(base, cols / QK, c0 / QK), ab = aOffset + (long) (c0 / 32) * Q8_0Encoding.BLOCK_BYTES;
            int k0 = c0 % QK, block = 0;
            for (int s = k0 / 16; s < k0 / 16 + 2; s++) {
                int sub = 0;
                for (int k = 16 * s; k < 16 * s + 16; k++) {
                    sub += w.get(ValueLayout.JAVA_BYTE, bo + at(k, l)) * a.get(ValueLayout.JAVA_BYTE, ab + 2 + k - k0);
                }
                block += sub * w.get(ValueLayout.JAVA_BYTE, bo + SC + ROWS * s + l);
            }
            sum += block * (Half.f16(w, headAt(base, c0 / QK) + 2L * l) * Half.f16(a, ab));
        }
        return sum;
    }
}
