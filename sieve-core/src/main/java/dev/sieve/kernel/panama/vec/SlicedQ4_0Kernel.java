package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q4_0SlicedEncoding;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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
    /**
     * From this many tokens a slice is decoded once per column chunk and multiplied by {@link #micro8x2}
     * (5632 × 2048, one thread: at 8 tokens the four-token passes 2.57 ms against 2.81, at 16 4.71
     * against 4.28; system property {@code sieve.q4r16.decoded}, for measurements).
     */
    static final int DECODED_TOKENS = Integer.getInteger("sieve.q4r16.decoded", 16);
    /** Columns per decoded chunk: 32 rows × 256 floats, 32 KiB, in L1 beside the activations' lines. */
    private static final int KCS = 256;

    SlicedQ4_0Kernel() {
        super(Q4_0SlicedEncoding.INSTANCE);
    }

    /** Per thread: one slice's partial output and a decoded chunk of two slices. */
    private static final class Scratch {
        final float[] part = new float[ROWS];
        final float[] dec = new float[2 * ROWS * KCS];
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
        if (!LANE_PER_ROW) {
            super.prepare(w, x);
            return;
        }
        int n = x.tokens() * x.cols();
        // Rounded into the off-heap buffer first: the rounding's vector stores into a heap segment
        // ran as slow Java code, and prepare runs on one thread.
        MemorySegment rounded = x.reserve(F32Encoding.INSTANCE, 4L * n);
        storeActivations(x.floats(), rounded, n);
        int cols = x.cols(), groups = x.tokens() >= DECODED_TOKENS ? x.tokens() / 8 : 0;
        float[] xf = x.reserveFloats(F32Encoding.INSTANCE, n + n / QK + groups * 8 * cols);
        MemorySegment.copy(rounded, Half.FLOAT_LE, 0, xf, 0, n);
        for (int i = 0; i < n / QK; i++) {
            xf[n + i] = 8 * Vec.sum(FloatVector.fromArray(F, xf, QK * i).add(FloatVector.fromArray(F, xf, QK * i + HALF)));
        }
        for (int g = 0; g < groups; g++) {
            for (int c = 0; c < cols; c += ROWS) {
                transpose8(xf, 8 * g * cols + c, cols, n + n / QK + 8 * (g * cols + c));
            }
        }
    }

    /** Lane l of stage 1: column l / 2 of token l % 2 of a pair (columns 8.. for the high half). */
    private static final IntVector PAIR_LO = shuffle(l -> (l % 2) * 16 + l / 2), PAIR_HI = shuffle(l -> (l % 2) * 16 + 8 + l / 2);
    /** Stage 2: column l / 4 of token l % 4 of a quad, from two pairs (columns 4.. for the second). */
    private static final IntVector QUAD_LO = shuffle(l -> (l % 4 < 2 ? 0 : 16) + 2 * (l / 4) + l % 2),
            QUAD_HI = shuffle(l -> (l % 4 < 2 ? 0 : 16) + 8 + 2 * (l / 4) + l % 2);
    /** Stage 3: column l / 8 of token l % 8, from two quads (columns 2.. for the second). */
    private static final IntVector OCT_LO = shuffle(l -> (l % 8 < 4 ? 0 : 16) + 4 * (l / 8) + l % 4),
            OCT_HI = shuffle(l -> (l % 8 < 4 ? 0 : 16) + 8 + 4 * (l / 8) + l % 4);

    private static IntVector shuffle(java.util.function.IntUnaryOperator lane) {
        if (!LANE_PER_ROW) {
            return null;
        }
        int[] a = new int[ROWS];
        for (int l = 0; l < ROWS; l++) {
            a[l] = lane.applyAsInt(l);
        }
        return IntVector.fromArray(Vec.I, a, 0);
    }

    /**
     * Eight tokens' 16 columns ({@code xf[src + t·cols + c]}) as 16 columns' eight tokens
     * ({@code xf[dst + 8·c + t]}): three stages of two-vector permutes (24 for 128 values; scalar
     * copies took twice the time).
     */
    private static void transpose8(float[] xf, int src, int cols, int dst) {
        IntVector x0 = ints(xf, src), x1 = ints(xf, src + cols), x2 = ints(xf, src + 2 * cols), x3 = ints(xf, src + 3 * cols);
        IntVector x4 = ints(xf, src + 4 * cols), x5 = ints(xf, src + 5 * cols), x6 = ints(xf, src + 6 * cols), x7 = ints(xf, src + 7 * cols);
        IntVector p0 = PAIR_LO.selectFrom(x0, x1), p1 = PAIR_LO.selectFrom(x2, x3), p2 = PAIR_LO.selectFrom(x4, x5), p3 = PAIR_LO.selectFrom(x6, x7);
        IntVector r0 = PAIR_HI.selectFrom(x0, x1), r1 = PAIR_HI.selectFrom(x2, x3), r2 = PAIR_HI.selectFrom(x4, x5), r3 = PAIR_HI.selectFrom(x6, x7);
        // quads: tokens 0-3 (q) and 4-7 (s), columns 0-3, 4-7, 8-11, 12-15
        IntVector q0 = QUAD_LO.selectFrom(p0, p1), q1 = QUAD_HI.selectFrom(p0, p1), q2 = QUAD_LO.selectFrom(r0, r1), q3 = QUAD_HI.selectFrom(r0, r1);
        IntVector s0 = QUAD_LO.selectFrom(p2, p3), s1 = QUAD_HI.selectFrom(p2, p3), s2 = QUAD_LO.selectFrom(r2, r3), s3 = QUAD_HI.selectFrom(r2, r3);
        floats(OCT_LO.selectFrom(q0, s0), xf, dst);
        floats(OCT_HI.selectFrom(q0, s0), xf, dst + ROWS);
        floats(OCT_LO.selectFrom(q1, s1), xf, dst + 2 * ROWS);
        floats(OCT_HI.selectFrom(q1, s1), xf, dst + 3 * ROWS);
        floats(OCT_LO.selectFrom(q2, s2), xf, dst + 4 * ROWS);
        floats(OCT_HI.selectFrom(q2, s2), xf, dst + 5 * ROWS);
        floats(OCT_LO.selectFrom(q3, s3), xf, dst + 6 * ROWS);
        floats(OCT_HI.selectFrom(q3, s3), xf, dst + 7 * ROWS);
    }

    private static IntVector ints(float[] a, int o) {
        return FloatVector.fromArray(F, a, o).reinterpretAsInts();
    }

    private static void floats(IntVector v, float[] a, int o) {
        v.reinterpretAsFloats().intoArray(a, o);
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
                decoded(ws, base, rb, slices, xf, cols, tokens, s.dec, out, r, outStride);
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

    /**
     * Many tokens: each chunk of {@link #KCS} columns of one or two slices (16 or 32 rows) is decoded
     * once, to (q − 8)·d as Q4_0 decodes it, column c's rows at {@code dec[16·slices·c..]}, and then
     * every token multiplies it: per column one load per slice and one FMA per slice and token, the
     * conversions paid once for all tokens. Two slices, so that each token's broadcast activation
     * feeds two FMAs: with one, the loads (a weight vector and eight broadcasts for eight FMAs) were
     * what bound it. The eight tokens' activations come from {@link #prepare}'s transposed copy (a
     * column's eight at consecutive addresses): read from the token rows, the eight broadcasts needed
     * eight address registers, C2 moved others out to vector registers and back in the loop (four
     * moves on the FMA ports per 16 FMAs), and the kernel ran 12–20% slower than the row layout's
     * tiles; now 12–18% faster (docs/performance.md, session 27).
     */
    private static void decoded(MemorySegment w, long base, long rb, int slices, float[] xf, int cols, int tokens,
            float[] dec, float[] out, int r, int os) {
        int stride = ROWS * slices;
        for (int k0 = 0; k0 < cols; k0 += KCS) {
            int kc = Math.min(KCS, cols - k0);
            for (int sl = 0; sl < slices; sl++) {
                decodeChunk(w, base + sl * ROWS * rb + (k0 / QK) * SB, kc / QK, dec, ROWS * sl, stride);
            }
            boolean first = k0 == 0;
            int t = 0;
            for (; t + 8 <= tokens; t += 8) {
                if (slices == 2) {
                    micro8x2(dec, kc, xf, t * cols + 8 * k0 + tokens * cols + tokens * cols / QK, out, t * os + r, os, first);
                } else {
                    micro8(dec, kc, xf, t * cols + 8 * k0 + tokens * cols + tokens * cols / QK, out, t * os + r, os, first);
                }
            }
            for (; t < tokens; t++) {
                for (int sl = 0; sl < slices; sl++) {
                    micro1(dec, ROWS * sl, stride, kc, xf, t * cols + k0, out, t * os + r + ROWS * sl, first);
                }
            }
        }
    }

    /** {@code blocks} blocks of a slice from {@code o}, as floats: column c's 16 rows at {@code dec[at + stride·c..]}. */
    private static void decodeChunk(MemorySegment w, long o, int blocks, float[] dec, int at, int stride) {
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

    /** 32 rows (two decoded slices) × 8 tokens (column c's at {@code xf[xo + 8·c..]}) over one chunk, into (or, after the first chunk, onto) {@code out[o + i·os..]}. */
    private static void micro8x2(float[] dec, int kc, float[] xf, int xo, float[] out, int o, int os, boolean first) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
        for (int c = 0; c < kc; c++) {
            FloatVector v = FloatVector.fromArray(F, dec, 2 * ROWS * c), u = FloatVector.fromArray(F, dec, 2 * ROWS * c + ROWS);
            int x = xo + 8 * c;
            FloatVector x0 = FloatVector.broadcast(F, xf[x]);
            a0 = v.fma(x0, a0);
            b0 = u.fma(x0, b0);
            FloatVector x1 = FloatVector.broadcast(F, xf[x + 1]);
            a1 = v.fma(x1, a1);
            b1 = u.fma(x1, b1);
            FloatVector x2 = FloatVector.broadcast(F, xf[x + 2]);
            a2 = v.fma(x2, a2);
            b2 = u.fma(x2, b2);
            FloatVector x3 = FloatVector.broadcast(F, xf[x + 3]);
            a3 = v.fma(x3, a3);
            b3 = u.fma(x3, b3);
            FloatVector x4 = FloatVector.broadcast(F, xf[x + 4]);
            a4 = v.fma(x4, a4);
            b4 = u.fma(x4, b4);
            FloatVector x5 = FloatVector.broadcast(F, xf[x + 5]);
            a5 = v.fma(x5, a5);
            b5 = u.fma(x5, b5);
            FloatVector x6 = FloatVector.broadcast(F, xf[x + 6]);
            a6 = v.fma(x6, a6);
            b6 = u.fma(x6, b6);
            FloatVector x7 = FloatVector.broadcast(F, xf[x + 7]);
            a7 = v.fma(x7, a7);
            b7 = u.fma(x7, b7);
        }
        put(a0, out, o, first);
        put(a1, out, o + os, first);
        put(a2, out, o + 2 * os, first);
        put(a3, out, o + 3 * os, first);
        put(a4, out, o + 4 * os, first);
        put(a5, out, o + 5 * os, first);
        put(a6, out, o + 6 * os, first);
        put(a7, out, o + 7 * os, first);
        put(b0, out, o + ROWS, first);
        put(b1, out, o + os + ROWS, first);
        put(b2, out, o + 2 * os + ROWS, first);
        put(b3, out, o + 3 * os + ROWS, first);
        put(b4, out, o + 4 * os + ROWS, first);
        put(b5, out, o + 5 * os + ROWS, first);
        put(b6, out, o + 6 * os + ROWS, first);
        put(b7, out, o + 7 * os + ROWS, first);
    }

    /**
     * One decoded slice (column stride 16) × 8 tokens: two columns a step into two sets of sums, so
     * no FMA waits for the last (an FMA's latency is four cycles; the eight of one column take four).
     */
    private static void micro8(float[] dec, int kc, float[] xf, int xo, float[] out, int o, int os, boolean first) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
        for (int c = 0; c < kc; c += 2) {
            FloatVector v = FloatVector.fromArray(F, dec, ROWS * c), u = FloatVector.fromArray(F, dec, ROWS * c + ROWS);
            int x = xo + 8 * c;
            a0 = v.fma(FloatVector.broadcast(F, xf[x]), a0);
            b0 = u.fma(FloatVector.broadcast(F, xf[x + 8]), b0);
            a1 = v.fma(FloatVector.broadcast(F, xf[x + 1]), a1);
            b1 = u.fma(FloatVector.broadcast(F, xf[x + 9]), b1);
            a2 = v.fma(FloatVector.broadcast(F, xf[x + 2]), a2);
            b2 = u.fma(FloatVector.broadcast(F, xf[x + 10]), b2);
            a3 = v.fma(FloatVector.broadcast(F, xf[x + 3]), a3);
            b3 = u.fma(FloatVector.broadcast(F, xf[x + 11]), b3);
            a4 = v.fma(FloatVector.broadcast(F, xf[x + 4]), a4);
            b4 = u.fma(FloatVector.broadcast(F, xf[x + 12]), b4);
            a5 = v.fma(FloatVector.broadcast(F, xf[x + 5]), a5);
            b5 = u.fma(FloatVector.broadcast(F, xf[x + 13]), b5);
            a6 = v.fma(FloatVector.broadcast(F, xf[x + 6]), a6);
            b6 = u.fma(FloatVector.broadcast(F, xf[x + 14]), b6);
            a7 = v.fma(FloatVector.broadcast(F, xf[x + 7]), a7);
            b7 = u.fma(FloatVector.broadcast(F, xf[x + 15]), b7);
        }
        put(a0.add(b0), out, o, first);
        put(a1.add(b1), out, o + os, first);
        put(a2.add(b2), out, o + 2 * os, first);
        put(a3.add(b3), out, o + 3 * os, first);
        put(a4.add(b4), out, o + 4 * os, first);
        put(a5.add(b5), out, o + 5 * os, first);
        put(a6.add(b6), out, o + 6 * os, first);
        put(a7.add(b7), out, o + 7 * os, first);
    }

    /** One token over one decoded slice (its rows at {@code dec[at + stride·c..]}), four columns a step. */
    private static void micro1(float[] dec, int at, int stride, int kc, float[] xf, int xo, float[] out, int o, boolean first) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < kc; c += 4) {
            int x = xo + c, d = at + stride * c;
            a0 = FloatVector.fromArray(F, dec, d).fma(FloatVector.broadcast(F, xf[x]), a0);
            a1 = FloatVector.fromArray(F, dec, d + stride).fma(FloatVector.broadcast(F, xf[x + 1]), a1);
            a2 = FloatVector.fromArray(F, dec, d + 2 * stride).fma(FloatVector.broadcast(F, xf[x + 2]), a2);
            a3 = FloatVector.fromArray(F, dec, d + 3 * stride).fma(FloatVector.broadcast(F, xf[x + 3]), a3);
        }
        put(a0.add(a1).add(a2.add(a3)), out, o, first);
    }

    private static void put(FloatVector v, float[] out, int o, boolean first) {
        (first ? v : v.add(FloatVector.fromArray(F, out, o))).intoArray(out, o);
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
