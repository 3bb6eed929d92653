package dev.sieve.kernel.panama.vec;

import dev.sieve.core.quant.IndexedSparseEncoding;
import dev.sieve.core.quant.SparseEncoding;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * {@link IndexedSparseEncoding} in its row layout, at every width: rows decoded into the float
 * tiles and row buffers of {@link FloatPathKernel}. At 512 bits a model's matrices are read in the
 * 16-row layout instead ({@link SlicedIndexedKernel}); this kernel serves narrower vectors and
 * matrices whose rows are not a multiple of 16.
 */
final class IndexedSparseKernel extends FloatPathKernel {
    private final int n;
    private final boolean q8;
    private final long bb;
    private final int valuesAt;

    IndexedSparseKernel(IndexedSparseEncoding e) {
        super(e);
        this.n = e.perGroup();
        this.q8 = e.values() == SparseEncoding.Values.Q8;
        this.bb = e.blockBytes();
        this.valuesAt = e.valuesAt();
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        Arrays.fill(dst, dstOff, dstOff + kc, 0f);
        int qk = IndexedSparseEncoding.QK, g = IndexedSparseEncoding.GROUP;
        for (int j = 0; j < kc / qk; j++) {
            long o = rowOff + (k0 / qk + j) * bb;
            float d = Vec.scale(w, o);
            int out = dstOff + j * qk;
            for (int k = 0; k < n; k++) {
                int idx = Vec.u8(w, o + IndexedSparseEncoding.IDX + k);
                int a, b;
                if (q8) {
                    a = Vec.i8(w, o + valuesAt + k);
                    b = Vec.i8(w, o + valuesAt + n + k);
                } else {
                    int v = Vec.u8(w, o + valuesAt + k);
                    a = (v & 15) - 8;
                    b = (v >>> 4) - 8;
                }
                dst[out + (idx & 15)] += d * a;
                dst[out + g + (idx >>> 4)] += d * b;
            }
        }
    }
}
