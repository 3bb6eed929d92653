package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q4_0SlicedEncoding;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorOperators;

/**
 * {@link Q4_0SlicedEncoding} (Q4_0 with 16 rows interleaved): 16 rows at once, one row per lane.
 * Per byte j of a block, one 16-byte load holds the 16 rows' nibbles of columns j and j + 16: a
 * widening, a mask, a shift, two conversions and two FMAs against the two columns' broadcast
 * activations. Per block, the 16 rows' scales are one conversion and one FMA, and Q4_0's −8 is one
 * subtraction of 8·Σx (the block's activation sum, per token, computed once per call). Nothing is
 * reduced across lanes. Batches below {@link #DECODED_TOKENS} tokens take four tokens per pass,
 * sharing each load, mask and conversion; larger ones decode each column chunk of two slices once
 * and multiply it by a 32-row × 8-token register kernel. Below 16 lanes (the loader makes this
 * layout at 512 bits only) rows are decoded one at a time into {@link FloatPathKernel}'s tiles by
 * the encoding's reference.
 */
final class SlicedQ4_0Kernel extends SlicedKernel {
    private static final int SCALES = SlicedEncoding.SCALES;
    private static final int QK = Q4_0Encoding.QK;
    private static final int HALF = QK / 2;
    /** Bytes of one 32-column block of a slice. */
    private static final long SB = (long) ROWS * Q4_0Encoding.BLOCK_BYTES;
    /** Tokens per pass of {@link #slice4}. */
    private static final int GROUP = 4;

    SlicedQ4_0Kernel() {
        super(Q4_0SlicedEncoding.INSTANCE);
    }

    /** Per thread: one slice's partial output. */
    private static final class Scratch {
        final float[] part = new float[ROWS];
    }

    /**
     * At 16 lanes: the activations as Q4_0's kernels multiply them (rounded to Q8_0's values), on the
     * heap for the broadcasts, followed by each block's 8·Σx for Q4_0's −8, once for all threads. A
     * copy per {@link #matmul} call instead (one per thread and chunk, 8 per matrix) cost 19% of a
     * 2048 × 5632 product at 128 tokens. From {@link #DECODED_TOKENS} tokens on, each full group of
     * eight tokens follows, transposed: column c's eight activations at {@code 8·(g·cols + c)..} for
     * group g (see {@link #decoded}).
     */
    @Override
    public void prepare(Tensor w, Activations x) {
        if (!LANE_PER_ROW || int16Path(x)) { // the reference's rows below 16 lanes; FloatPathKernel dispatches to prepareInt16
            super.prepare(w, x);
            return;
        }
        int n = x.tokens() * x.cols();
        float[] xf = roundedOnHeap(x, n / QK, x.tokens() >= DECODED_TOKENS);
        for (int i = 0; i < n / QK; i++) {
            xf[n + i] = 8 * Vec.sum(FloatVector.fromArray(F, xf, QK * i).add(FloatVector.fromArray(F, xf, QK * i + HALF)));
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH_ROWS = ThreadLocal.withInitial(Scratch::new);

    @Override
    void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens(), blocks = cols / QK;
        Scratch s = SCRATCH_ROWS.get();
        float[] xf = x.heapFloats(), sx = xf; // the block sums follow the rows (see prepare)
        int sums = tokens * cols;
        for (int r = r0 - r0 % ROWS; r < r1; r += ROWS) {
            long base = SlicedEncoding.sliceOffset(rb, r);
            boolean whole = r >= r0 && r + ROWS <= r1;
            int t = 0;
            if (whole && tokens >= DECODED_TOKENS) {
                int slices = r + 2 * ROWS <= r1 ? 2 : 1;
                decoded(ws, base, rb, slices, xf, xf, sums + sums / QK, cols, tokens, out, r, outStride);
                r += (slices - 1) * ROWS;
                continue;
            }
            if (whole) {
                for (; t + GROUP <= tokens; t += GROUP) {
                    slice4(ws, base, xf, t * cols, cols, sx, sums + t * blocks, out, t * outStride + r, outStride);
                }
            }
            for (; t < tokens; t++) {
                if (whole) {
                    slice(ws, base, xf, t * cols, cols, sx, sums + t * blocks, out, t * outStride + r);
                } else {
                    // A thread's range that starts or ends inside a slice: keep its own rows only.
                    slice(ws, base, xf, t * cols, cols, sx, sums + t * blocks, s.part, 0);
                    keepOwnRows(s.part, out, t * outStride, r, r0, r1);
                }
            }
        }
    }

    /**
     * The 16 rows of the slice at {@code base} times one token's activations {@code xf[xo..]} (block
     * sums at {@code sx[so..]}), into {@code dst[d..d + 16)}. Four FMA chains: low and high nibbles of
     * two bytes a step. The running sum lives in {@code dst}, not in a register: a vector live across
     * the block loop's safepoint (the loop holds a loop, so C2 does not strip-mine it) was boxed on the
     * heap at every block, 3.4 GB/s of garbage and a young collection every 9 ms in decode.
     */
    private static void slice(MemorySegment w, long base, float[] xf, int xo, int cols, float[] sx, int so, float[] dst, int d) {
        FloatVector.zero(F).intoArray(dst, d);
        long o = base;
        for (int j = 0; j < cols / QK; j++, o += SB) {
            FloatVector p0 = FloatVector.zero(F), p1 = p0, p2 = p0, p3 = p0;
            int xj = xo + QK * j;
            long q = o + SCALES;
            for (int c = 0; c < HALF; c += 2) {
                IntVector v0 = Vec.u8(w, q + ROWS * c, 0), v1 = Vec.u8(w, q + ROWS * (c + 1), 0);
                p0 = lo(v0).fma(FloatVector.broadcast(F, xf[xj + c]), p0);
                p1 = hi(v0).fma(FloatVector.broadcast(F, xf[xj + c + HALF]), p1);
                p2 = lo(v1).fma(FloatVector.broadcast(F, xf[xj + c + 1]), p2);
                p3 = hi(v1).fma(FloatVector.broadcast(F, xf[xj + c + 1 + HALF]), p3);
            }
            p0.add(p1).add(p2.add(p3)).sub(sx[so + j]).fma(Vec.f16(w, o), FloatVector.fromArray(F, dst, d)).intoArray(dst, d);
        }
    }

    /**
     * {@link #slice} for four tokens at once (activations at {@code xf[xo + i·cols..]}, block sums at
     * {@code sx[so + i·blocks..]}, results to {@code out[o + i·os..]}): each byte's load, mask, shift
     * and conversions serve eight FMAs.
     */
    private static void slice4(MemorySegment w, long base, float[] xf, int xo, int cols, float[] sx, int so,
            float[] out, int o, int os) {
        for (int i = 0; i < GROUP; i++) { // the running sums live in out (see slice)
            FloatVector.zero(F).intoArray(out, o + i * os);
        }
        int blocks = cols / QK;
        long ob = base;
        for (int j = 0; j < blocks; j++, ob += SB) {
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            int x0 = xo + QK * j, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
            long q = ob + SCALES;
            for (int c = 0; c < HALF; c++) {
                IntVector v = Vec.u8(w, q + ROWS * c, 0);
                FloatVector lo = lo(v), hi = hi(v);
                a0 = lo.fma(FloatVector.broadcast(F, xf[x0 + c]), a0);
                b0 = hi.fma(FloatVector.broadcast(F, xf[x0 + c + HALF]), b0);
                a1 = lo.fma(FloatVector.broadcast(F, xf[x1 + c]), a1);
                b1 = hi.fma(FloatVector.broadcast(F, xf[x1 + c + HALF]), b1);
                a2 = lo.fma(FloatVector.broadcast(F, xf[x2 + c]), a2);
                b2 = hi.fma(FloatVector.broadcast(F, xf[x2 + c + HALF]), b2);
                a3 = lo.fma(FloatVector.broadcast(F, xf[x3 + c]), a3);
                b3 = hi.fma(FloatVector.broadcast(F, xf[x3 + c + HALF]), b3);
            }
            FloatVector d = Vec.f16(w, ob);
            a0.add(b0).sub(sx[so + j]).fma(d, FloatVector.fromArray(F, out, o)).intoArray(out, o);
            a1.add(b1).sub(sx[so + blocks + j]).fma(d, FloatVector.fromArray(F, out, o + os)).intoArray(out, o + os);
            a2.add(b2).sub(sx[so + 2 * blocks + j]).fma(d, FloatVector.fromArray(F, out, o + 2 * os)).intoArray(out, o + 2 * os);
            a3.add(b3).sub(sx[so + 3 * blocks + j]).fma(d, FloatVector.fromArray(F, out, o + 3 * os)).intoArray(out, o + 3 * os);
        }
    }

    // Decode in 16-bit lanes (fewer than GROUP tokens).

    /**
     * Below {@link #GROUP} tokens (decode, and the last tokens of a speculative batch) at 16 lanes:
     * {@link #sliceInt16} against the Q8_0 activations as 16-bit patterns ({@link #prepareInt16}).
     */
    @Override
    boolean int16Path(Activations x) {
        return LANE_PER_ROW && x.tokens() < GROUP;
    }

    /**
     * Bytes of {@link #prepareInt16}'s activations per 32-column block: one vector of 32 shorts, lane c < 16
     * the level of column c and lane 16 + c that of column 16 + c minus 16 times column c's. Step s's two
     * patterns are permuted from it in registers ({@link #LOW_COLUMNS}, {@link #HIGH_COLUMNS}); laid out in
     * memory (512 bytes a block) they fell out of L1 beside the weights' stream (docs/performance.md,
     * session 43).
     */
    static final long PB = 64;
    /** Step s's pattern P, lane k column 4s + k / 8's level (eight consecutive lanes a column), from a block's vector. */
    static final VectorShuffle<Short>[] LOW_COLUMNS = columnShuffles(0);
    /** Step s's pattern Q, lane k column 16 + 4s + k / 8's level minus 16 times P's, the same way. */
    static final VectorShuffle<Short>[] HIGH_COLUMNS = columnShuffles(HALF);

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Short>[] columnShuffles(int first) {
        VectorShuffle<Short>[] s = new VectorShuffle[4];
        for (int step = 0; step < 4; step++) {
            int c = first + 4 * step;
            s[step] = LANE_PER_ROW ? VectorShuffle.fromOp(S32, k -> c + k / 8) : null;
        }
        return s;
    }

    /** Lane k → k − 16 (mod 32): the low half's lanes under the high half's. */
    private static final VectorShuffle<Short> UP_HALF = LANE_PER_ROW ? VectorShuffle.fromOp(S32, k -> (k + HALF) % 32) : null;
    private static final VectorMask<Short> UPPER_LANES = LANE_PER_ROW ? VectorMask.fromLong(S32, 0xFFFF0000L) : null;

    /** Where the scales of {@link #prepareInt16} start: after every token's patterns. */
    static long int16Scales(int tokens, int cols) {
        return PB * (cols / QK) * tokens;
    }

    /**
     * Each token's activations rounded to Q8_0 as the reference rounds them (q·d, d the f16 scale),
     * then per 32-column block one vector of 32 shorts ({@link #PB}) from which step s (its byte
     * positions 4s .. 4s + 3, {@link #sliceInt16}) permutes its two patterns: P, lane k the level q of
     * column 4s + k/8, and Q, lane k the level of column 16 + 4s + k/8 minus 16·P's (so that e·P + (e >>>
     * 4)·Q = lo·P + hi·q_hi for a byte e = lo + 16·hi, without a mask); after all tokens' vectors each
     * block's d and 8·Σ q·d (Q4_0's −8, per token).
     * The levels come back from the rounded floats exactly: a block's largest |q·d| is 127·d (the block
     * maximum rounds to ±127, and the product is exact in float), so d = max / 127 and q = (q·d) / d.
     */
    @Override
    void prepareInt16(Activations x) {
        nibblePatterns(this, x);
    }

    /**
     * {@link #prepareInt16} for the layouts whose 32-column units are Q4_0_R16 blocks (Q4_0_R16, and
     * Q4_K_R16's sub-blocks: {@link SlicedQ4_KKernel}), with {@code k}'s rounding.
     */
    static void nibblePatterns(FloatPathKernel k, Activations x) {
        int cols = x.cols(), tokens = x.tokens(), blocks = cols / QK, n = tokens * cols;
        long patterns = (4L * n + 63) & ~63L, scales = patterns + int16Scales(tokens, cols);
        MemorySegment a = x.reserve(Q8_0Encoding.INSTANCE, scales + 8L * blocks * tokens);
        k.storeActivations(x.floats(), a, n);
        short[] qs = LEVELS.get();
        for (int i = 0; i < n / QK; i++) {
            float d = levels(a, 4L * QK * i, qs);
            ShortVector q = ShortVector.fromArray(S32, qs, 0);
            FloatVector v = FloatVector.fromMemorySegment(F, a, 4L * QK * i, Vec.LE)
                    .add(FloatVector.fromMemorySegment(F, a, 4L * QK * i + 4L * HALF, Vec.LE));
            // Lanes 16..31 less 16 times lanes 0..15: the low half moved up by a rearrangement, shifted, subtracted.
            q.sub(q.rearrange(UP_HALF).lanewise(VectorOperators.LSHL, 4), UPPER_LANES).intoMemorySegment(a, patterns + PB * i, Vec.LE);
            a.set(Half.FLOAT_LE, scales + 8L * i, d);
            a.set(Half.FLOAT_LE, scales + 8L * i + 4, 8 * Vec.sum(v));
        }
    }

    /** Two slices a pass ({@link #sliceInt16}, {@link #slicePairs}). */
    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens(), blocks = cols / QK;
        long patterns = (4L * tokens * cols + 63) & ~63L;
        slicePairs(w, x, out, outStride, r0, r1, patterns, PB * blocks, patterns + int16Scales(tokens, cols), 8L * blocks, blocks,
                SlicedQ4_0Kernel::sliceInt16);
    }

    /** Lane m → m + 8 (mod 16). */
    static final VectorShuffle<Float> SWAP_HALVES = LANE_PER_ROW ? VectorShuffle.fromOp(F, m -> (m + 8) % 16) : null;
    /** Lane m → row 2·(m % 8) (the even rows, twice), and → 2·(m % 8) + 1. */
    static final VectorShuffle<Float> EVEN_ROWS = LANE_PER_ROW ? VectorShuffle.fromOp(F, m -> 2 * (m % 8)) : null;
    static final VectorShuffle<Float> ODD_ROWS = LANE_PER_ROW ? VectorShuffle.fromOp(F, m -> 2 * (m % 8) + 1) : null;
    /** Lane l → l / 2. */
    static final VectorShuffle<Float> HALF_LANES = LANE_PER_ROW ? VectorShuffle.fromOp(F, l -> l / 2) : null;
    static final VectorMask<Float> ODD_LANES = LANE_PER_ROW ? VectorMask.fromLong(F, 0xAAAAL) : null;

    /**
     * The slices at {@code base} and {@code base1} times one token in 16-bit lanes: its blocks' levels at
     * {@code a[ao..]} (a step's patterns P and Q permuted from them), its blocks' d and 8·Σx at {@code a[so..]} ({@link #prepareInt16}), into {@code dst[d..d +
     * 32)}. A block's 256 nibble bytes are four 64-byte loads (byte positions 4s .. 4s + 3 of its 16 rows);
     * read as 32 shorts, lane k holds rows 2·(k % 8) (low byte, e) and 2·(k % 8) + 1 (high byte, o) at
     * position 4s + k/8, so e = u & 0xFF and o = u >>> 8 need one mask and one shift, and each of
     * them times P plus its high nibble times Q is its two columns' products: three shifts, one
     * mask, four multiplies and four adds per 128 weights (the float decoder: 28 vector operations).
     * Eight products a lane per block stay below 2^15 (15·127·8), so the 16-bit sums are exact. Per
     * block two two-vector permutes ({@link #ROW_A}, {@link #ROW_B}) and an add fold each row's four
     * lanes of the even- and odd-row sums to two adjacent shorts (2·15·127·8 < 2^15), whose int view's
     * halves add by three shifts and an add to the rows' sums in row order, converted and scaled by the
     * rows' d_w·d_x, one FMA; Q4_0's −8 is d_w·8Σx, one FMA. Against widening each of the four sums
     * (a permute, a blend and two sign extensions each) and joining the even and odd rows per slice:
     * one thread from L3 22.8–24.4 GB/s against 20.0–21.9, from memory 11.7–13.0 against 10.1–12.1;
     * Q4_0 tg64 33.98–36.18 against 32.97–33.69 on the AMD Zen 4 host (session 39).
     *
     * <p>Two slices a pass, each step's patterns serving both: with one, the two pattern loads per weight
     * load (the patterns were then laid out in memory) kept the core from overlapping its arithmetic with the weights' transfer from memory (a probe
     * streaming 1 GB with 16-bit work per load: 8.7–9.2 GB/s without pattern loads, 6.2–6.7 with two per
     * load, against 11–13 from L3), and Q4_0's decode ran at 17.2–18.2 tokens/s against 20.1–21.3 in pairs
     * (docs/performance.md, session 32). The four steps are written out: as an inner loop the block loop
     * would hold a loop, C2 would keep its safepoint, and the float sums, live across it, would be boxed
     * at every block (see {@link #slice}).
     */
    private static void sliceInt16(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int blocks,
            float[] dst, int d) {
        FloatVector acc = FloatVector.zero(F), corr = acc, acc1 = acc, corr1 = acc;
        long o = base, o1 = base1;
        for (int j = 0; j < blocks; j++, o += SB, o1 += SB) {
            long q = o + SCALES, q1 = o1 + SCALES, p = ao + PB * j;
            ShortVector levels = ShortVector.fromMemorySegment(S32, a, p, Vec.LE);
            ShortVector lo = levels.rearrange(LOW_COLUMNS[0]);
            ShortVector hi = levels.rearrange(HIGH_COLUMNS[0]);
            ShortVector u = ShortVector.fromMemorySegment(S32, w, q, Vec.LE);
            ShortVector v = ShortVector.fromMemorySegment(S32, w, q1, Vec.LE);
            ShortVector e = u.and((short) 0xFF);
            ShortVector od = u.lanewise(VectorOperators.LSHR, BY8);
            ShortVector e1 = v.and((short) 0xFF);
            ShortVector od1 = v.lanewise(VectorOperators.LSHR, BY8);
            ShortVector se = e.mul(lo).add(e.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            ShortVector sd = od.mul(lo).add(od.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            ShortVector te = e1.mul(lo).add(e1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            ShortVector td = od1.mul(lo).add(od1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            lo = levels.rearrange(LOW_COLUMNS[1]);
            hi = levels.rearrange(HIGH_COLUMNS[1]);
            u = ShortVector.fromMemorySegment(S32, w, q + 64, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 64, Vec.LE);
            e = u.and((short) 0xFF);
            od = u.lanewise(VectorOperators.LSHR, BY8);
            e1 = v.and((short) 0xFF);
            od1 = v.lanewise(VectorOperators.LSHR, BY8);
            se = se.add(e.mul(lo)).add(e.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            sd = sd.add(od.mul(lo)).add(od.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            te = te.add(e1.mul(lo)).add(e1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            td = td.add(od1.mul(lo)).add(od1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            lo = levels.rearrange(LOW_COLUMNS[2]);
            hi = levels.rearrange(HIGH_COLUMNS[2]);
            u = ShortVector.fromMemorySegment(S32, w, q + 128, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 128, Vec.LE);
            e = u.and((short) 0xFF);
            od = u.lanewise(VectorOperators.LSHR, BY8);
            e1 = v.and((short) 0xFF);
            od1 = v.lanewise(VectorOperators.LSHR, BY8);
            se = se.add(e.mul(lo)).add(e.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            sd = sd.add(od.mul(lo)).add(od.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            te = te.add(e1.mul(lo)).add(e1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            td = td.add(od1.mul(lo)).add(od1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            lo = levels.rearrange(LOW_COLUMNS[3]);
            hi = levels.rearrange(HIGH_COLUMNS[3]);
            u = ShortVector.fromMemorySegment(S32, w, q + 192, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 192, Vec.LE);
            e = u.and((short) 0xFF);
            od = u.lanewise(VectorOperators.LSHR, BY8);
            e1 = v.and((short) 0xFF);
            od1 = v.lanewise(VectorOperators.LSHR, BY8);
            se = se.add(e.mul(lo)).add(e.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            sd = sd.add(od.mul(lo)).add(od.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            te = te.add(e1.mul(lo)).add(e1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            td = td.add(od1.mul(lo)).add(od1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            // Each row's four lanes of se (even rows) or sd (odd rows) folded to two adjacent shorts
            // (|sum| ≤ 2·8·15·127 < 2^15), whose int view's two halves add to the row's sum, rows in order.
            IntVector f = ROW_A.selectFrom(se, sd).add(ROW_B.selectFrom(se, sd)).reinterpretAsInts();
            IntVector f1 = ROW_A.selectFrom(te, td).add(ROW_B.selectFrom(te, td)).reinterpretAsInts();
            f = f.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(f.lanewise(VectorOperators.ASHR, 16));
            f1 = f1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(f1.lanewise(VectorOperators.ASHR, 16));
            float dx = a.get(Half.FLOAT_LE, so + 8L * j), sx = a.get(Half.FLOAT_LE, so + 8L * j + 4);
            // The rows' f16 scales as floats, finite by the layout (Q4_0SlicedEncoding): sign-extended,
            // shifted to a float's exponent and mantissa places, the sign's two copies below bit 31
            // masked off, then times 2^112 (exact for normal and subnormal halves alike).
            FloatVector dw = ((IntVector) ShortVector.fromMemorySegment(Vec.SN, w, o, Vec.LE).convertShape(VectorOperators.S2I, Vec.I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(0x1p112f);
            corr = dw.fma(FloatVector.broadcast(F, sx), corr);
            acc = ((FloatVector) f.convert(VectorOperators.I2F, 0)).fma(dw.mul(dx), acc);
            FloatVector dv = ((IntVector) ShortVector.fromMemorySegment(Vec.SN, w, o1, Vec.LE).convertShape(VectorOperators.S2I, Vec.I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(0x1p112f);
            corr1 = dv.fma(FloatVector.broadcast(F, sx), corr1);
            acc1 = ((FloatVector) f1.convert(VectorOperators.I2F, 0)).fma(dv.mul(dx), acc1);
        }
        acc.sub(corr).intoArray(dst, d);
        acc1.sub(corr1).intoArray(dst, d + ROWS);
    }

    /**
     * Two-vector {@code selectFrom} indices over a slice's even-row and odd-row 16-bit sums ({@link
     * #sliceInt16}: lane k of each holds row 2·(k % 8), resp. 2·(k % 8) + 1, at position k / 8): short
     * lane 2r + p of {@code ROW_A.selectFrom(se, sd).add(ROW_B.selectFrom(se, sd))} is row r's positions
     * 2p and 2p + 1, so the int view's lane r holds row r's two halves.
     */
    static final ShortVector ROW_A = LANE_PER_ROW ? ShortVector.fromArray(S32, rowFold(0), 0) : null,
            ROW_B = LANE_PER_ROW ? ShortVector.fromArray(S32, rowFold(8), 0) : null;

    private static short[] rowFold(int second) {
        short[] l = new short[2 * ROWS];
        for (int lane = 0; lane < 2 * ROWS; lane++) {
            int row = lane / 2, part = lane % 2;
            l[lane] = (short) ((row % 2) * 2 * ROWS + row / 2 + 2 * 8 * part + second);
        }
        return l;
    }

    /** Q4_0's (q − 8)·d. */
    @Override
    void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride) {
        long o = base + block0 * SB;
        for (int j = 0; j < blocks; j++, o += SB) {
            FloatVector d = Vec.f16(w, o);
            long q = o + SCALES;
            int c0 = at + stride * QK * j;
            for (int c = 0; c < HALF; c++) {
                IntVector v = Vec.u8(w, q + ROWS * c, 0);
                Vec.i2f(v.and(0x0F).sub(8)).mul(d).intoArray(dec, c0 + stride * c);
                Vec.i2f(v.lanewise(VectorOperators.LSHR, 4).sub(8)).mul(d).intoArray(dec, c0 + stride * (c + HALF));
            }
        }
    }

    /** Column j's level for 16 rows (the low nibbles), unshifted: Q4_0's −8 is taken off per block. */
    private static FloatVector lo(IntVector v) {
        return Vec.i2f(v.and(0x0F));
    }

    /** Column j + 16's (the high nibbles). */
    private static FloatVector hi(IntVector v) {
        return Vec.i2f(v.lanewise(VectorOperators.LSHR, 4));
    }
}
