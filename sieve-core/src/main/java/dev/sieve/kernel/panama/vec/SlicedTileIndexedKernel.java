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
 * {@link SlicedTileIndexedEncoding} (bitmap Q8 or Q4, 32 rows packed as a unit, each stored value beside its
 * column in its tile): every batch works per stored value, two tokens a pass over each unit ({@link
 * #unit2Q8}, {@link #unit2Q4}; the unit stays in L1 across the passes) and a last odd token alone ({@link
 * #unitQ8}, {@link #unitQ4}). A step is one 64-byte load of 16 lanes' columns, which select their activation levels from the tile's 64 in
 * one register (VPERMB), one load of the values (Q8: 64 bytes; Q4: 32, sign-extended to shorts, so that
 * a lane's high nibble is one arithmetic shift away and its low one two; against zero-extended bytes, two
 * and two: one thread in cache, 5632 × 2048, Q4_B51 0.143–0.144 against 0.153–0.154 ms, session 41), and
 * the products in 16-bit lanes as {@link SlicedQ8_0Kernel} forms
 * them (low bytes by two shifts, high bytes by one, two multiplies and an add), whose int view adds a lane's
 * four products; per tile group A's and group B's int sums go to the rows' order by the rows' lanes (two
 * two-vector permutes, VPERMI2D), then times the rows' tile scales and the activations' d onto two running
 * float sums (rows 0–15 and 16–31). Against the 16-row bitmap layout, whose step costs per position whatever the
 * density, and against decoding prompts to floats for the dense tiles (pp128 at 90% sparsity 79 tokens/s
 * that way, 133 this way): docs/performance.md, session 40. The activations are Q8_K's levels (one d per
 * 256 columns), as the reference quantizes them. The one-token and two-token passes are written out
 * apart: one method with a flag for the second token ran prompts 7–8% slower (pp128 at 90% sparsity
 * 213–216 against 232 tokens/s, decode unchanged), and a helper returning the values' vectors, where
 * C2 does not inline it, boxes them; Q8 and Q4 apart too, since the units' two groups: one method holding
 * both value types reached C2's node budget (`NodeCountInliningCutoff`), which leaves calls that are not
 * force-inlined as calls (q4-u80 pp128 51 against 151 tokens/s, docs/performance.md, session 42).
 */
final class SlicedTileIndexedKernel extends SlicedKernel {
    private static final int QK = Q8_KEncoding.QK;
    private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_512, B32 = ByteVector.SPECIES_256, B16 = ByteVector.SPECIES_128;
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    /** Rows a unit packs together (two slices), whose outputs a pass writes. */
    private static final int UNIT = SlicedTileIndexedEncoding.UNIT;
    /** Bytes of a block's lanes in a unit (a byte a row and tile), before its steps. */
    private static final long LANES = 2 * SlicedTileIndexedEncoding.LANES;
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

    /** Unit by unit (two slices), every token (two a pass); a unit the range starts or ends inside keeps only its own rows, a token at a time. */
    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens(), nb = cols / QK;
        MemorySegment ws = w.data(), a = x.encoded();
        long rb = w.rowBytes(), ds = (long) tokens * cols;
        PairScratch s = PAIR_SCRATCH.get();
        float[] sc = s.heads(4 * UNIT * nb);
        for (int r = r0 - r0 % UNIT; r < r1; r += UNIT) {
            long base = SlicedTileIndexedEncoding.sliceAt(ws, SlicedEncoding.sliceOffset(rb, r), rb);
            Vec.halvesToFloats(ws, base + layout.scalesAt(nb, 0), sc, 0, 4 * UNIT * nb);
            boolean whole = r >= r0 && r + UNIT <= r1;
            int t = 0;
            for (; whole && t + 1 < tokens; t += 2) {
                if (q4) {
                    unit2Q4(ws, base, a, (long) t * cols, ds + 4L * t * nb, cols, nb, sc, out, t * outStride + r, outStride);
                } else {
                    unit2Q8(ws, base, a, (long) t * cols, ds + 4L * t * nb, cols, nb, sc, out, t * outStride + r, outStride);
                }
            }
            for (; t < tokens; t++) {
                float[] dst = whole ? out : s.pair;
                int d = whole ? t * outStride + r : 0;
                if (q4) {
                    unitQ4(ws, base, a, (long) t * cols, ds + 4L * t * nb, nb, sc, dst, d);
                } else {
                    unitQ8(ws, base, a, (long) t * cols, ds + 4L * t * nb, nb, sc, dst, d);
                }
                if (!whole) {
                    for (int i = Math.max(r, r0); i < Math.min(r + UNIT, r1); i++) {
                        out[t * outStride + i] = s.pair[i - r];
                    }
                }
            }
        }
    }

    /**
     * The unit at {@code base} ({@code nb} blocks, its tile scales as floats in {@code sc}) times one
     * token's levels at {@code a[ao..]} (its blocks' d at {@code a[so..]}), into {@code dst[d..d + 32)}.
     * Per step |a lane's pair| ≤ 2·128·127 < 2^15, so the 16-bit sums are exact; Q4's pairs (|q| ≤ 8)
     * add up over a group's steps in a tile in 16 bits, at most 16 of them (a row's 64 columns, four a
     * step): 16·2·8·127 = 32512 < 2^15. Per tile, A's and B's int sums go to the rows' order by the rows'
     * lanes (two two-vector permutes), then times the rows' tile scales.
     */
    private void unitQ8(MemorySegment w, long base, MemorySegment a, long ao, long so, int nb, float[] sc, float[] dst, int d) {
        FloatVector acc = FloatVector.zero(F), acc1 = acc;
        long p = base + layout.firstBlock(nb), co = base + layout.countsAt(nb, 0);
        for (int b = 0; b < nb; b++) {
            long counts = w.get(LONG_LE, co + 8L * b), lanes = p; // the block's lanes, then its steps
            p += LANES;
            float dx = a.get(Half.FLOAT_LE, so + 4L * b);
            long at = ao + (long) QK * b;
            for (int t = 0; t < 4; t++) {
                ByteVector levels = ByteVector.fromMemorySegment(B64, a, at + 64L * t, Vec.LE);
                long l = lanes + 32L * t; // the rows' lanes, read in the stream's order (before the tile's steps)
                IntVector rows0 = (IntVector) ByteVector.fromMemorySegment(B16, w, l, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0);
                IntVector rows1 = (IntVector) ByteVector.fromMemorySegment(B16, w, l + 16, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0);
                int nA = (int) (counts >>> 16 * t) & 0xFF, nB = (int) (counts >>> 16 * t + 8) & 0xFF;
                IntVector sumA = IntVector.zero(Vec.I), sumB = sumA;
                for (; nA > 0; nA--, p += step) {
                    ShortVector g = ByteVector.fromMemorySegment(B64, w, p, Vec.LE).selectFrom(levels).reinterpretAsShorts();
                    ShortVector u = ShortVector.fromMemorySegment(S32, w, p + VALUES, Vec.LE);
                    IntVector q = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8)
                            .mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                            .add(u.lanewise(VectorOperators.ASHR, BY8).mul(g.lanewise(VectorOperators.ASHR, BY8))).reinterpretAsInts();
                    sumA = sumA.add(q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(q.lanewise(VectorOperators.ASHR, 16));
                }
                for (; nB > 0; nB--, p += step) {
                    ShortVector g = ByteVector.fromMemorySegment(B64, w, p, Vec.LE).selectFrom(levels).reinterpretAsShorts();
                    ShortVector u = ShortVector.fromMemorySegment(S32, w, p + VALUES, Vec.LE);
                    IntVector q = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8)
                            .mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                            .add(u.lanewise(VectorOperators.ASHR, BY8).mul(g.lanewise(VectorOperators.ASHR, BY8))).reinterpretAsInts();
                    sumB = sumB.add(q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(q.lanewise(VectorOperators.ASHR, 16));
                }
                int k = UNIT * (4 * b + t);
                acc = ((FloatVector) rows0.selectFrom(sumA, sumB).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, sc, k).mul(dx), acc);
                acc1 = ((FloatVector) rows1.selectFrom(sumA, sumB).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, sc, k + ROWS).mul(dx), acc1);
            }
        }
        acc.intoArray(dst, d);
        acc1.intoArray(dst, d + ROWS);
    }

    /** {@link #unitQ8} for Q4 values: a group's pair sums add up in 16 bits over its steps in a tile. */
    private void unitQ4(MemorySegment w, long base, MemorySegment a, long ao, long so, int nb, float[] sc, float[] dst, int d) {
        FloatVector acc = FloatVector.zero(F), acc1 = acc;
        long p = base + layout.firstBlock(nb), co = base + layout.countsAt(nb, 0);
        for (int b = 0; b < nb; b++) {
            long counts = w.get(LONG_LE, co + 8L * b), lanes = p; // the block's lanes, then its steps
            p += LANES;
            float dx = a.get(Half.FLOAT_LE, so + 4L * b);
            long at = ao + (long) QK * b;
            for (int t = 0; t < 4; t++) {
                ByteVector levels = ByteVector.fromMemorySegment(B64, a, at + 64L * t, Vec.LE);
                long l = lanes + 32L * t; // the rows' lanes, read in the stream's order (before the tile's steps)
                IntVector rows0 = (IntVector) ByteVector.fromMemorySegment(B16, w, l, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0);
                IntVector rows1 = (IntVector) ByteVector.fromMemorySegment(B16, w, l + 16, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0);
                int nA = (int) (counts >>> 16 * t) & 0xFF, nB = (int) (counts >>> 16 * t + 8) & 0xFF;
                ShortVector s16 = ShortVector.zero(S32), s16b = s16; // the pairs widened below written out: a helper
                // method is not force-inlined like the Vector API's own, and C2's node budget left it a call (boxing)
                for (; nA > 0; nA--, p += step) {
                    ShortVector g = ByteVector.fromMemorySegment(B64, w, p, Vec.LE).selectFrom(levels).reinterpretAsShorts();
                    ShortVector x = (ShortVector) ByteVector.fromMemorySegment(B32, w, p + VALUES, Vec.LE)
                            .convertShape(VectorOperators.B2S, S32, 0);
                    ShortVector lo4 = x.lanewise(VectorOperators.LSHL, BY12).lanewise(VectorOperators.ASHR, BY12);
                    ShortVector hi4 = x.lanewise(VectorOperators.ASHR, BY4);
                    s16 = s16.add(lo4.mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                            .add(hi4.mul(g.lanewise(VectorOperators.ASHR, BY8))));
                }
                for (; nB > 0; nB--, p += step) {
                    ShortVector g = ByteVector.fromMemorySegment(B64, w, p, Vec.LE).selectFrom(levels).reinterpretAsShorts();
                    ShortVector x = (ShortVector) ByteVector.fromMemorySegment(B32, w, p + VALUES, Vec.LE)
                            .convertShape(VectorOperators.B2S, S32, 0);
                    ShortVector lo4 = x.lanewise(VectorOperators.LSHL, BY12).lanewise(VectorOperators.ASHR, BY12);
                    ShortVector hi4 = x.lanewise(VectorOperators.ASHR, BY4);
                    s16b = s16b.add(lo4.mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                            .add(hi4.mul(g.lanewise(VectorOperators.ASHR, BY8))));
                }
                IntVector sumAq = s16.reinterpretAsInts();
                IntVector sumA = sumAq.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(sumAq.lanewise(VectorOperators.ASHR, 16));
                IntVector sumBq = s16b.reinterpretAsInts();
                IntVector sumB = sumBq.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(sumBq.lanewise(VectorOperators.ASHR, 16));
                int k = UNIT * (4 * b + t);
                acc = ((FloatVector) rows0.selectFrom(sumA, sumB).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, sc, k).mul(dx), acc);
                acc1 = ((FloatVector) rows1.selectFrom(sumA, sumB).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, sc, k + ROWS).mul(dx), acc1);
            }
        }
        acc.intoArray(dst, d);
        acc1.intoArray(dst, d + ROWS);
    }

    /**
     * {@link #unitQ8} for two tokens at once (their levels {@code cols} bytes apart, their d's {@code nb}
     * floats apart), into {@code dst[d..]} and {@code dst[d + stride..]}: a step's two loads and its
     * values' sign extensions serve both (a batch's passes: docs/performance.md, session 40).
     */
    private void unit2Q8(MemorySegment w, long base, MemorySegment a, long ao, long so, int cols, int nb, float[] sc, float[] dst, int d,
            int stride) {
        FloatVector acc = FloatVector.zero(F), acc1 = acc, accT = acc, acc1T = acc;
        long p = base + layout.firstBlock(nb), co = base + layout.countsAt(nb, 0);
        for (int b = 0; b < nb; b++) {
            long counts = w.get(LONG_LE, co + 8L * b), lanes = p; // the block's lanes, then its steps
            p += LANES;
            float dx = a.get(Half.FLOAT_LE, so + 4L * b), dxT = a.get(Half.FLOAT_LE, so + 4L * (nb + b));
            long at = ao + (long) QK * b;
            for (int t = 0; t < 4; t++) {
                ByteVector levels = ByteVector.fromMemorySegment(B64, a, at + 64L * t, Vec.LE);
                ByteVector levelsT = ByteVector.fromMemorySegment(B64, a, at + cols + 64L * t, Vec.LE);
                IntVector sumA, sumB, sumAT, sumBT;
                long l = lanes + 32L * t; // the rows' lanes, read in the stream's order (before the tile's steps)
                IntVector rows0 = (IntVector) ByteVector.fromMemorySegment(B16, w, l, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0);
                IntVector rows1 = (IntVector) ByteVector.fromMemorySegment(B16, w, l + 16, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0);
                int nA = (int) (counts >>> 16 * t) & 0xFF, nB = (int) (counts >>> 16 * t + 8) & 0xFF;
                sumA = IntVector.zero(Vec.I);
                sumAT = sumA;
                sumB = sumA;
                sumBT = sumA;
                for (; nA > 0; nA--, p += step) {
                    ByteVector col = ByteVector.fromMemorySegment(B64, w, p, Vec.LE);
                    ShortVector u = ShortVector.fromMemorySegment(S32, w, p + VALUES, Vec.LE);
                    ShortVector lo8 = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8);
                    ShortVector hi8 = u.lanewise(VectorOperators.ASHR, BY8);
                    ShortVector g = col.selectFrom(levels).reinterpretAsShorts(), gT = col.selectFrom(levelsT).reinterpretAsShorts();
                    IntVector q = lo8.mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                            .add(hi8.mul(g.lanewise(VectorOperators.ASHR, BY8))).reinterpretAsInts();
                    IntVector qT = lo8.mul(gT.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                            .add(hi8.mul(gT.lanewise(VectorOperators.ASHR, BY8))).reinterpretAsInts();
                    sumA = sumA.add(q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(q.lanewise(VectorOperators.ASHR, 16));
                    sumAT = sumAT.add(qT.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(qT.lanewise(VectorOperators.ASHR, 16));
                }
                for (; nB > 0; nB--, p += step) {
                    ByteVector col = ByteVector.fromMemorySegment(B64, w, p, Vec.LE);
                    ShortVector u = ShortVector.fromMemorySegment(S32, w, p + VALUES, Vec.LE);
                    ShortVector lo8 = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8);
                    ShortVector hi8 = u.lanewise(VectorOperators.ASHR, BY8);
                    ShortVector g = col.selectFrom(levels).reinterpretAsShorts(), gT = col.selectFrom(levelsT).reinterpretAsShorts();
                    IntVector q = lo8.mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                            .add(hi8.mul(g.lanewise(VectorOperators.ASHR, BY8))).reinterpretAsInts();
                    IntVector qT = lo8.mul(gT.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                            .add(hi8.mul(gT.lanewise(VectorOperators.ASHR, BY8))).reinterpretAsInts();
                    sumB = sumB.add(q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(q.lanewise(VectorOperators.ASHR, 16));
                    sumBT = sumBT.add(qT.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(qT.lanewise(VectorOperators.ASHR, 16));
                }
                int k = UNIT * (4 * b + t);
                FloatVector scale = FloatVector.fromArray(F, sc, k), scale1 = FloatVector.fromArray(F, sc, k + ROWS);
                acc = ((FloatVector) rows0.selectFrom(sumA, sumB).convert(VectorOperators.I2F, 0)).fma(scale.mul(dx), acc);
                acc1 = ((FloatVector) rows1.selectFrom(sumA, sumB).convert(VectorOperators.I2F, 0)).fma(scale1.mul(dx), acc1);
                accT = ((FloatVector) rows0.selectFrom(sumAT, sumBT).convert(VectorOperators.I2F, 0)).fma(scale.mul(dxT), accT);
                acc1T = ((FloatVector) rows1.selectFrom(sumAT, sumBT).convert(VectorOperators.I2F, 0)).fma(scale1.mul(dxT), acc1T);
            }
        }
        acc.intoArray(dst, d);
        acc1.intoArray(dst, d + ROWS);
        accT.intoArray(dst, d + stride);
        acc1T.intoArray(dst, d + stride + ROWS);
    }

    /** {@link #unit2Q8} for Q4 values. */
    private void unit2Q4(MemorySegment w, long base, MemorySegment a, long ao, long so, int cols, int nb, float[] sc, float[] dst, int d,
            int stride) {
        FloatVector acc = FloatVector.zero(F), acc1 = acc, accT = acc, acc1T = acc;
        long p = base + layout.firstBlock(nb), co = base + layout.countsAt(nb, 0);
        for (int b = 0; b < nb; b++) {
            long counts = w.get(LONG_LE, co + 8L * b), lanes = p; // the block's lanes, then its steps
            p += LANES;
            float dx = a.get(Half.FLOAT_LE, so + 4L * b), dxT = a.get(Half.FLOAT_LE, so + 4L * (nb + b));
            long at = ao + (long) QK * b;
            for (int t = 0; t < 4; t++) {
                ByteVector levels = ByteVector.fromMemorySegment(B64, a, at + 64L * t, Vec.LE);
                ByteVector levelsT = ByteVector.fromMemorySegment(B64, a, at + cols + 64L * t, Vec.LE);
                long l = lanes + 32L * t; // the rows' lanes, read in the stream's order (before the tile's steps)
                IntVector rows0 = (IntVector) ByteVector.fromMemorySegment(B16, w, l, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0);
                IntVector rows1 = (IntVector) ByteVector.fromMemorySegment(B16, w, l + 16, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0);
                int nA = (int) (counts >>> 16 * t) & 0xFF, nB = (int) (counts >>> 16 * t + 8) & 0xFF;
                ShortVector s16 = ShortVector.zero(S32), s16T = s16, s16b = s16, s16bT = s16;
                for (int i = 0, n = nA + nB; i < n; i++, p += step) { // A's steps, then B's: one body, two sums a token
                    ByteVector col = ByteVector.fromMemorySegment(B64, w, p, Vec.LE);
                    ShortVector x = (ShortVector) ByteVector.fromMemorySegment(B32, w, p + VALUES, Vec.LE)
                            .convertShape(VectorOperators.B2S, S32, 0);
                    ShortVector lo4 = x.lanewise(VectorOperators.LSHL, BY12).lanewise(VectorOperators.ASHR, BY12);
                    ShortVector hi4 = x.lanewise(VectorOperators.ASHR, BY4);
                    ShortVector g = col.selectFrom(levels).reinterpretAsShorts(), gT = col.selectFrom(levelsT).reinterpretAsShorts();
                    ShortVector prod = lo4.mul(g.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                            .add(hi4.mul(g.lanewise(VectorOperators.ASHR, BY8)));
                    ShortVector prodT = lo4.mul(gT.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8))
                            .add(hi4.mul(gT.lanewise(VectorOperators.ASHR, BY8)));
                    if (i < nA) {
                        s16 = s16.add(prod);
                        s16T = s16T.add(prodT);
                    } else {
                        s16b = s16b.add(prod);
                        s16bT = s16bT.add(prodT);
                    }
                }
                IntVector sumAq = s16.reinterpretAsInts();
                IntVector sumA = sumAq.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(sumAq.lanewise(VectorOperators.ASHR, 16));
                IntVector sumATq = s16T.reinterpretAsInts();
                IntVector sumAT = sumATq.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(sumATq.lanewise(VectorOperators.ASHR, 16));
                IntVector sumBq = s16b.reinterpretAsInts();
                IntVector sumB = sumBq.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(sumBq.lanewise(VectorOperators.ASHR, 16));
                IntVector sumBTq = s16bT.reinterpretAsInts();
                IntVector sumBT = sumBTq.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(sumBTq.lanewise(VectorOperators.ASHR, 16));
                int k = UNIT * (4 * b + t);
                FloatVector scale = FloatVector.fromArray(F, sc, k), scale1 = FloatVector.fromArray(F, sc, k + ROWS);
                acc = ((FloatVector) rows0.selectFrom(sumA, sumB).convert(VectorOperators.I2F, 0)).fma(scale.mul(dx), acc);
                acc1 = ((FloatVector) rows1.selectFrom(sumA, sumB).convert(VectorOperators.I2F, 0)).fma(scale1.mul(dx), acc1);
                accT = ((FloatVector) rows0.selectFrom(sumAT, sumBT).convert(VectorOperators.I2F, 0)).fma(scale.mul(dxT), accT);
                acc1T = ((FloatVector) rows1.selectFrom(sumAT, sumBT).convert(VectorOperators.I2F, 0)).fma(scale1.mul(dxT), acc1T);
            }
        }
        acc.intoArray(dst, d);
        acc1.intoArray(dst, d + ROWS);
        accT.intoArray(dst, d + stride);
        acc1T.intoArray(dst, d + stride + ROWS);
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
