package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.SparseEncoding;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Every {@link SparseEncoding} (N:M and bitmap) against float activations. Per chunk of N
 * positions: the next values are loaded packed from the running slot, converted, and expanded
 * under the chunk's bits of the tile mask into their positions ({@link #expand}: VPEXPANDPS via
 * {@code FloatVector.expand} at 16 lanes, a permute table at 4 and 8), then multiplied with the
 * dense activations. Only the packed bytes are
 * read. Expanding the weights rather than compressing the activations keeps lanes past the
 * chunk's count out of the product, so a stray NaN pattern in the next block cannot leak in.
 *
 * <p>Decode ({@link #dot4}) streams four rows; prompts use {@link FloatPathKernel}'s tiles, fed by
 * {@link #decode}, which finds a chunk's first block directly since blocks are fixed-size.
 */
final class SparseKernel extends FloatPathKernel {
    private static final ValueLayout.OfLong LONG_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Long> L64 = LongVector.SPECIES_64;
    private static final VectorSpecies<Long> L128 = LongVector.SPECIES_128;
    private static final long LANES = N == 64 ? -1L : (1L << N) - 1;
    private static final long NIBBLES = 0x0F0F_0F0F_0F0F_0F0FL;
    /** Bytes a value load may read past the block's last value (N values of at most 2 bytes). */
    private static final int SLACK = 2 * 16 * 4;

    private final SparseEncoding e;
    private final SparseEncoding.Values values;
    private final int bs;
    private final long bb;
    private final int tiles;
    private final int tileBits;
    private final int masksAt;
    private final int valuesAt;
    private final boolean scaled;

    SparseKernel(SparseEncoding e) {
        super(e);
        this.e = e;
        this.values = e.values();
        this.bs = e.blockSize();
        this.bb = e.blockBytes();
        this.tiles = e.tiles();
        this.tileBits = e.tileBits();
        this.masksAt = e.masksAt();
        this.valuesAt = e.valuesAt();
        this.scaled = values == SparseEncoding.Values.Q8 || values == SparseEncoding.Values.Q4;
    }

    private long mask(MemorySegment w, long blk, int t) {
        long o = blk + masksAt + (long) t * (tileBits / 8);
        return tileBits == 64 ? w.get(LONG_LE, o) : w.get(Half.INT_LE, o) & 0xFFFF_FFFFL;
    }

    /** Bytes r .. r+7 of the 16 nibble values {@code lo:hi} (Q4: values 0–7 low nibbles, 8–15 high). */
    private static long window(long lo, long hi, int r) {
        if (r >= 16) {
            return 0;
        }
        if (r >= 8) {
            return hi >>> (8 * (r - 8));
        }
        return r == 0 ? lo : (lo >>> (8 * r)) | (hi << (64 - 8 * r));
    }

    /**
     * N stored values from slot {@code r} of the block at {@code blk}, unscaled ({@code q4} is the
     * block's 8 nibble bytes, read once per block). Lanes past the chunk's count are don't-care.
     */
    private FloatVector packed(MemorySegment w, long blk, int r, long q4) {
        long v = blk + valuesAt;
        switch (values) {
            case Q8:
                return Vec.b2f(Vec.bytes(w, v + r), 0);
            case F16:
                return Vec.f16(w, v + 2L * r);
            case BF16:
                return Vec.bf16(w, v + 2L * r);
            default: {
                long lo = q4 & NIBBLES, hi = (q4 >>> 4) & NIBBLES;
                ByteVector b;
                if (N <= 8) {
                    b = LongVector.broadcast(L64, window(lo, hi, r)).reinterpretAsBytes();
                } else {
                    b = LongVector.zero(L128).withLane(0, window(lo, hi, r)).withLane(1, window(lo, hi, r + 8))
                            .reinterpretAsBytes();
                }
                return (FloatVector) b.sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
            }
        }
    }

    /*
     * Expanding N packed lanes under an N-bit mask. AVX-512 has VPEXPANDPS, which the Vector API's
     * expand uses; without it (AVX2: C2 falls back to Java, ~50× slower, measured) and for N ≤ 8,
     * a table gives each mask's source lane per lane (vpermd) and which lanes to keep (vpand).
     */
    private static final boolean TABLE = N <= 8;
    private static final int[] EXP_IDX = new int[TABLE ? N << N : 0];
    private static final int[] EXP_KEEP = new int[TABLE ? N << N : 0];

    static {
        if (TABLE) {
            for (int m = 0; m < 1 << N; m++) {
                for (int i = 0, r = 0; i < N; i++) {
                    boolean on = (m >>> i & 1) != 0;
                    EXP_IDX[m * N + i] = on ? r++ : 0;
                    EXP_KEEP[m * N + i] = on ? -1 : 0;
                }
            }
        }
    }

    /** {@code v}'s first lanes placed at the set bits of {@code mc}, zeros elsewhere. */
    private static FloatVector expand(FloatVector v, long mc) {
        if (!TABLE) {
            return v.expand(VectorMask.fromLong(F, mc));
        }
        int o = (int) mc * N;
        return IntVector.fromArray(Vec.I, EXP_IDX, o).selectFrom(v.reinterpretAsInts())
                .and(IntVector.fromArray(Vec.I, EXP_KEEP, o)).reinterpretAsFloats();
    }

    private long q4(MemorySegment w, long blk) {
        return values == SparseEncoding.Values.Q4 ? w.get(LONG_LE, blk + valuesAt) : 0;
    }

    private float scale(MemorySegment w, long blk, int t) {
        return scaled ? Vec.scale(w, blk + 2L * t) : 1f;
    }

    /** Adds the products of one block of one row to {@code s}. */
    private FloatVector block(MemorySegment w, long blk, MemorySegment a, long xo, FloatVector s) {
        long q4 = q4(w, blk);
        int r = 0;
        for (int t = 0; t < tiles; t++) {
            long m = mask(w, blk, t);
            FloatVector acc = FloatVector.zero(F);
            for (int c = 0; c < tileBits; c += N) {
                long mc = (m >>> c) & LANES;
                FloatVector wv = expand(packed(w, blk, r, q4), mc);
                acc = wv.fma(Vec.f32(a, xo + 4L * (t * tileBits + c)), acc);
                r += Long.bitCount(mc);
            }
            s = scaled ? acc.fma(FloatVector.broadcast(F, scale(w, blk, t)), s) : s.add(acc);
        }
        return s;
    }

    @Override
    void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols, float[] res) {
        int nb = cols / bs;
        long end = Math.max(o0, o1) + nb * bb;
        if (end + SLACK > w.byteSize()) {
            // The tensor's last rows: vector loads could run off the segment, so take the reference.
            res[0] = e.dotQuantized(w, o0, a, aOff, cols);
            res[1] = e.dotQuantized(w, o1, a, aOff, cols);
            return;
        }
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        for (int b = 0; b < nb; b++) {
            long bo = bb * b;
            long xo = aOff + 4L * bs * b;
            s0 = block(w, o0 + bo, a, xo, s0);
            s1 = block(w, o1 + bo, a, xo, s1);
        }
        res[0] = s0.reduceLanes(VectorOperators.ADD);
        res[1] = s1.reduceLanes(VectorOperators.ADD);
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        long first = rowOff + bb * (k0 / bs);
        if (first + bb * (kc / bs) + SLACK > w.byteSize()) {
            e.dequantize(w, first, dst, dstOff, kc);
            return;
        }
        for (int b = 0; b < kc / bs; b++) {
            long blk = first + bb * b;
            long q4 = q4(w, blk);
            int r = 0;
            for (int t = 0; t < tiles; t++) {
                long m = mask(w, blk, t);
                FloatVector d = FloatVector.broadcast(F, scale(w, blk, t));
                for (int c = 0; c < tileBits; c += N) {
                    long mc = (m >>> c) & LANES;
                    expand(packed(w, blk, r, q4), mc).mul(d)
                            .intoArray(dst, dstOff + b * bs + t * tileBits + c);
                    r += Long.bitCount(mc);
                }
            }
        }
    }

    @Override
    public String toString() {
        return "sparse " + e.name() + " " + F32Encoding.INSTANCE.name() + " activations";
    }
}
