package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;

/**
 * Q8_0_R16: {@link Q8_0Encoding}'s blocks with every 16 rows interleaved (a {@link SlicedEncoding},
 * made at load at 512 bits). Per 16-row slice and 32-column block, 544 bytes, the 16 rows' 34:
 * <pre>
 *   d[16]         f16   row l's scale at 2·l
 *   q[16][16][2]  i8    weights 2p and 2p + 1 of row l at 32 + 32·p + 2·l and the byte after
 * </pre>
 * so a 64-byte load is two column pairs of 16 rows, read by the decode kernel as 32 shorts, each one
 * row's two weights of a pair: its low byte times one column's activation plus its high byte times the
 * next is that row's pair in 16 bits. Values and activations (Q8_0) are Q8_0's.
 */
public final class Q8_0SlicedEncoding extends SlicedEncoding {
    public static final Q8_0SlicedEncoding INSTANCE = new Q8_0SlicedEncoding();
    /** Sieve's id, after Q4_0_R16's 2308. */
    private static final int ID = 2310;
    private static final int QK = Q8_0Encoding.QK;
    private static final int BB = Q8_0Encoding.BLOCK_BYTES;

    private Q8_0SlicedEncoding() {
        super(Q8_0Encoding.INSTANCE);
    }

    @Override public String name() { return "Q8_0_R16"; }
    @Override public int ggmlType() { return ID; }
    @Override public WeightEncoding activationEncoding() { return Q8_0Encoding.INSTANCE; }

    /** Each block's 16 byte pairs per row to pair-major order (row l's pair p to {@code 32·p + 2·l}). */
    @Override
    void interleaveSlice(byte[] in, int rowBytes, byte[] out, int blocks) {
        for (int j = 0; j < blocks; j++) {
            int blk = j * BB, bo = j * ROWS * BB;
            copyScales(in, rowBytes, out, j, bo);
            for (int l = 0; l < ROWS; l++) {
                int row = l * rowBytes + blk + 2;
                for (int p = 0; p < QK / 2; p++) {
                    out[bo + SCALES + 2 * ROWS * p + 2 * l] = in[row + 2 * p];
                    out[bo + SCALES + 2 * ROWS * p + 2 * l + 1] = in[row + 2 * p + 1];
                }
            }
        }
    }

    /** Offset of weight k of lane l in a slice block. */
    private static long at(int k, int l) {
        return SCALES + 2L * ROWS * (k / 2) + 2L * l + k % 2;
    }

    /** Q8_0's reference decode read in place (q·d), so the values are Q8_0's bit for bit. */
    @Override
    public void dequantizeBlocks(MemorySegment m, long sliceBase, int rowBlocks, int l, int block0, int blocks, float[] dst, int off) {
        for (int j = 0; j < blocks; j++) {
            long bo = sliceBase + (block0 + j) * sliceBlockBytes();
            float d = Half.f16(m, bo + 2L * l);
            for (int k = 0; k < QK; k++) {
                dst[off + j * QK + k] = m.get(java.lang.foreign.ValueLayout.JAVA_BYTE, bo + at(k, l)) * d;
            }
        }
    }

    /** Q8_0's dot against Q8_0 activations on the row put back in Q8_0's layout: the same float as the row layout's. */
    @Override
    public float dotRow(MemorySegment w, long rowBytes, int row, MemorySegment a, long aOffset, int cols) {
        MemorySegment r = MemorySegment.ofArray(new byte[cols / QK * BB]);
        long base = sliceOffset(rowBytes, row);
        int l = row % ROWS;
        for (int j = 0; j < cols / QK; j++) {
            long bo = base + j * sliceBlockBytes(), o = (long) j * BB;
            MemorySegment.copy(w, bo + 2L * l, r, o, 2);
            for (int k = 0; k < QK; k++) {
                MemorySegment.copy(w, bo + at(k, l), r, o + 2 + k, 1);
            }
        }
        return Q8_0Encoding.INSTANCE.dotQuantized(r, 0, a, aOffset, cols);
    }
}
