package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q8_KEncoding;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.quant.SlicedTileIndexedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link SlicedTileIndexedEncoding} (bitmap Q8 or Q4, 16 rows interleaved, each stored value beside its
 * column in its tile): every batch works per stored value, two tokens a pass over each slice ({@link
 * #slice2}; the slice stays in L1 across the passes) and a last odd token alone ({@link #slice}). A step
 * is one 64-byte load of the 16 rows' columns, which select their activation levels from the tile's 64 in
 * one register (VPERMB), one load of the values (Q8: 64 bytes; Q4: 32, sign-extended to shorts, so that
 * a lane's high nibble is one arithmetic shift away and its low one two; against zero-extended bytes, two
 * and two: one thread in cache, 5632 × 2048, Q4_B51 0.143–0.144 against 0.153–0.154 ms, session 41), and
 * the products in 16-bit lanes as {@link SlicedQ8_0Kernel} forms
 * them (low bytes by two shifts, high bytes by one, two multiplies and an add), whose int view adds a row's
 * four products into its lane; per tile the int sums times the rows' tile scales and the activations' d go
 * onto one running float sum. Against the 16-row bitmap layout, whose step costs per position whatever the
 * density, and against decoding prompts to floats for the dense tiles (pp128 at 90% sparsity 79 tokens/s
 * that way, 133 this way): docs/performance.md, session 40. The activations are Q8_K's levels (one d per
 * 256 columns), as the reference quantizes them. The one-token and two-token passes are written out
 * apart: one method with a flag for the second token ran prompts 7–8% slower (pp128 at 90% sparsity
 * 213–216 against 232 tokens/s, decode unchanged), and a helper returning the values' vectors, where
 * C2 does not inline it, boxes them.
 */
final class SlicedTileIndexedKernel extends SlicedKernel {
    private static final int QK = Q8_KEncoding.QK;
    private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_512, B32 = ByteVector.SPECIES_256, B16 = ByteVector.SPECIES_128;
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final long VALUES = SlicedTileIndexedEncoding.VALUES;
    private static final ShortVector BY12 = LANE_PER_ROW ? ShortVector.broadcast(S32, (short) 12) : null;
    /** Added to a float of magnitude below 2^22, leaves its nearest integer (half to even) in the low mantissa bits. */
    private static final float ROUNDER = 0x1.8p23f;

    private final SlicedTileIndexedEncoding layout;
    /** Bytes of a step; Q4 values (two a byte) instead of Q8's bytes. */
    private final long step;
    private final boolean q4;

    SlicedTileIndexedKernel(SlicedTileIndexedEncoding e) {
        super(e);
        this.layout = e;
        this.step = e.stepBytes();
        this.q4 = e.q4();
    }

    /** Every batch at 16 lanes; below that (the loader makes this layout at 512 bits only) the reference's rows in the tiles. */
    @Override
    boolean int16Path(Activations x) {
        return LANE_PER_ROW;
    }

    /**
     * Each token's activations as Q8_K's reference quantizes them (the block's value of largest
     * magnitude at −127, levels rounded half to even, at most 127): token t's levels at {@code t·cols},
     * then every block's d as a float. The levels in vectors: |x · iscale| ≤ 127, where adding {@link
     * #ROUNDER} rounds as {@link Math#rint} does.
     */
    @Override
    void prepareInt16(Activations x) {
        int n = x.tokens() * x.cols();
        MemorySegment a = x.reserve(Q8_KEncoding.INSTANCE, n + 4L * (n / QK));
        float[] f = x.floats();
        for (int b = 0; b < n / QK; b++) {
            float iscale = iscale(f, QK * b);
            for (int j = 0; j < QK; j += Vec.N) {
                IntVector q = FloatVector.fromArray(F, f, QK * b + j).mul(iscale).add(ROUNDER).reinterpretAsInts()
                        .and(0x7FFFFF).sub(0x400000).min(127);
                q.convertShape(VectorOperators.I2B, B16, 0).reinterpretAsBytes().intoMemorySegment(a, (long) QK * b + j, Vec.LE);
            }
            a.set(Half.FLOAT_LE, n + 4L * b, iscale == 0 ? 0f : 1 / iscale);
        }
    }

    /** Q8_K's −127 / (the value of largest magnitude, the first of equals) over 256 values, or 0 for an all-zero block. */
    private static float iscale(float[] f, int at) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK; j++) {
            float ax = Math.abs(f[at + j]);
            if (ax > amax) {
                amax = ax;
                max = f[at + j];
            }
        }
        return amax == 0 ? 0 : -127f / max;
    }

    private static int level(float v, float iscale) {
        return Math.min(127, (int) Math.rint(iscale * v));
    }

    /** The float path's activations: the values the Q8_K levels hold (d·q), so prompts multiply what decode does. */
    @Override
    void storeActivations(float[] src, MemorySegment dst, int n) {
        for (int b = 0; b < n / QK; b++) {
            float iscale = iscale(src, QK * b), d = iscale == 0 ? 0f : 1 / iscale;
            for (int j = 0; j < QK; j++) {
                dst.set(Half.FLOAT_LE, 4L * (QK * b + j), d * level(src[QK * b + j], iscale));
            }
        }
    }

    /** Slice by slice, every token (two a pass); a slice the range starts or ends inside keeps only its own rows, a token at a time. */
    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens(), nb = cols / QK;
        MemorySegment ws = w.data(), a = x.encoded();
        long rb = w.rowBytes(), ds = (long) tokens * cols;
        PairScratch s = PAIR_SCRATCH.get();
        float[] sc = s.heads(4 * ROWS * nb);
        for (int r = r0 - r0 % ROWS; r < r1; r += ROWS) {
            long base = SlicedTileIndexedEncoding.sliceAt(ws, SlicedEncoding.sliceOffset(rb, r), rb);
            Vec.halvesToFloats(ws, base + layout.scalesAt(nb, 0), sc, 0, 4 * ROWS * nb);
            boolean whole = r >= r0 && r + ROWS <= r1;
            int t = 0;
            for (; whole && t + 1 < tokens; t += 2) {
                slice2(ws, base, a, (long) t * cols, ds + 4L * t * nb, cols, nb, sc, out, t * outStride + r, outStride);
            }
            for (; t < tokens; t++) {
                if (whole) {
                    slice(ws, base, a, (long) t * cols, ds + 4L * t * nb, nb, sc, out, t * outStride + r);
                } else {
                    slice(ws, base, a, (long) t * cols, ds + 4L * t * nb, nb, sc, s.pair, 0);
                    keepOwnRows(s.pair, out, t * outStride, r, r0, r1);
                }
            }
        }
    }

    /**
     * The slice at {@code base} ({@code nb} blocks, its tile scales as floats in {@code sc}) times one
     * token's levels at {@code a[ao..]} (its blocks' d at {@code a[so..]}), into {@code dst[d..d + 16)}.
     * Per step |a row's lane pair| ≤ 2·128·127 < 2^15, so the 16-bit sums are exact; Q4's pairs (|q| ≤ 8)
     * add up over a tile's steps in 16 bits, at most 16 of them (a row's 64 columns, four a step): 16·2·8·127
     * = 32512 < 2^15.
     */
    private void slice(MemorySegment w, long base, MemorySegment a, long ao, long so, int nb, float[] sc, float[] dst, int d) {
        FloatVector acc = FloatVector.zero(F);
        long p = base + layout.firstStep(nb), co = base + layout.countsAt(nb, 0);
        for (int b = 0; b < nb; b++) {
            int counts = w.get(INT_LE, co + 4L * b);
            float dx = a.get(Half.FLOAT_LE, so + 4L * b);
            long at = ao + (long) QK * b;
            for (int t = 0; t < 4; t++) {
                ByteVector levels = ByteVector.fromMemorySegment(B64, a, at + 64L * t, Vec.LE);
                IntVector sum = IntVector.zero(Vec.I);
                int n = counts >>> 8 * t & 0xFF;
                if (q4) { // byte i's nibbles are slots 2i and 2i + 1, as Q8's bytes 2i and 2i + 1 of short i; the tile's sums in 16 bits
                    ShortVector s16 = ShortVector.zero(S32);
                    for (; n > 0; n--, p += step) {
                        ShortVector g = ByteVector.fromMemorySegment(B64, w, p, Vec.LE).selectFrom(levels).reinterpretAsShorts();
                        ShortVector x = (ShortVector) ByteVector.fromMemorySegment(B32, w, p + VALUES, Vec.LE)
                                .convertShape(VectorOperators.B2S, S32, 0);
                        ShortVector lo = x.lanewise(VectorOperators.LSHL, BY12).lanewise(VectorOperators.ASHR, BY12);
                        ShortVector hi = x.lanewise(VectorOperators.ASHR, BY4);
                        s16 = s16.add(lo.mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                                .add(hi.mul(g.lanewise(VectorOperators.ASHR, BY8))));
                    }
                    IntVector q = s16.reinterpretAsInts();
                    sum = q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(q.lanewise(VectorOperators.ASHR, 16));
                } else {
                    for (; n > 0; n--, p += step) {
                        ShortVector g = ByteVector.fromMemorySegment(B64, w, p, Vec.LE).selectFrom(levels).reinterpretAsShorts();
                        ShortVector u = ShortVector.fromMemorySegment(S32, w, p + VALUES, Vec.LE);
                        ShortVector lo = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8);
                        ShortVector hi = u.lanewise(VectorOperators.ASHR, BY8);
                        IntVector q = lo.mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                                .add(hi.mul(g.lanewise(VectorOperators.ASHR, BY8))).reinterpretAsInts();
                        sum = sum.add(q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(q.lanewise(VectorOperators.ASHR, 16));
                    }
                }
                acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, sc, ROWS * (4 * b + t)).mul(dx), acc);
            }
        }
        acc.intoArray(dst, d);
    }

    /**
     * {@link #slice} for two tokens at once (their levels {@code cols} bytes apart, their d's {@code nb}
     * floats apart), into {@code dst[d..]} and {@code dst[d + stride..]}: a step's two loads and its
     * values' sign extensions serve both (a batch's passes: docs/performance.md, session 40).
     */
    private void slice2(MemorySegment w, long base, MemorySegment a, long ao, long so, int cols, int nb, float[] sc, float[] dst, int d,
            int stride) {
        FloatVector acc = FloatVector.zero(F), acc1 = acc;
        long p = base + layout.firstStep(nb), co = base + layout.countsAt(nb, 0);
        for (int b = 0; b < nb; b++) {
            int counts = w.get(INT_LE, co + 4L * b);
            float dx = a.get(Half.FLOAT_LE, so + 4L * b), dx1 = a.get(Half.FLOAT_LE, so + 4L * (nb + b));
            long at = ao + (long) QK * b;
            for (int t = 0; t < 4; t++) {
                ByteVector levels = ByteVector.fromMemorySegment(B64, a, at + 64L * t, Vec.LE);
                ByteVector levels1 = ByteVector.fromMemorySegment(B64, a, at + cols + 64L * t, Vec.LE);
                IntVector sum, sum1;
                int n = counts >>> 8 * t & 0xFF;
                if (q4) { // as in slice
                    ShortVector s16 = ShortVector.zero(S32), s16b = s16;
                    for (; n > 0; n--, p += step) {
                        ByteVector col = ByteVector.fromMemorySegment(B64, w, p, Vec.LE);
                        ShortVector x = (ShortVector) ByteVector.fromMemorySegment(B32, w, p + VALUES, Vec.LE)
                                .convertShape(VectorOperators.B2S, S32, 0);
                        ShortVector lo = x.lanewise(VectorOperators.LSHL, BY12).lanewise(VectorOperators.ASHR, BY12);
                        ShortVector hi = x.lanewise(VectorOperators.ASHR, BY4);
                        ShortVector g = col.selectFrom(levels).reinterpretAsShorts(), g1 = col.selectFrom(levels1).reinterpretAsShorts();
                        s16 = s16.add(lo.mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                                .add(hi.mul(g.lanewise(VectorOperators.ASHR, BY8))));
                        s16b = s16b.add(lo.mul(g1.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                                .add(hi.mul(g1.lanewise(VectorOperators.ASHR, BY8))));
                    }
                    IntVector q = s16.reinterpretAsInts(), q1 = s16b.reinterpretAsInts();
                    sum = q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(q.lanewise(VectorOperators.ASHR, 16));
                    sum1 = q1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(q1.lanewise(VectorOperators.ASHR, 16));
                } else {
                    sum = IntVector.zero(Vec.I);
                    sum1 = sum;
                    for (; n > 0; n--, p += step) {
                        ByteVector col = ByteVector.fromMemorySegment(B64, w, p, Vec.LE);
                        ShortVector u = ShortVector.fromMemorySegment(S32, w, p + VALUES, Vec.LE);
                        ShortVector lo = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8);
                        ShortVector hi = u.lanewise(VectorOperators.ASHR, BY8);
                        ShortVector g = col.selectFrom(levels).reinterpretAsShorts(), g1 = col.selectFrom(levels1).reinterpretAsShorts();
                        IntVector q = lo.mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                                .add(hi.mul(g.lanewise(VectorOperators.ASHR, BY8))).reinterpretAsInts();
                        IntVector q1 = lo.mul(g1.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                                .add(hi.mul(g1.lanewise(VectorOperators.ASHR, BY8))).reinterpretAsInts();
                        sum = sum.add(q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(q.lanewise(VectorOperators.ASHR, 16));
                        sum1 = sum1.add(q1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(q1.lanewise(VectorOperators.ASHR, 16));
                    }
                }
                FloatVector scale = FloatVector.fromArray(F, sc, ROWS * (4 * b + t));
                acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(scale.mul(dx), acc);
                acc1 = ((FloatVector) sum1.convert(VectorOperators.I2F, 0)).fma(scale.mul(dx1), acc1);
            }
        }
        acc.intoArray(dst, d);
        acc1.intoArray(dst, d + stride);
    }

    /** Never at 16 lanes: {@link #int16Path} takes every batch there. */
    @Override
    void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        throw new IllegalStateException(layout.name() + " multiplies every batch per stored value");
    }

    /** Never: no batch takes the decoded chunks ({@link #matmulSlices}). */
    @Override
    void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride) {
        throw new IllegalStateException(layout.name() + " multiplies every batch per stored value");
    }
}
