package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The 4-bit sliced layouts whose 32-column units are Q4_0_R16 blocks of nibbles (Q4_0_R16, Q4_K_R16):
 * below {@link #INT16_TOKENS} tokens at 16 lanes they multiply in 16-bit lanes ({@link #slice16})
 * against Q8_0 activations laid out once per call as 16-bit column patterns ({@link #prepareInt16});
 * prompts take the float activations ({@link #prepareFloats}) and the subclass's float kernels.
 *
 * <p>How a unit is multiplied (each subclass's {@code slice16}, written out there: a shared helper
 * returning two vectors would box them): its 256 nibble bytes are four 64-byte loads (byte positions
 * 4s .. 4s + 3 of its 16 rows); read as 32 shorts, lane k holds rows 2·(k % 8) (low byte, e) and
 * 2·(k % 8) + 1 (high byte, o) at position 4s + k/8, so e = u & 0xFF and o = u >>> 8 take one mask and
 * one shift, and each of them times P plus its high nibble times Q ({@link #prepareInt16}) is its two
 * columns' products: three shifts, one mask, four multiplies and four adds per 128 weights (the float
 * decoder: 28 vector operations). Eight products a lane per unit stay below 2^15 (15·127·8), so the
 * 16-bit sums are exact. Per unit the two sums widen to int (the four positions folded to two), are
 * converted and scaled by the rows' scales times the activations' ({@link #EVEN_ROWS}, {@link
 * #ODD_ROWS}); the halves and the even and odd rows are joined once per slice ({@link #SWAP_HALVES},
 * {@link #HALF_LANES}, {@link #ODD_LANES}).
 */
abstract class SlicedInt16Kernel extends SlicedKernel {
    static final int QK = 32;
    static final int HALF = QK / 2;
    /** Below this many tokens (decode, and the last tokens of a speculative batch) the 16-bit path. */
    static final int INT16_TOKENS = 4;
    /** Bytes of {@link #prepareInt16}'s patterns per 32-column unit: four steps of two 32-short vectors. */
    static final long PB = 512;
    static final VectorSpecies<Short> S32 = ShortVector.SPECIES_512;
    /** Step s's low-nibble columns 4s .. 4s + 3, each in eight consecutive lanes (lane k: column 4s + k / 8). */
    private static final VectorShuffle<Short>[] LOW_COLUMNS = columnShuffles(0);
    /** The high-nibble columns 16 + 4s .. 16 + 4s + 3, the same way. */
    private static final VectorShuffle<Short>[] HIGH_COLUMNS = columnShuffles(HALF);

    /** Lane m → m + 8 (mod 16). */
    static final VectorShuffle<Float> SWAP_HALVES = LANE_PER_ROW ? VectorShuffle.fromOp(F, m -> (m + 8) % 16) : null;
    /** Lane m → row 2·(m % 8) (the even rows, twice), and → 2·(m % 8) + 1. */
    static final VectorShuffle<Float> EVEN_ROWS = LANE_PER_ROW ? VectorShuffle.fromOp(F, m -> 2 * (m % 8)) : null;
    static final VectorShuffle<Float> ODD_ROWS = LANE_PER_ROW ? VectorShuffle.fromOp(F, m -> 2 * (m % 8) + 1) : null;
    /** Lane l → l / 2. */
    static final VectorShuffle<Float> HALF_LANES = LANE_PER_ROW ? VectorShuffle.fromOp(F, l -> l / 2) : null;
    static final VectorMask<Float> ODD_LANES = LANE_PER_ROW ? VectorMask.fromLong(F, 0xAAAAL) : null;

    SlicedInt16Kernel(SlicedEncoding e) {
        super(e);
    }

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Short>[] columnShuffles(int first) {
        VectorShuffle<Short>[] s = new VectorShuffle[4];
        for (int step = 0; step < 4; step++) {
            int c = first + 4 * step;
            s[step] = LANE_PER_ROW ? VectorShuffle.fromOp(S32, k -> c + k / 8) : null;
        }
        return s;
    }

    @Override
    final boolean int16Path(Activations x) {
        return LANE_PER_ROW && x.tokens() < INT16_TOKENS;
    }

    /** Per thread: one slice's partial output, and room for a subclass's per-slice scales and outputs. */
    static final class Scratch {
        final float[] part = new float[ROWS];
        private float[] scales = new float[0];
        private float[] outputs = new float[0];

        float[] scales(int n) {
            if (scales.length < n) {
                scales = new float[n];
            }
            return scales;
        }

        float[] outputs(int n) {
            if (outputs.length < n) {
                outputs = new float[n];
            }
            return outputs;
        }
    }

    static final ThreadLocal<Scratch> SCRATCH_ROWS = ThreadLocal.withInitial(Scratch::new);

    /** Where {@link #prepareInt16}'s patterns start: after the rounded activations, on a cache line. */
    private static long patternsOffset(int tokens, int cols) {
        return (4L * tokens * cols + 63) & ~63L;
    }

    /** Where its scales start: after every token's patterns. */
    private static long patternScalesOffset(int tokens, int cols) {
        return patternsOffset(tokens, cols) + PB * (cols / QK) * tokens;
    }

    /**
     * Each token's activations rounded to Q8_0 as the reference rounds them (q·d, d the f16 scale),
     * then per 32-column unit and step s (byte positions 4s .. 4s + 3) two vectors of 32 shorts: P,
     * lane k the level q of column 4s + k/8, and Q, lane k the level of column 16 + 4s + k/8 minus 16·P's
     * (so that e·P + (e >>> 4)·Q = lo·P + hi·q_hi for a byte e = lo + 16·hi, without a mask); after all
     * tokens' patterns each unit's d and Σ q·d. Once for all threads and for every matrix {@code
     * Linear.applyAgain} sends the same input to. The levels come back from the rounded floats exactly:
     * a unit's largest |q·d| is 127·d (its maximum rounds to ±127, and the product is exact in float),
     * so d = max / 127 and q = (q·d) / d.
     */
    @Override
    final void prepareInt16(Activations x) {
        int cols = x.cols(), tokens = x.tokens(), n = tokens * cols;
        long patterns = patternsOffset(tokens, cols), scales = patternScalesOffset(tokens, cols);
        MemorySegment a = x.reserve(Q8_0Encoding.INSTANCE, scales + 8L * (n / QK));
        storeActivations(x.floats(), a, n);
        for (int i = 0; i < n / QK; i++) {
            FloatVector v0 = FloatVector.fromMemorySegment(F, a, 4L * QK * i, Vec.LE);
            FloatVector v1 = FloatVector.fromMemorySegment(F, a, 4L * QK * i + 4L * HALF, Vec.LE);
            float d = v0.abs().max(v1.abs()).reduceLanes(VectorOperators.MAX) / 127f;
            ShortVector q = ShortVector.zero(S32);
            if (d != 0) {
                q = ((ShortVector) v0.div(d).convert(VectorOperators.F2I, 0).convertShape(VectorOperators.I2S, S32, 0))
                        .or((ShortVector) v1.div(d).convert(VectorOperators.F2I, 0).convertShape(VectorOperators.I2S, S32, -1));
            }
            long p = patterns + PB * i;
            for (int step = 0; step < 4; step++) {
                ShortVector lo = q.rearrange(LOW_COLUMNS[step]);
                lo.intoMemorySegment(a, p + 128L * step, Vec.LE);
                q.rearrange(HIGH_COLUMNS[step]).sub(lo.lanewise(VectorOperators.LSHL, 4))
                        .intoMemorySegment(a, p + 128L * step + 64, Vec.LE);
            }
            a.set(Half.FLOAT_LE, scales + 8L * i, d);
            a.set(Half.FLOAT_LE, scales + 8L * i + 4, Vec.sum(v0.add(v1)));
        }
    }

    @Override
    final void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens();
        MemorySegment ws = w.data(), a = x.encoded();
        long rb = w.rowBytes(), patterns = patternsOffset(tokens, cols), scales = patternScalesOffset(tokens, cols);
        Scratch s = SCRATCH_ROWS.get();
        for (int r = r0 - r0 % ROWS; r < r1; r += ROWS) {
            long base = SlicedEncoding.sliceOffset(rb, r);
            boolean whole = r >= r0 && r + ROWS <= r1;
            for (int t = 0; t < tokens; t++) { // the slice stays in L1 for the next token
                long at = patterns + PB * (cols / QK) * t, so = scales + 8L * (cols / QK) * t;
                if (whole) {
                    slice16(ws, base, a, at, so, cols, s, out, t * outStride + r);
                } else { // a thread's range that starts or ends inside a slice: keep its own rows only
                    slice16(ws, base, a, at, so, cols, s, s.part, 0);
                    keepOwnRows(s.part, out, t * outStride, r, r0, r1);
                }
            }
        }
    }

    /**
     * The slice at {@code base} times one token in 16-bit lanes: {@link #prepareInt16}'s patterns at
     * {@code a[ao..]}, each unit's d and Σx at {@code a[so + 8·unit..]}, {@code cols} columns; the
     * slice's 16 results to {@code dst[d..d + 16)}.
     */
    abstract void slice16(MemorySegment w, long base, MemorySegment a, long ao, long so, int cols, Scratch s, float[] dst, int d);

    /**
     * The float path's activations at 16 lanes: rounded to Q8_0's values as the reference multiplies
     * them, on the heap for the broadcasts, followed by each unit's 8·Σx (for Q4_0's −8) and, with
     * {@code transposed}, each full group of eight tokens transposed: column c's eight activations at
     * {@code 8·(g·cols + c)..} for group g (see {@link #decoded}). Once for all threads: a copy per
     * {@link #matmul} call instead (one per thread and chunk, 8 per matrix) cost 19% of a 2048 × 5632
     * product at 128 tokens.
     */
    final void prepareFloats(Activations x, boolean transposed) {
        int n = x.tokens() * x.cols();
        // Rounded into the off-heap buffer first: the rounding's vector stores into a heap segment
        // ran as slow Java code, and prepare runs on one thread.
        MemorySegment rounded = x.reserve(F32Encoding.INSTANCE, 4L * n);
        storeActivations(x.floats(), rounded, n);
        float[] xf = x.reserveFloats(F32Encoding.INSTANCE, n + n / QK + (transposed ? transposedFloats(x.tokens(), x.cols()) : 0));
        MemorySegment.copy(rounded, Half.FLOAT_LE, 0, xf, 0, n);
        for (int i = 0; i < n / QK; i++) {
            xf[n + i] = 8 * Vec.sum(FloatVector.fromArray(F, xf, QK * i).add(FloatVector.fromArray(F, xf, QK * i + HALF)));
        }
        if (transposed) {
            transposeGroups(xf, x.tokens(), x.cols(), xf, n + n / QK);
        }
    }
}
