package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.Q8_0SlicedEncoding;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Q8_0SlicedEncoding} (Q8_0 with 16 rows interleaved, a row's weights in pairs): 16 rows at once,
 * one row per lane. Below {@link #INT16_TOKENS} tokens a 64-byte load is two column pairs of the 16 rows
 * as 32 shorts; its low bytes (sign-extended by two shifts) times the even columns' activations plus its
 * high bytes (one shift) times the odd columns' is each row's pair in 16 bits (at most 2·128·127). Read
 * as 16 ints, lane k holds rows 2·(k % 8) (low half) and 2·(k % 8) + 1 (high half) of column pair k / 8:
 * the low halves sign-extended by two shifts and the high ones by one add into the even and the odd
 * rows' int sums (port-0 shifts, where the conversions to int took the shuffle port C2 also needs for
 * the widening's permute: one thread in L2 0.84 of the time, decode-shaped 0.96; session 37). Per 64
 * weights one load, six shifts, two multiplies and three adds, against two 16-bit patterns of the
 * activations that a step permutes from its block's 32 levels ({@link #prepareInt16}). Per block the int sums are scaled by the rows' d times
 * the activations' d (permuted to the even and odd rows), and the rows are joined once per slice.
 * Larger batches decode each chunk of one or two slices to floats once ({@link #decoded}).
 */
final class SlicedQ8_0Kernel extends PairPatternKernel {
    private static final int QK = Q8_0Encoding.QK;
    /** Bytes of one 32-column block of a slice. */
    private static final long SB = (long) ROWS * Q8_0Encoding.BLOCK_BYTES;
    private static final int SCALES = SlicedEncoding.SCALES;
    /**
     * Bytes of the activations per block for the 16-bit path: the block's 32 levels as shorts. Each step's
     * two patterns ({@link #EVEN}, {@link #ODD}) are permuted from them in registers: laid out in memory
     * (1 KiB a block, 64 KiB for 2,048 columns) they fell out of L1 and their loads took the place of the
     * weights' in the core's misses (docs/performance.md, session 43).
     */
    static final long PB = 64;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    /** Load i's even columns (lane k: column 4i + 2·(k / 16)) and odd ones (the next column), from a block's levels. */
    static final VectorShuffle<Short>[] EVEN = shuffles(0), ODD = shuffles(1);

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Short>[] shuffles(int odd) {
        VectorShuffle<Short>[] s = new VectorShuffle[8];
        for (int i = 0; i < 8; i++) {
            int c = 4 * i + odd;
            s[i] = LANE_PER_ROW ? VectorShuffle.fromOp(S32, k -> c + 2 * (k / 16)) : null;
        }
        return s;
    }

    SlicedQ8_0Kernel() {
        super(Q8_0SlicedEncoding.INSTANCE);
    }



    static long patternsOffset(int n) {
        return (4L * n + 63) & ~63L;
    }


    /**
     * The 16-bit path's activations for the layouts read as Q8_0_R16's ({@link PairPatternKernel}): each
     * token's activations rounded to Q8_0 as {@code k}'s reference rounds them (q·d), then each block's 32
     * levels as shorts ({@link #PB} bytes; load i's patterns are {@code rearrange(EVEN[i])} and {@code
     * rearrange(ODD[i])} of them); after all tokens' levels each block's d (the levels from the rounded
     * floats by {@link #levels}).
     */
    static void pairPatterns(FloatPathKernel k, Activations x) {
        int n = x.tokens() * x.cols();
        long patterns = patternsOffset(n), scales = patterns + PB * (n / QK);
        MemorySegment a = x.reserve(Q8_0Encoding.INSTANCE, scales + 4L * (n / QK));
        k.storeActivations(x.floats(), a, n);
        short[] qs = LEVELS.get();
        for (int b = 0; b < n / QK; b++) {
            float d = levels(a, 4L * QK * b, qs);
            ShortVector q = ShortVector.fromArray(S32, qs, 0);
            long p = patterns + PB * b;
            q.intoMemorySegment(a, p, Vec.LE);
            a.set(Half.FLOAT_LE, scales + 4L * b, d);
        }
    }

    /** Two slices a pass ({@link #slice16}, {@link #slicePairs}). */
    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), n = x.tokens() * cols, blocks = cols / QK;
        long patterns = patternsOffset(n);
        slicePairs(w, x, out, outStride, r0, r1, patterns, PB * blocks, patterns + PB * (n / QK), 4L * blocks, blocks,
                SlicedQ8_0Kernel::slice16);
    }

    /**
     * The slices at {@code base} and {@code base1} times one token in 16-bit lanes (see the class
     * comment), into {@code dst[d..d + 32)}, each step's patterns serving both slices (why two: {@link
     * SlicedQ4_0Kernel}'s {@code sliceInt16}). The running float sums (even and odd rows of each slice)
     * stay in registers across the block loop; the scales' f16 conversion and the rows' join are written
     * out (a call C2 leaves out of line here takes the live vectors boxed).
     */
    private static void slice16(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int blocks,
            float[] dst, int d) {
        FloatVector fe = FloatVector.zero(F), fo = fe, ge = fe, go = fe;
        long o = base, o1 = base1;
        for (int j = 0; j < blocks; j++, o += SB, o1 += SB) {
            long q = o + SCALES, q1 = o1 + SCALES, p = ao + PB * j;
            IntVector e = IntVector.zero(Vec.I), od = e, e1 = e, od1 = e;
            ShortVector levels = ShortVector.fromMemorySegment(S32, a, p, Vec.LE);
            for (int i = 0; i < 8; i++) {
                ShortVector even = levels.rearrange(EVEN[i]);
                ShortVector odd = levels.rearrange(ODD[i]);
                ShortVector u = ShortVector.fromMemorySegment(S32, w, q + 64L * i, Vec.LE);
                ShortVector v = ShortVector.fromMemorySegment(S32, w, q1 + 64L * i, Vec.LE);
                IntVector s = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)
                        .add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd)).reinterpretAsInts();
                IntVector s1 = v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)
                        .add(v.lanewise(VectorOperators.ASHR, BY8).mul(odd)).reinterpretAsInts();
                e = e.add(s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                od = od.add(s.lanewise(VectorOperators.ASHR, 16));
                e1 = e1.add(s1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                od1 = od1.add(s1.lanewise(VectorOperators.ASHR, 16));
            }
            float dx = a.get(Half.FLOAT_LE, so + 4L * j);
// The scales' f16 → f32 written out (as Vec.f16): a call, past C2's inlining cutoff here, spilled the live vectors around it.
            IntVector h = (IntVector) ShortVector.fromMemorySegment(Vec.SN, w, o, Vec.LE).convertShape(VectorOperators.ZERO_EXTEND_S2I, Vec.I, 0);
            IntVector m = h.and(0x7FFF), b = m.lanewise(VectorOperators.LSHL, 13);
            FloatVector dw = b.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend(b.or(0x7F800000), m.compare(VectorOperators.GE, 0x7C00))
                    .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats().mul(dx);
            fe = ((FloatVector) e.convert(VectorOperators.I2F, 0)).fma(dw.rearrange(SlicedQ4_0Kernel.EVEN_ROWS), fe);
            fo = ((FloatVector) od.convert(VectorOperators.I2F, 0)).fma(dw.rearrange(SlicedQ4_0Kernel.ODD_ROWS), fo);
            h = (IntVector) ShortVector.fromMemorySegment(Vec.SN, w, o1, Vec.LE).convertShape(VectorOperators.ZERO_EXTEND_S2I, Vec.I, 0);
            m = h.and(0x7FFF);
            b = m.lanewise(VectorOperators.LSHL, 13);
            FloatVector dv = b.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend(b.or(0x7F800000), m.compare(VectorOperators.GE, 0x7C00))
                    .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats().mul(dx);
            ge = ((FloatVector) e1.convert(VectorOperators.I2F, 0)).fma(dv.rearrange(SlicedQ4_0Kernel.EVEN_ROWS), ge);
            go = ((FloatVector) od1.convert(VectorOperators.I2F, 0)).fma(dv.rearrange(SlicedQ4_0Kernel.ODD_ROWS), go);
        }
        float[] sums = PAIR_SCRATCH.get().sums;
        fe.intoArray(sums, 0);
        fo.intoArray(sums, ROWS);
        ge.intoArray(sums, 2 * ROWS);
        go.intoArray(sums, 3 * ROWS);
        joinRows(sums, dst, d);
    }

    /** Prompts through {@link #decodedRows}. */
    @Override
    void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        decodedRows(ws, rb, x, out, outStride, r0, r1);
    }

    /** Q8_0's q·d, as its reference decodes it: each column pair's 32 bytes split into the two columns' 16 rows. */
    @Override
    void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride) {
        long o = base + block0 * SB;
        for (int j = 0; j < blocks; j++, o += SB) {
            FloatVector d = Vec.f16(w, o);
            int c0 = at + stride * QK * j;
            for (int pr = 0; pr < QK / 2; pr++) {
                ShortVector u = ShortVector.fromMemorySegment(S16, w, o + SCALES + 2L * ROWS * pr, Vec.LE);
                ((FloatVector) u.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8)
                        .convertShape(VectorOperators.S2F, F, 0)).mul(d).intoArray(dec, c0 + stride * 2 * pr);
                ((FloatVector) u.lanewise(VectorOperators.ASHR, 8).convertShape(VectorOperators.S2F, F, 0)).mul(d)
                        .intoArray(dec, c0 + stride * (2 * pr + 1));
            }
        }
    }
}
