package dev.sieve.kernel.panama.vec;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * What the kernels of the 16-row sliced layouts ({@link SlicedEncoding}) share: at 16 lanes a slice
 * is one vector, one row per lane (their own {@code matmul}); below that, rows are found by {@link
 * #rowOffset} and decoded one at a time by the encoding's reference decoder into {@link
 * FloatPathKernel}'s tiles (both chosen in {@link #matmul}); and a thread's row range that starts or ends inside a slice keeps only
 * its own rows ({@link #keepOwnRows}).
 */
abstract class SlicedKernel extends FloatPathKernel {
    static final int ROWS = SlicedEncoding.ROWS;
    /** Whether a 16-row slice is one vector; the loader makes these layouts at 512 bits only. */
    static final boolean LANE_PER_ROW = Vec.N == ROWS;

    private final SlicedEncoding sliced;

    SlicedKernel(SlicedEncoding e) {
        super(e);
        this.sliced = e;
    }

    @Override
    public final void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        if (!LANE_PER_ROW) {
            super.matmul(w, x, out, outStride, r0, r1);
            return;
        }
        requirePrepared(x);
        matmulSlices(w.data(), w.rowBytes(), x, out, outStride, r0, r1);
    }

    /** At 16 lanes: rows {@code [r0, r1)} of the sliced matrix at {@code ws} (rows of {@code rb} bytes) times the prepared {@code x}. */
    abstract void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1);

    /** Row r's slice offset plus its lane (slices start at multiples of 16 bytes), for {@link #decode}. */
    @Override
    final long rowOffset(long rb, int r) {
        return SlicedEncoding.sliceOffset(rb, r) + r % ROWS;
    }

    /**
     * Row {@code rowOff & 15} of the slice at {@code rowOff - lane}, for the tiles and row buffers
     * (below 16 lanes only): the encoding's reference decoder, off the hot path.
     */
    @Override
    final void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        int l = (int) (rowOff & (ROWS - 1));
        sliced.dequantizeBlocks(w, rowOff - l, l, k0 / sliced.blockSize(), kc / sliced.blockSize(), dst, dstOff);
    }

    /** Copies rows {@code [max(r, r0), min(r + 16, r1))} of the slice at row r from {@code part} (its 16 results) to {@code out[o + row]}. */
    static void keepOwnRows(float[] part, float[] out, int o, int r, int r0, int r1) {
        for (int i = Math.max(r, r0); i < Math.min(r + ROWS, r1); i++) {
            out[o + i] = part[i - r];
        }
    }
}
