package dev.sieve.kernel.panama.vec;

import dev.sieve.core.quant.IndexedSparseEncoding;
import java.lang.foreign.MemorySegment;

/**
 * {@link IndexedSparseEncoding} in its row layout, at every width: rows decoded into the float
 * tiles and row buffers of {@link FloatPathKernel}. At 512 bits a model's matrices are read in the
 * 16-row layout instead ({@link SlicedIndexedKernel}); this kernel serves narrower vectors and
 * matrices whose rows are not a multiple of 16.
 */
final class IndexedSparseKernel extends FloatPathKernel {
    private final IndexedSparseEncoding e;
    private final long bb;

    IndexedSparseKernel(IndexedSparseEncoding e) {
        super(e);
        this.e = e;
        this.bb = e.blockBytes();
    }

    /** The encoding's reference decoder over the piece's blocks (this layout's decode is not the fast one). */
    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        e.dequantize(w, rowOff + (k0 / IndexedSparseEncoding.QK) * bb, dst, dstOff, kc);
    }
}
