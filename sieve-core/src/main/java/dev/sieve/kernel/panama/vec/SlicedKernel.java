package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.I;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

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

    /**
     * For the dense sliced kernels' float path: the activations rounded as the reference rounds them,
     * copied to the heap for the broadcasts ({@code xf[0..n)}), room for {@code side} floats of the
     * kernel's own after them, and with {@code transposed} each full group of eight tokens transposed
     * from {@code n + side} (see {@link #decoded}). Once for all threads. Rounded into the off-heap
     * buffer first: the rounding's vector stores into a heap segment ran as slow Java code.
     */
    final float[] roundedOnHeap(Activations x, int side, boolean transposed) {
        int n = x.tokens() * x.cols();
        MemorySegment rounded = x.reserve(dev.sieve.core.quant.F32Encoding.INSTANCE, 4L * n);
        storeActivations(x.floats(), rounded, n);
        float[] xf = x.reserveFloats(dev.sieve.core.quant.F32Encoding.INSTANCE,
                n + side + (transposed ? transposedFloats(x.tokens(), x.cols()) : 0));
        MemorySegment.copy(rounded, dev.sieve.core.quant.Half.FLOAT_LE, 0, xf, 0, n);
        if (transposed) {
            transposeGroups(xf, x.tokens(), x.cols(), xf, n + side);
        }
        return xf;
    }

    /** 32 shorts, for the 16-bit decode kernels (Q4_0_R16, Q8_0_R16). */
    static final VectorSpecies<Short> S32 = ShortVector.SPECIES_512;
    /**
     * Shift counts of 4 and 8 as vectors, for the 16-bit kernels' shifts of shorts: C2 has no
     * immediate form for those and moved the count into a register before every shift (a VMOVD on
     * the shuffle port each time, six a Q8_0_R16 step); a vector count is one VPSLLVW / VPSRAVW /
     * VPSRLVW from a register loaded once (Q8_0_R16 5632 × 2048, one thread, in cache: 0.73–0.94 ms
     * against 0.85–1.09).
     */
    static final ShortVector BY4 = LANE_PER_ROW ? ShortVector.broadcast(S32, (short) 4) : null;
    static final ShortVector BY8 = LANE_PER_ROW ? ShortVector.broadcast(S32, (short) 8) : null;
    /** Per thread: one block's activation levels (see {@link #levels}). */
    static final ThreadLocal<short[]> LEVELS = ThreadLocal.withInitial(() -> new short[32]);

    /**
     * The Q8_0 levels of the 32 rounded activations at {@code a[off..]} (q·d, as {@link
     * #storeActivations} rounds them) into {@code q[0..32)}; returns d. A block's largest |q·d| is 127·d
     * (its maximum rounds to ±127 and the product is exact in float), so d = max / 127 and q = (q·d) / d,
     * exactly. For the 16-bit kernels' activation patterns; the vector goes to the array, not back to
     * the caller (a vector returned from a method C2 does not inline is boxed).
     */
    static float levels(MemorySegment a, long off, short[] q) {
        FloatVector v0 = FloatVector.fromMemorySegment(Vec.F, a, off, Vec.LE);
        FloatVector v1 = FloatVector.fromMemorySegment(Vec.F, a, off + 64, Vec.LE);
        float d = v0.abs().max(v1.abs()).reduceLanes(VectorOperators.MAX) / 127f;
        ShortVector s = ShortVector.zero(S32);
        if (d != 0) {
            s = ((ShortVector) v0.div(d).convert(VectorOperators.F2I, 0).convertShape(VectorOperators.I2S, S32, 0))
                    .or((ShortVector) v1.div(d).convert(VectorOperators.F2I, 0).convertShape(VectorOperators.I2S, S32, -1));
        }
        s.intoArray(q, 0);
        return d;
    }

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
        if (x.encoding() != dev.sieve.core.quant.F32Encoding.INSTANCE && int16Path(x)) { // Q8_0's patterns, or a layout's own levels
            int16Matmul(w, x, out, outStride, r0, r1);
            return;
        }
        requirePrepared(x);
        matmulSlices(w.data(), w.rowBytes(), x, out, outStride, r0, r1);
    }

    /** Their own kernels at 16 lanes, the tiles below: never {@link Panels}. */
    @Override
    final boolean panels(int tokens) {
        return false;
    }

    /** At 16 lanes: rows {@code [r0, r1)} of the sliced matrix at {@code ws} (rows of {@code rb} bytes) times the prepared {@code x}. */
    abstract void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1);

    /**
     * Row r's handle for {@link #decode}, below 16 lanes: the row and the row length packed, {@code
     * r << 32 | rb}. An interleaved row has no offset of its own, and a layout may place a block's
     * parts by the row's length ({@link dev.sieve.core.quant.SlicedIndexedEncoding}'s scales lead the slice).
     */
    @Override
    final long rowOffset(long rb, int r) {
        return (long) r << 32 | Integer.toUnsignedLong(Math.toIntExact(rb));
    }

    /**
     * The row whose {@link #rowOffset} handle is {@code row}, for the tiles and row buffers (below 16
     * lanes only): the encoding's reference decoder, off the hot path.
     */
    @Override
    final void decode(MemorySegment w, long row, int k0, int kc, float[] dst, int dstOff) {
        int r = (int) (row >>> 32), bs = sliced.blockSize();
        long rb = row & 0xFFFF_FFFFL;
        sliced.dequantizeBlocks(w, SlicedEncoding.sliceOffset(rb, r), (int) (rb / sliced.blockBytes()), r % ROWS, k0 / bs,
                kc / bs, dst, dstOff);
    }

    /** Copies rows {@code [max(r, r0), min(r + 16, r1))} of the slice at row r from {@code part} (its 16 results) to {@code out[o + row]}. */
    static void keepOwnRows(float[] part, float[] out, int o, int r, int r0, int r1) {
        for (int i = Math.max(r, r0); i < Math.min(r + ROWS, r1); i++) {
            out[o + i] = part[i - r];
        }
    }

    /**
     * Per thread, for the 16-bit decode kernels that take two slices a pass: each block's scales of the
     * two slices as floats ({@link #heads}), the two slices' outputs ({@link #pair}, for a slice taken
     * alone), and one slice's outputs for all tokens ({@link #outputs}, for {@link #decodedRows}).
     */
    static final class PairScratch {
        private float[] heads = new float[0];
        final float[] pair = new float[2 * ROWS];
        /** A slice pair's even- and odd-row sums, for {@link #joinRows}. */
        final float[] sums = new float[4 * ROWS];
        private float[] outputs = new float[0];

        float[] heads(int n) {
            if (heads.length < n) {
                heads = new float[n];
            }
            return heads;
        }

        float[] outputs(int n) {
            if (outputs.length < n) {
                outputs = new float[n];
            }
            return outputs;
        }
    }

    static final ThreadLocal<PairScratch> PAIR_SCRATCH = ThreadLocal.withInitial(PairScratch::new);

    /**
     * The two slices' runs of {@code n} f16 scales at {@code s0} and {@code s1} as floats, the first's
     * then the second's, in this thread's {@link PairScratch#heads}: a plain loop each, which C2 compiles
     * to VCVTPH2PS, once per slice pair instead of ten written-out vector operations per block and slice
     * (the indexed Q4 and bitmap kernels, whose scales lead or trail each slice in one run).
     */
    static float[] pairScales(MemorySegment w, long s0, long s1, int n) {
        float[] f = PAIR_SCRATCH.get().heads(2 * n);
        Vec.halvesToFloats(w, s0, f, 0, n);
        Vec.halvesToFloats(w, s1, f, n, n);
        return f;
    }

    /**
     * The 16-bit Q8 kernels' sums as results, where the int view of a step's 16-bit sums left them in even
     * and odd rows: {@code s[0..16)} and {@code s[16..32)} the first slice's, lane m holding row 2·(m mod 8)
     * and 2·(m mod 8) + 1 (lanes m and m + 8 each half of it), {@code s[32..64)} the second slice's, into
     * {@code dst[d..d + 32)}. The kernels store their sums and call this, rather than pass vectors: at
     * the end of those methods C2 is past its inlining budget (-XX:+PrintInlining: NodeCountInliningCutoff),
     * leaves even a small helper out of line, and a call that takes vectors boxes them. (The Q4 kernels
     * fold their 16-bit sums into row order before widening and need no join: SlicedQ4_0Kernel.ROW_A.)
     */
    static void joinRows(float[] s, float[] dst, int d) {
        for (int k = 0; k < 2; k++) {
            FloatVector fe = FloatVector.fromArray(F, s, 32 * k), fo = FloatVector.fromArray(F, s, 32 * k + ROWS);
            FloatVector re = fe.add(fe.rearrange(SlicedQ4_0Kernel.SWAP_HALVES)), ro = fo.add(fo.rearrange(SlicedQ4_0Kernel.SWAP_HALVES));
            re.rearrange(SlicedQ4_0Kernel.HALF_LANES).blend(ro.rearrange(SlicedQ4_0Kernel.HALF_LANES), SlicedQ4_0Kernel.ODD_LANES)
                    .intoArray(dst, d + ROWS * k);
        }
    }

    /**
     * A 16-bit kernel's pass: the slices at {@code base} and {@code base1} (one slice given twice when it
     * is taken alone) times one token, whose tables or patterns are at {@code a[at..]} and block scales at
     * {@code a[so..]}, rows of {@code blocks} blocks, into {@code dst[d..d + 32)}.
     */
    @FunctionalInterface
    interface PairPass {
        void run(MemorySegment w, long base, long base1, MemorySegment a, long at, long so, int blocks, float[] dst, int d);
    }

    /**
     * The 16-bit kernels' loop over rows {@code [r0, r1)}: two slices a pass, each token in turn (the
     * slices stay in L1 for the next token); a last single slice, or one the range starts or ends
     * inside, goes through the same pass given twice, its rows kept from the first half. Token t's
     * tables start at {@code tables + tableBytes·t}, its scales at {@code scales + scaleBytes·t}.
     */
    static void slicePairs(Tensor w, Activations x, float[] out, int outStride, int r0, int r1, long tables, long tableBytes,
            long scales, long scaleBytes, int blocks, PairPass pass) {
        MemorySegment ws = w.data(), a = x.encoded();
        long rb = w.rowBytes();
        float[] pair = PAIR_SCRATCH.get().pair;
        for (int r = r0 - r0 % ROWS; r < r1; r += ROWS) {
            long base = SlicedEncoding.sliceOffset(rb, r);
            boolean two = r >= r0 && r + 2 * ROWS <= r1;
            for (int t = 0; t < x.tokens(); t++) {
                long at = tables + tableBytes * t, so = scales + scaleBytes * t;
                if (two) {
                    pass.run(ws, base, base + ROWS * rb, a, at, so, blocks, out, t * outStride + r);
                } else {
                    pass.run(ws, base, base, a, at, so, blocks, pair, 0);
                    keepOwnRows(pair, out, t * outStride, r, r0, r1);
                }
            }
            if (two) {
                r += ROWS;
            }
        }
    }

    /**
     * Prompts through {@link #decoded} for the layouts whose float path needs no side sums (the
     * activations {@link #roundedOnHeap} with no side floats): whole slices two at a time where the
     * range has them; a slice the range starts or ends inside is decoded whole into a per-thread buffer
     * and only the range's rows are kept.
     */
    final void decodedRows(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens(), n = tokens * cols;
        float[] xf = x.heapFloats();
        for (int r = r0 - r0 % ROWS; r < r1; r += ROWS) {
            long base = SlicedEncoding.sliceOffset(rb, r);
            if (r >= r0 && r + ROWS <= r1) {
                int slices = r + 2 * ROWS <= r1 ? 2 : 1;
                decoded(ws, base, rb, slices, xf, xf, n, cols, tokens, out, r, outStride);
                r += (slices - 1) * ROWS;
                continue;
            }
            float[] part = PAIR_SCRATCH.get().outputs(ROWS * tokens);
            decoded(ws, base, rb, 1, xf, xf, n, cols, tokens, part, 0, ROWS);
            for (int t = 0; t < tokens; t++) {
                for (int i = Math.max(r, r0); i < Math.min(r + ROWS, r1); i++) {
                    out[t * outStride + i] = part[t * ROWS + i - r];
                }
            }
        }
    }

    /** {@link #prepare} of the layouts that take {@link #decodedRows}: the 16-bit path's own below its threshold, else the rounded floats, transposed from eight tokens. */
    final void prepareDecodedRows(Tensor w, Activations x) {
        if (!LANE_PER_ROW || int16Path(x)) { // the reference's rows below 16 lanes; FloatPathKernel dispatches to prepareInt16
            super.prepare(w, x);
            return;
        }
        roundedOnHeap(x, 0, x.tokens() >= 8);
    }

    /**
     * From this many tokens a whole slice is decoded once per column chunk and multiplied by {@link
     * #micro8x2} (Q4_0_R16, 5632 × 2048, one thread: at 8 tokens the four-token passes 2.57 ms against
     * 2.81, at 16 4.71 against 4.28; system property {@code sieve.sliced.decoded}, for measurements).
     */
    static final int DECODED_TOKENS = Integer.getInteger("sieve.sliced.decoded", 16);
    /** Columns per decoded chunk: 32 rows × 256 floats, 32 KiB, in L1 beside the activations' lines. */
    static final int KCS = 256;
    /** Per thread: a decoded chunk of two slices. */
    private static final ThreadLocal<float[]> DECODED = ThreadLocal.withInitial(() -> new float[2 * ROWS * KCS]);
    /** Per thread: the micro-kernels' sums, token t's rows of slice s at {@code 2·16·t + 16·s} (grown to the longest batch). */
    private static final ThreadLocal<float[][]> SUMS = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    /**
     * Blocks {@code [block0, block0 + blocks)} of the slice at {@code base} (rows of {@code rowBlocks}
     * blocks) as floats (the weights the encoding's reference decodes), column c's 16 rows at {@code
     * dec[at + stride·c..]}, for {@link #decoded}.
     */
    abstract void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride);

    /** Floats of {@link #transposeGroups}' copy of {@code tokens} tokens (whole groups of eight only). */
    static int transposedFloats(int tokens, int cols) {
        return tokens / 8 * 8 * cols;
    }

    /**
     * Every whole group g of eight tokens of {@code src} (token t's column c at {@code src[t·cols + c]},
     * cols a multiple of 16) to {@code dst[dsto + 8·(g·cols + c) + t % 8]}, for {@link #decoded}.
     */
    static void transposeGroups(float[] src, int tokens, int cols, float[] dst, int dsto) {
        for (int g = 0; g < tokens / 8; g++) {
            for (int c = 0; c < cols; c += ROWS) {
                transpose8(src, 8 * g * cols + c, cols, dst, dsto + 8 * (g * cols + c));
            }
        }
    }

    /**
     * Two-vector {@code selectFrom} indices over two slices' 16-bit sums (lane l: row l mod 16, column
     * pair l / 16): FOLD_A takes lanes 0–15 of the first vector, then lanes 0–15 of the second; FOLD_B
     * lanes 16–31 of each, so {@code FOLD_A.selectFrom(s0, s1).add(FOLD_B.selectFrom(s0, s1))} is slice
     * 0's 16 rows, then slice 1's.
     */
    static final ShortVector FOLD_A = LANE_PER_ROW ? ShortVector.fromArray(S32, foldLanes(0), 0) : null,
            FOLD_B = LANE_PER_ROW ? ShortVector.fromArray(S32, foldLanes(ROWS), 0) : null;

    private static short[] foldLanes(int from) {
        short[] l = new short[2 * ROWS];
        for (int i = 0; i < ROWS; i++) {
            l[i] = (short) (from + i);
            l[ROWS + i] = (short) (2 * ROWS + from + i);
        }
        return l;
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
     * ({@code dst[d + 8·c + t]}): three stages of two-vector permutes (24 for 128 values; scalar
     * copies took twice the time).
     */
    private static void transpose8(float[] xf, int src, int cols, float[] dst, int d) {
        IntVector x0 = ints(xf, src), x1 = ints(xf, src + cols), x2 = ints(xf, src + 2 * cols), x3 = ints(xf, src + 3 * cols);
        IntVector x4 = ints(xf, src + 4 * cols), x5 = ints(xf, src + 5 * cols), x6 = ints(xf, src + 6 * cols), x7 = ints(xf, src + 7 * cols);
        IntVector p0 = PAIR_LO.selectFrom(x0, x1), p1 = PAIR_LO.selectFrom(x2, x3), p2 = PAIR_LO.selectFrom(x4, x5), p3 = PAIR_LO.selectFrom(x6, x7);
        IntVector r0 = PAIR_HI.selectFrom(x0, x1), r1 = PAIR_HI.selectFrom(x2, x3), r2 = PAIR_HI.selectFrom(x4, x5), r3 = PAIR_HI.selectFrom(x6, x7);
        // quads: tokens 0-3 (q) and 4-7 (s), columns 0-3, 4-7, 8-11, 12-15
        IntVector q0 = QUAD_LO.selectFrom(p0, p1), q1 = QUAD_HI.selectFrom(p0, p1), q2 = QUAD_LO.selectFrom(r0, r1), q3 = QUAD_HI.selectFrom(r0, r1);
        IntVector s0 = QUAD_LO.selectFrom(p2, p3), s1 = QUAD_HI.selectFrom(p2, p3), s2 = QUAD_LO.selectFrom(r2, r3), s3 = QUAD_HI.selectFrom(r2, r3);
        floats(OCT_LO.selectFrom(q0, s0), dst, d);
        floats(OCT_HI.selectFrom(q0, s0), dst, d + ROWS);
        floats(OCT_LO.selectFrom(q1, s1), dst, d + 2 * ROWS);
        floats(OCT_HI.selectFrom(q1, s1), dst, d + 3 * ROWS);
        floats(OCT_LO.selectFrom(q2, s2), dst, d + 4 * ROWS);
        floats(OCT_HI.selectFrom(q2, s2), dst, d + 5 * ROWS);
        floats(OCT_LO.selectFrom(q3, s3), dst, d + 6 * ROWS);
        floats(OCT_HI.selectFrom(q3, s3), dst, d + 7 * ROWS);
    }

    private static IntVector ints(float[] a, int o) {
        return FloatVector.fromArray(F, a, o).reinterpretAsInts();
    }

    private static void floats(IntVector v, float[] a, int o) {
        v.reinterpretAsFloats().intoArray(a, o);
    }

    /**
     * Many tokens: each chunk of {@link #KCS} columns of one or two slices (16 or 32 rows) is decoded
     * once ({@link #decodeChunk}), column c's rows at {@code dec[16·slices·c..]}, and then
     * every token multiplies it: per column one load per slice and one FMA per slice and token, the
     * conversions paid once for all tokens. Two slices, so that each token's broadcast activation
     * feeds two FMAs: with one, the loads (a weight vector and eight broadcasts for eight FMAs) were
     * what bound it. The activations are token t's column c at {@code xf[t·cols + c]} and, for each
     * full group g of eight tokens, transposed at {@code xt[xto + 8·(g·cols + c)..]} ({@link
     * #transposeGroups}): read from the token rows, the eight broadcasts needed
     * eight address registers, C2 moved others out to vector registers and back in the loop (four
     * moves on the FMA ports per 16 FMAs), and the kernel ran 12–20% slower than the row layout's
     * tiles; now 12–18% faster (docs/performance.md, session 27).
     */
    final void decoded(MemorySegment w, long base, long rb, int slices, float[] xf, float[] xt, int xto, int cols,
            int tokens, float[] out, int r, int os) {
        float[] dec = DECODED.get();
        int stride = ROWS * slices, bs = sliced.blockSize(), grouped = tokens / 8 * 8;
        float[] sums = sums(grouped);
        java.util.Arrays.fill(sums, 0, 2 * ROWS * grouped, 0f);
        for (int k0 = 0; k0 < cols; k0 += KCS) {
            int kc = Math.min(KCS, cols - k0);
            for (int sl = 0; sl < slices; sl++) {
                decodeChunk(w, base + sl * ROWS * rb, cols / bs, k0 / bs, kc / bs, dec, ROWS * sl, stride);
            }
            for (int t = 0; t < grouped; t += 8) {
                if (slices == 2) {
                    micro8x2(dec, kc, xt, xto + t * cols + 8 * k0, sums, 2 * ROWS * t);
                } else {
                    micro8(dec, kc, xt, xto + t * cols + 8 * k0, sums, 2 * ROWS * t);
                }
            }
            for (int t = grouped; t < tokens; t++) {
                for (int sl = 0; sl < slices; sl++) {
                    micro1(dec, ROWS * sl, stride, kc, xf, t * cols + k0, out, t * os + r + ROWS * sl, k0 == 0);
                }
            }
        }
        for (int t = 0; t < grouped; t++) {
            for (int sl = 0; sl < slices; sl++) {
                FloatVector.fromArray(F, sums, 2 * ROWS * t + ROWS * sl).intoArray(out, t * os + r + ROWS * sl);
            }
        }
    }

    /**
     * This thread's sums for {@code tokens} tokens. The micro-kernels add onto them rather than onto {@code
     * out}: given {@code out}'s offsets, a kernel held its eight row addresses across its loop, C2 moved one
     * of its own registers out to a vector register and back at every column, and the loop ran at 55
     * GMAC/s a core instead of 87 (docs/performance.md, session 36).
     */
    private static float[] sums(int tokens) {
        float[][] holder = SUMS.get();
        if (holder[0].length < 2 * ROWS * tokens) {
            holder[0] = new float[2 * ROWS * tokens];
        }
        return holder[0];
    }

    /** 32 rows (two decoded slices) × 8 tokens (column c's at {@code xf[xo + 8·c..]}) over one chunk, onto {@code sums[so..]} ({@link #sums}). */
    private static void micro8x2(float[] dec, int kc, float[] xf, int xo, float[] sums, int so) {
        FloatVector a0 = sum(sums, so, 0, 0), a1 = sum(sums, so, 1, 0), a2 = sum(sums, so, 2, 0), a3 = sum(sums, so, 3, 0);
        FloatVector a4 = sum(sums, so, 4, 0), a5 = sum(sums, so, 5, 0), a6 = sum(sums, so, 6, 0), a7 = sum(sums, so, 7, 0);
        FloatVector b0 = sum(sums, so, 0, 1), b1 = sum(sums, so, 1, 1), b2 = sum(sums, so, 2, 1), b3 = sum(sums, so, 3, 1);
        FloatVector b4 = sum(sums, so, 4, 1), b5 = sum(sums, so, 5, 1), b6 = sum(sums, so, 6, 1), b7 = sum(sums, so, 7, 1);
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
        a0.intoArray(sums, so);
        a1.intoArray(sums, so + 2 * ROWS);
        a2.intoArray(sums, so + 4 * ROWS);
        a3.intoArray(sums, so + 6 * ROWS);
        a4.intoArray(sums, so + 8 * ROWS);
        a5.intoArray(sums, so + 10 * ROWS);
        a6.intoArray(sums, so + 12 * ROWS);
        a7.intoArray(sums, so + 14 * ROWS);
        b0.intoArray(sums, so + ROWS);
        b1.intoArray(sums, so + 3 * ROWS);
        b2.intoArray(sums, so + 5 * ROWS);
        b3.intoArray(sums, so + 7 * ROWS);
        b4.intoArray(sums, so + 9 * ROWS);
        b5.intoArray(sums, so + 11 * ROWS);
        b6.intoArray(sums, so + 13 * ROWS);
        b7.intoArray(sums, so + 15 * ROWS);
    }

    /** Token so / 32 + t's sums of slice s ({@link #sums}). */
    private static FloatVector sum(float[] sums, int so, int t, int s) {
        return FloatVector.fromArray(F, sums, so + 2 * ROWS * t + ROWS * s);
    }

    /**
     * One decoded slice (column stride 16) × 8 tokens onto {@code sums[so..]} ({@link #sums}): two columns a step
     * into two sets of sums, so no FMA waits for the last (an FMA's latency is four cycles; the eight of
     * one column take four).
     */
    private static void micro8(float[] dec, int kc, float[] xf, int xo, float[] sums, int so) {
        FloatVector a0 = sum(sums, so, 0, 0), a1 = sum(sums, so, 1, 0), a2 = sum(sums, so, 2, 0), a3 = sum(sums, so, 3, 0);
        FloatVector a4 = sum(sums, so, 4, 0), a5 = sum(sums, so, 5, 0), a6 = sum(sums, so, 6, 0), a7 = sum(sums, so, 7, 0);
        FloatVector b0 = FloatVector.zero(F), b1 = b0, b2 = b0, b3 = b0, b4 = b0, b5 = b0, b6 = b0, b7 = b0;
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
        a0.add(b0).intoArray(sums, so);
        a1.add(b1).intoArray(sums, so + 2 * ROWS);
        a2.add(b2).intoArray(sums, so + 4 * ROWS);
        a3.add(b3).intoArray(sums, so + 6 * ROWS);
        a4.add(b4).intoArray(sums, so + 8 * ROWS);
        a5.add(b5).intoArray(sums, so + 10 * ROWS);
        a6.add(b6).intoArray(sums, so + 12 * ROWS);
        a7.add(b7).intoArray(sums, so + 14 * ROWS);
    }

    /** One token over one decoded slice (its rows at {@code dec[at + stride·c..]}), four columns a step. */
    private static void micro1(float[] dec, int at, int stride, int kc, float[] xf, int xo, float[] out, int o, boolean first) {
        FloatVector a0 = start(out, o, first), a1 = FloatVector.zero(F), a2 = a1, a3 = a1;
        for (int c = 0; c < kc; c += 4) {
            int x = xo + c, d = at + stride * c;
            a0 = FloatVector.fromArray(F, dec, d).fma(FloatVector.broadcast(F, xf[x]), a0);
            a1 = FloatVector.fromArray(F, dec, d + stride).fma(FloatVector.broadcast(F, xf[x + 1]), a1);
            a2 = FloatVector.fromArray(F, dec, d + 2 * stride).fma(FloatVector.broadcast(F, xf[x + 2]), a2);
            a3 = FloatVector.fromArray(F, dec, d + 3 * stride).fma(FloatVector.broadcast(F, xf[x + 3]), a3);
        }
        a0.add(a1).add(a2.add(a3)).intoArray(out, o);
    }


    private static FloatVector start(float[] out, int o, boolean first) {
        return first ? FloatVector.zero(F) : FloatVector.fromArray(F, out, o);
    }

    // The one-row-per-lane kernels' common steps (16 lanes).

    /** 16 activations as int bits, for the permutes. */
    static IntVector xi(float[] xf, int at) {
        return FloatVector.fromArray(F, xf, at).reinterpretAsInts();
    }

    /** Lane i: the activation at the low 4 bits of {@code idx}'s lane i (selectFrom wraps the index to 0..15). */
    static FloatVector pick(IntVector idx, IntVector x) {
        return idx.selectFrom(x).reinterpretAsFloats();
    }

    static IntVector u8(MemorySegment w, long off) {
        return (IntVector) ByteVector.fromMemorySegment(Vec.BL, w, off, Vec.LE)
                .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    static FloatVector s8f(MemorySegment w, long off) {
        return (FloatVector) ByteVector.fromMemorySegment(Vec.BL, w, off, Vec.LE).convertShape(VectorOperators.B2F, F, 0);
    }
}
