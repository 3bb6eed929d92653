package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.I;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.IndexedSparseEncoding;
import dev.sieve.core.quant.SlicedIndexedEncoding;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * {@link SlicedIndexedEncoding}: decode multiplies 16 rows at once, one row per lane. For each
 * stored pair k of a 32-column block, one 16-byte load gives the 16 rows' column indices, which
 * select (VPERMD) from the block's activations held in two registers, and one or two 16-byte loads
 * give the 16 rows' values: per 16 stored values a widening, a permute, a conversion and an FMA,
 * and nothing per pruned weight (BF16 values: a shift or a mask; F16: the slice converted to
 * floats first). Decode takes a block a step (see {@link #sliceQ8} for why). The work is per stored value, so it falls with density where the bitmap kernels' (per position) does
 * not. Prompts and decode batches run four tokens per pass (Q4: three), sharing each pair's loads
 * and conversions; from {@link #DECODED_MIN_N} stored of 16 and {@link #DECODED_TOKENS} tokens the
 * slices are decoded to dense floats and take the dense sliced kernel ({@link #decodeChunk}), which
 * at half density wins (Q4_I8 pp128 0.81 → 0.97 of its dense twin's). Below 16 lanes (a 16-row slice does not fit a vector; the loader makes this
 * layout at 512 bits only) rows are decoded one at a time into {@link FloatPathKernel}'s tiles.
 *
 * <p>Q4 decodes one and two tokens in 16-bit lanes instead ({@link #sliceQ4Int16}, two
 * slices a pass, against Q8_0 activations: {@link SlicedIndexedEncoding#sixteenBit}); its other paths
 * multiply the same rounded activations. Q4_I8 5632 × 2048, one thread in cache: 0.54–0.72 ms against the
 * float kernel's 0.69–1.16; Q4_S48 (loaded as Q4_I8_R) tg64 +15–27% (docs/performance.md, session 33).
 */
final class SlicedIndexedKernel extends SlicedKernel {
    private static final int QK = IndexedSparseEncoding.QK;
    private static final int G = IndexedSparseEncoding.GROUP;
    private final int n;
    private final boolean q8, bf16, f16;
    /** Q4: decode in 16-bit lanes ({@link #sliceQ4Int16}), every path on Q8_0-rounded activations. */
    private final boolean int16;
    private final SlicedIndexedEncoding sliced;
    /**
     * Q4, whose slices hold their blocks' scales ahead of their pairs, a group of blocks at a time
     * ({@link SlicedIndexedEncoding#scalesLead}): the scales converted a group at a time ({@link
     * #sliceQ4Int16}) or a slice at a time ({@link #sliceQ4Pairs}, the prompt passes); the other types
     * convert them in their loop, a block a step ({@link #sliceQ8}).
     */
    private final boolean scalesLead;
    /** Bytes from one block's pairs (or scales) to the next block's (Q4: within a group). */
    private final long pairStride, scaleStride;
    private final int step;
    private static final int SCALES = SlicedIndexedEncoding.SCALES;
    /** Q4 decodeChunk's strides hold within a chunk only if a group of blocks is whole chunks. */
    private static final boolean CHUNK_IN_GROUP = checkChunkInGroup();

    private static boolean checkChunkInGroup() {
        if (SlicedIndexedEncoding.SCALE_GROUP % (KCS / QK) != 0) {
            throw new IllegalStateException("a Q4 scale group of " + SlicedIndexedEncoding.SCALE_GROUP + " blocks is not whole "
                    + KCS + "-column chunks");
        }
        return true;
    }

    /**
     * From this many stored values per 16 (half the weights or more) prompts of {@link
     * #DECODED_TOKENS} tokens or more decode the slices to dense floats and take the dense sliced
     * kernel ({@link #decoded}); sparser types keep the stored-values passes, which do less work.
     * System property {@code sieve.indexed.decodedN}, for measurements.
     */
    static final int DECODED_MIN_N = Integer.getInteger("sieve.indexed.decodedN", 8);
    /** Lane l: l, a row's offset within a slice's column in a decoded chunk. */
    private static final IntVector LANE = LANE_PER_ROW ? IntVector.fromArray(I, java.util.stream.IntStream.range(0, ROWS).toArray(), 0) : null;
    /** Per thread: the 16 lanes' offsets for a gather and scatter (the Vector API takes them from an array). */
    private static final ThreadLocal<int[]> OFFSETS = ThreadLocal.withInitial(() -> new int[ROWS]);
    private final boolean decodedPrompt;

    SlicedIndexedKernel(SlicedIndexedEncoding e) {
        super(e);
        this.n = e.source().perGroup();
        this.decodedPrompt = n >= DECODED_MIN_N;
        this.q8 = e.source().values() == SparseEncoding.Values.Q8;
        this.bf16 = e.source().values() == SparseEncoding.Values.BF16;
        this.f16 = e.source().values() == SparseEncoding.Values.F16;
        this.sliced = e;
        this.int16 = e.sixteenBit();
        this.scalesLead = e.scalesLead();
        this.pairStride = scalesLead ? e.pairBytes() : e.sliceBlockBytes();
        this.scaleStride = scalesLead ? SlicedIndexedEncoding.SCALES : e.sliceBlockBytes(); // (unused without scales)
        this.step = e.stepBytes();
    }

    /** As the float path prepares, and for {@link #decoded} prompts every group of eight tokens transposed beside. */
    @Override
    public void prepare(Tensor w, Activations x) {
        if (int16 && LANE_PER_ROW && !int16Path(x)) { // the rounded activations on the heap (and transposed for decoded prompts)
            roundedOnHeap(x, 0, decoded(x));
            return;
        }
        super.prepare(w, x); // (below 16 lanes, and the 16-bit path: prepareInt16)
        if (decoded(x)) {
            transposeGroups(x.floats(), x.tokens(), x.cols(), x.side(transposedFloats(x.tokens(), x.cols())), 0);
        }
    }

    private boolean decoded(Activations x) {
        return LANE_PER_ROW && decodedPrompt && x.tokens() >= DECODED_TOKENS;
    }

    @Override
    void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols();
        float[] xf = int16 ? x.heapFloats() : x.floats();
        float[] xt = int16 ? xf : x.side(); // the transposed groups of a decoded prompt, and where they start
        int xto = int16 ? x.tokens() * cols : 0;
        Scratch s = SCRATCH_ROWS.get();
        float[] part = s.part;
        float[] sc = s.scales(cols / QK * ROWS);
        int g = q8 ? 4 : 3;
        boolean decoded = decoded(x);
        int blocks = cols / QK;
        for (int r = r0 - r0 % ROWS; r < r1; r += ROWS) {
            long base = SlicedIndexedEncoding.sliceOffset(rb, r), pb = sliced.pairsAt(base, blocks, 0);
            if (decoded && r >= r0 && r + ROWS <= r1) {
                int slices = r + 2 * ROWS <= r1 ? 2 : 1;
                decoded(ws, base, rb, slices, xf, xt, xto, cols, x.tokens(), out, r, outStride);
                r += (slices - 1) * ROWS;
                continue;
            }
            int t = 0;
            // (F16 and BF16 have no token-group pass: their small batches run per token.)
            boolean groups = r >= r0 && r + ROWS <= r1 && x.tokens() >= g && sliced.scaled();
            if (groups || scalesLead) { // the prompt kernels' and sliceQ4Pairs' scales
                scales(ws, base, blocks, sc);
            }
            float[] halves = f16 ? s.halves(blocks * n * step / 2) : null;
            if (f16) { // the slice's values as floats, once for all its tokens
                halfPairs(ws, pb, blocks * n, step, halves);
            }
            if (groups) {
                // Prompts: four tokens per pass share each load and widening of indices and values.
                for (; t + g <= x.tokens(); t += g) {
                    if (q8) {
                        sliceQ8x4(ws, pb, xf, t * cols, cols, sc, out, t * outStride + r, outStride);
                    } else {
                        sliceQ4x3(ws, base, xf, t * cols, cols, sc, out, t * outStride + r, outStride);
                    }
                }
            }
            for (; t < x.tokens(); t++) {
                boolean whole = r >= r0 && r + ROWS <= r1;
                // A thread's range that starts or ends inside a slice: its own rows only, through part.
                float[] dst = whole ? out : part;
                int d = whole ? t * outStride + r : 0;
                if (q8) {
                    sliceQ8(ws, pb, xf, t * cols, cols, dst, d);
                } else if (bf16) {
                    sliceBF16(ws, pb, xf, t * cols, cols, dst, d);
                } else if (f16) {
                    sliceF16(ws, pb, xf, t * cols, cols, dst, d, halves);
                } else {
                    sliceQ4Pairs(ws, base, xf, t * cols, cols, sc, dst, d);
                }
                if (!whole) {
                    keepOwnRows(part, out, t * outStride, r, r0, r1);
                }
            }
        }
    }

    /** Per thread: one slice's partial output, one slice's scales as floats, and one F16 slice's values as floats (grown to the widest row). */
    private static final class Scratch {
        final float[] part = new float[ROWS];
        float[] scales = new float[0];
        float[] halves = new float[0];

        float[] scales(int n) {
            if (scales.length < n) {
                scales = new float[n];
            }
            return scales;
        }

        float[] halves(int n) {
            if (halves.length < n) {
                halves = new float[n];
            }
            return halves;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH_ROWS = ThreadLocal.withInitial(Scratch::new);

    /**
     * For the prompt kernels and {@link #sliceQ4Pairs}: the slice's f16 scales (its first 32 bytes
     * per block) as floats, block j's 16 at {@code sc[16j..]}, converted once per slice for all its
     * token groups, and out of their loops, which pass C2's inlining budget with the conversion inside.
     */
    private void scales(MemorySegment w, long base, int blocks, float[] sc) {
        for (int j = 0; j < blocks; j++) {
            Vec.f16(w, sliced.scalesAt(base, blocks, j)).intoArray(sc, ROWS * j);
        }
    }

    /**
     * The 16 rows of the slice at {@code base} times the activations at {@code xf[xo..]}, into {@code
     * dst[d..d + 16)}: a block at a time, each block's scales converted where they are used (with a
     * pass converting the slice's scales first, as the prompt kernels take them, the slice's lines are
     * read from memory before any arithmetic: Q8 decode 5-14% slower, tg64, alternating).
     *
     * <p>Two constraints of C2 shape this loop. The running sum lives in {@code dst}, not in a
     * register: a vector live across the block loop's safepoint (a loop that holds a loop is not
     * strip-mined) was boxed on the heap at every block, a young collection every 9 ms in decode. And
     * one block per step, not two: with two blocks' four FMA chains, C2 had spent its inlining budget
     * by the scales' conversion and called it out of line, boxing its result (~3 collections a token);
     * one block per step is 15-26% faster (tg64 Q8_I5 25.2 → 29.7-31.8, Q8_I4 28.7-30.2 → 34.7-37.4,
     * Q8_I2 44.8-45.3 → 52.2-53.5, alternating), with the block's body written out in the loop.
     */
    private void sliceQ8(MemorySegment w, long pb, float[] xf, int xo, int cols, float[] dst, int d) {
        FloatVector.zero(F).intoArray(dst, d);
        for (int j = 0; j < cols / QK; j++) {
            // The block's body written here, not called: a helper compiled on its own first (as it
            // is when a prompt runs before decode) is too big to inline, and its result was boxed.
            long b0 = pb + j * pairStride - SCALES, s0 = b0 + SCALES; // the block's scales, then its pairs
            int x0 = xo + QK * j;
            IntVector xa = xi(xf, x0), xb = xi(xf, x0 + G);
            FloatVector p0 = FloatVector.zero(F), q0 = p0;
            for (int k = 0; k < n; k++, s0 += step) {
                IntVector i0 = u8(w, s0);
                p0 = s8f(w, s0 + ROWS).fma(pick(i0, xa), p0);
                q0 = s8f(w, s0 + 2 * ROWS).fma(pick(i0.lanewise(VectorOperators.LSHR, 4), xb), q0);
            }
            p0.add(q0).fma(Vec.f16(w, b0), FloatVector.fromArray(F, dst, d)).intoArray(dst, d);
        }
    }

    /**
     * As {@link #sliceQ8} for BF16 values (no scales): a pair's two values share row l's 32-bit lane,
     * A's bits in the low half, so A is the lane shifted left 16 and B the lane with its low half
     * cleared: one operation a value.
     */
    private void sliceBF16(MemorySegment w, long pb, float[] xf, int xo, int cols, float[] dst, int d) {
        FloatVector.zero(F).intoArray(dst, d);
        for (int j = 0; j < cols / QK; j++) {
            long s0 = pb + j * pairStride; // the block's body written here, as in sliceQ8
            int x0 = xo + QK * j;
            IntVector xa = xi(xf, x0), xb = xi(xf, x0 + G);
            FloatVector p0 = FloatVector.zero(F), q0 = p0;
            for (int k = 0; k < n; k++, s0 += step) {
                IntVector i0 = u8(w, s0), u = IntVector.fromMemorySegment(I, w, s0 + ROWS, Vec.LE);
                p0 = u.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pick(i0, xa), p0);
                q0 = u.and(0xFFFF0000).reinterpretAsFloats().fma(pick(i0.lanewise(VectorOperators.LSHR, 4), xb), q0);
            }
            p0.add(q0).add(FloatVector.fromArray(F, dst, d)).intoArray(dst, d);
        }
    }

    /**
     * As {@link #sliceBF16} for F16 values, read as floats from {@code buf}, where {@link #halfPairs}
     * converted the whole slice first (step k's A values at {@code buf[40k + 8..]}, B's at {@code
     * [40k + 24..]}). Converted per block in this method (as {@link SlicedNMKernel} does), C2 inlined
     * the conversion and ran out of its node budget before the permutes, whose vectors were then
     * boxed: F16_S48 tg64 4.4-4.8 against 12 with C2 alone.
     */
    private void sliceF16(MemorySegment w, long pb, float[] xf, int xo, int cols, float[] dst, int d, float[] buf) {
        FloatVector.zero(F).intoArray(dst, d);
        for (int j = 0; j < cols / QK; j++) {
            long s0 = pb + j * pairStride;
            int x0 = xo + QK * j, b0 = step / 2 * n * j + ROWS / 2;
            IntVector xa = xi(xf, x0), xb = xi(xf, x0 + G);
            FloatVector p0 = FloatVector.zero(F), q0 = p0;
            for (int k = 0; k < n; k++, s0 += step) {
                IntVector i0 = u8(w, s0);
                p0 = FloatVector.fromArray(F, buf, b0 + step / 2 * k).fma(pick(i0, xa), p0);
                q0 = FloatVector.fromArray(F, buf, b0 + step / 2 * k + ROWS).fma(pick(i0.lanewise(VectorOperators.LSHR, 4), xb), q0);
            }
            p0.add(q0).add(FloatVector.fromArray(F, dst, d)).intoArray(dst, d);
        }
    }

    /**
     * {@code pairs} F16 steps of {@code step} bytes from {@code s0} (a slice's blocks' steps follow each
     * other without scales) as floats, every two bytes, the index bytes too: one run that C2's vectorized
     * loop converts ({@link Vec#halvesToFloats}; a call per step's 32 halves was too short for its
     * vector loop: F16_S48 tg64 7.0-7.2 against 10.0-10.3 with the Vector API's conversion). Step k's
     * A values land at {@code buf[k·step/2 + 8..]}, its B values 16 floats later.
     */
    private static void halfPairs(MemorySegment w, long s0, int pairs, int step, float[] buf) {
        Vec.halvesToFloats(w, s0, buf, 0, pairs * step / 2);
    }

    /** Stored pair's A (or B) values of the 16 rows at the step {@code p}, two-byte types. */
    private FloatVector twoByte(MemorySegment w, long p, boolean b) {
        if (bf16) {
            IntVector u = IntVector.fromMemorySegment(I, w, p + ROWS, Vec.LE);
            return (b ? u.and(0xFFFF0000) : u.lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
        }
        return Vec.f16(w, p + (b ? 3 : 1) * ROWS);
    }

    /**
     * Q4 (scales leading the slice; a 16-bit lane per row and pair: the index byte, then the value byte
     * with A's level low and B's high) on the rounded activations, the tokens past the prompt kernels'
     * groups: two blocks per step, four FMA chains, the scales from
     * {@code sc} (the per-slice pass). With few pairs per block a conversion per block costs more than
     * the pass: converted in the loop, measured (tg64, alternating) −17% at N = 2 (two blocks a step),
     * and one block a step with the conversion −30% at N = 5, −50% at N = 2.
     */
    private void sliceQ4Pairs(MemorySegment w, long base, float[] xf, int xo, int cols, float[] sc, float[] dst, int d) {
        FloatVector.zero(F).intoArray(dst, d); // the running sum, in dst as in sliceQ8
        int blocks = cols / QK;
        int j = 0;
        for (; j + 2 <= blocks; j += 2) {
            int x0 = xo + QK * j;
            IntVector xa = xi(xf, x0), xb = xi(xf, x0 + G), xc = xi(xf, x0 + QK), xd = xi(xf, x0 + QK + G);
            FloatVector p0 = FloatVector.zero(F), q0 = p0, p1 = p0, q1 = p0;
            long s0 = sliced.pairsAt(base, blocks, j), s1 = s0 + pairStride; // (j even: j + 1 in the same group)
            for (int k = 0; k < n; k++, s0 += step, s1 += step) {
                IntVector u0 = u16(w, s0), u1 = u16(w, s1);
                p0 = lo4(u0).fma(pick(u0, xa), p0);
                q0 = hi4(u0).fma(pick(u0.lanewise(VectorOperators.LSHR, 4), xb), q0);
                p1 = lo4(u1).fma(pick(u1, xc), p1);
                q1 = hi4(u1).fma(pick(u1.lanewise(VectorOperators.LSHR, 4), xd), q1);
            }
            FloatVector acc = p0.add(q0).fma(FloatVector.fromArray(F, sc, ROWS * j), FloatVector.fromArray(F, dst, d));
            p1.add(q1).fma(FloatVector.fromArray(F, sc, ROWS * j + ROWS), acc).intoArray(dst, d);
        }
        if (j < blocks) {
            lastQ4(w, sliced.pairsAt(base, blocks, j), xf, xo + QK * j).fma(FloatVector.fromArray(F, sc, ROWS * j), FloatVector.fromArray(F, dst, d))
                    .intoArray(dst, d);
        }
    }

    /** A row's odd last block, unscaled (its own method: in the loop's, it passed C2's inlining budget). */
    private FloatVector lastQ4(MemorySegment w, long s0, float[] xf, int x0) {
        IntVector xa = xi(xf, x0), xb = xi(xf, x0 + G);
        FloatVector p0 = FloatVector.zero(F), q0 = p0;
        for (int k = 0; k < n; k++, s0 += step) {
            IntVector u0 = u16(w, s0);
            p0 = lo4(u0).fma(pick(u0, xa), p0);
            q0 = hi4(u0).fma(pick(u0.lanewise(VectorOperators.LSHR, 4), xb), q0);
        }
        return p0.add(q0);
    }

    /**
     * {@link #sliceQ8} for four tokens at once (activations at {@code xf[xo + i·cols..]}, results to
     * {@code out[o + i·os..]}): per stored pair one index load, two value loads and their conversions
     * serve four tokens' permutes and FMAs. 4 × 2 activation registers, 4 × 2 block sums and 4 row
     * sums: 24 of the 32 vector registers.
     */
    private void sliceQ8x4(MemorySegment w, long pb, float[] xf, int xo, int cols, float[] sc, float[] out, int o, int os) {
        for (int i = 0; i < 4; i++) { // the running sums live in out (see sliceQ8)
            FloatVector.zero(F).intoArray(out, o + i * os);
        }
        for (int j = 0; j < cols / QK; j++) {
            int x0 = xo + QK * j;
            IntVector a0 = xi(xf, x0), b0 = xi(xf, x0 + G), a1 = xi(xf, x0 + cols), b1 = xi(xf, x0 + cols + G);
            IntVector a2 = xi(xf, x0 + 2 * cols), b2 = xi(xf, x0 + 2 * cols + G);
            IntVector a3 = xi(xf, x0 + 3 * cols), b3 = xi(xf, x0 + 3 * cols + G);
            FloatVector p0 = FloatVector.zero(F), q0 = p0, p1 = p0, q1 = p0, p2 = p0, q2 = p0, p3 = p0, q3 = p0;
            long s0 = pb + j * pairStride;
            for (int k = 0; k < n; k++, s0 += step) {
                IntVector ia = u8(w, s0), ib = ia.lanewise(VectorOperators.LSHR, 4);
                FloatVector va = s8f(w, s0 + ROWS), vb = s8f(w, s0 + 2 * ROWS);
                p0 = va.fma(pick(ia, a0), p0);
                q0 = vb.fma(pick(ib, b0), q0);
                p1 = va.fma(pick(ia, a1), p1);
                q1 = vb.fma(pick(ib, b1), q1);
                p2 = va.fma(pick(ia, a2), p2);
                q2 = vb.fma(pick(ib, b2), q2);
                p3 = va.fma(pick(ia, a3), p3);
                q3 = vb.fma(pick(ib, b3), q3);
            }
            FloatVector d = FloatVector.fromArray(F, sc, ROWS * j);
            p0.add(q0).fma(d, FloatVector.fromArray(F, out, o)).intoArray(out, o);
            p1.add(q1).fma(d, FloatVector.fromArray(F, out, o + os)).intoArray(out, o + os);
            p2.add(q2).fma(d, FloatVector.fromArray(F, out, o + 2 * os)).intoArray(out, o + 2 * os);
            p3.add(q3).fma(d, FloatVector.fromArray(F, out, o + 3 * os)).intoArray(out, o + 3 * os);
        }
    }

    /**
     * {@link #sliceQ4Pairs} for three tokens at once, as {@link #sliceQ8x4} (four tokens' worth of Q4's
     * extra unpacking passed C2's inlining budget and boxed every vector: 8x slower). A copy of that
     * method's frame rather than one method branching on the value type, for the same budget.
     */
    private void sliceQ4x3(MemorySegment w, long base, float[] xf, int xo, int cols, float[] sc, float[] out, int o, int os) {
        for (int i = 0; i < 3; i++) { // the running sums live in out (see sliceQ8)
            FloatVector.zero(F).intoArray(out, o + i * os);
        }
        for (int j = 0; j < cols / QK; j++) {
            int x0 = xo + QK * j;
            IntVector a0 = xi(xf, x0), b0 = xi(xf, x0 + G), a1 = xi(xf, x0 + cols), b1 = xi(xf, x0 + cols + G);
            IntVector a2 = xi(xf, x0 + 2 * cols), b2 = xi(xf, x0 + 2 * cols + G);
            FloatVector p0 = FloatVector.zero(F), q0 = p0, p1 = p0, q1 = p0, p2 = p0, q2 = p0;
            long s0 = sliced.pairsAt(base, cols / QK, j);
            for (int k = 0; k < n; k++, s0 += step) {
                IntVector ia = u16(w, s0), ib = ia.lanewise(VectorOperators.LSHR, 4);
                FloatVector va = lo4(ia), vb = hi4(ia);
                p0 = va.fma(pick(ia, a0), p0);
                q0 = vb.fma(pick(ib, b0), q0);
                p1 = va.fma(pick(ia, a1), p1);
                q1 = vb.fma(pick(ib, b1), q1);
                p2 = va.fma(pick(ia, a2), p2);
                q2 = vb.fma(pick(ib, b2), q2);
            }
            FloatVector d = FloatVector.fromArray(F, sc, ROWS * j);
            p0.add(q0).fma(d, FloatVector.fromArray(F, out, o)).intoArray(out, o);
            p1.add(q1).fma(d, FloatVector.fromArray(F, out, o + os)).intoArray(out, o + os);
            p2.add(q2).fma(d, FloatVector.fromArray(F, out, o + 2 * os)).intoArray(out, o + 2 * os);
        }
    }

    /**
     * The stored values as dense floats: the chunk's columns zeroed, then each stored pair's 16 values
     * (d·level, as the reference decodes them) added at their columns, a gather and a scatter per
     * half (a lane is a row, so the 16 offsets differ; an index repeated within a row adds twice,
     * as the format says).
     */
    @Override
    void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride) {
        for (int c = 0; c < blocks * QK; c++) {
            FloatVector.zero(F).intoArray(dec, at + stride * c);
        }
        int[] off = OFFSETS.get();
        int sh = Integer.numberOfTrailingZeros(stride);
        // Block j's scales and pairs by the kernel's strides, computed before the loop: the layout's
        // address methods called per block cost 20% of a Q4_I8 prompt (pp128 105-110 -> 84-89). A chunk
        // (KCS columns, starting at a multiple of KCS) lies within one Q4 group of blocks (CHUNK_IN_GROUP).
        boolean scaled = sliced.scaled();
        long s0 = scaled ? sliced.scalesAt(base, rowBlocks, block0) : 0, p0 = sliced.pairsAt(base, rowBlocks, block0);
        for (int j = 0; j < blocks; j++) {
            FloatVector d = scaled ? Vec.f16(w, s0 + j * scaleStride) : null;
            IntVector lane = LANE.add(at + stride * QK * j);
            long p = p0 + j * pairStride;
            for (int k = 0; k < n; k++, p += step) {
                IntVector idx = q8 || !scaled ? u8(w, p) : u16(w, p);
                FloatVector a, b;
                if (scaled) {
                    a = (q8 ? s8f(w, p + ROWS) : lo4(idx)).mul(d);
                    b = (q8 ? s8f(w, p + 2 * ROWS) : hi4(idx)).mul(d);
                } else {
                    a = twoByte(w, p, false);
                    b = twoByte(w, p, true);
                }
                idx.and(15).lanewise(VectorOperators.LSHL, sh).add(lane).intoArray(off, 0);
                FloatVector.fromArray(F, dec, 0, off, 0).add(a).intoArray(dec, 0, off, 0);
                idx.lanewise(VectorOperators.LSHR, 4).and(15).add(G).lanewise(VectorOperators.LSHL, sh).add(lane).intoArray(off, 0);
                FloatVector.fromArray(F, dec, 0, off, 0).add(b).intoArray(dec, 0, off, 0);
            }
        }
    }

    /**
     * 16 (index, value) byte pairs, one per int lane, sign-extended: index in bits 0-7, value in 8-15
     * and its top nibble's sign above. The permutes read only the index's low bits.
     */
    private static IntVector u16(MemorySegment w, long off) {
        return (IntVector) ShortVector.fromMemorySegment(Vec.SN, w, off, Vec.LE).convertShape(VectorOperators.S2I, I, 0);
    }

    /** A's level from a {@link #u16} lane: the value byte's low nibble, a signed 4-bit number (the layout stores q − 8). */
    private static FloatVector lo4(IntVector u) {
        return Vec.i2f(u.lanewise(VectorOperators.LSHL, 20).lanewise(VectorOperators.ASHR, 28));
    }

    /** B's level: the high nibble, already sign-extended by {@link #u16}: one shift (with masking and −8: three operations). */
    private static FloatVector hi4(IntVector u) {
        return Vec.i2f(u.lanewise(VectorOperators.ASHR, 12));
    }

    // Q4 with an even N, fewer than three tokens: 16-bit lanes.

    @Override
    boolean int16Path(Activations x) {
        return LANE_PER_ROW && int16 && x.tokens() < 3;
    }

    /** Lane e of a block's A table: its level of column e % 16 (the first half); of its B table, column 16 + e % 16. */
    private static final jdk.incubator.vector.VectorShuffle<Short> HALF_A = LANE_PER_ROW ? jdk.incubator.vector.VectorShuffle.fromOp(S32, e -> e % G) : null,
            HALF_B = LANE_PER_ROW ? jdk.incubator.vector.VectorShuffle.fromOp(S32, e -> G + e % G) : null;
    /** Bytes of {@link #prepareInt16}'s tables per block: A's and B's, 32 shorts each. */
    private static final long TB = 128;

    /**
     * Each token's activations rounded to Q8_0 as the reference rounds them, then per 32-column block its
     * levels as two tables of 32 shorts (half A's 16, twice, and half B's): a lane's index byte permutes
     * them directly, its other bits falling on the copy or above the index; after all tokens' tables
     * each block's d. The levels come back from the rounded floats exactly ({@link #levels}).
     */
    @Override
    void prepareInt16(Activations x) {
        int cols = x.cols(), tokens = x.tokens(), n = tokens * cols;
        long tables = (4L * n + 63) & ~63L, scales = tables + TB * (n / QK);
        MemorySegment a = x.reserve(dev.sieve.core.quant.Q8_0Encoding.INSTANCE, scales + 4L * (n / QK));
        storeActivations(x.floats(), a, n);
        short[] qs = LEVELS.get();
        for (int i = 0; i < n / QK; i++) {
            float d = levels(a, 4L * QK * i, qs);
            ShortVector q = ShortVector.fromArray(S32, qs, 0);
            q.rearrange(HALF_A).intoMemorySegment(a, tables + TB * i, Vec.LE);
            q.rearrange(HALF_B).intoMemorySegment(a, tables + TB * i + 64, Vec.LE);
            a.set(dev.sieve.core.quant.Half.FLOAT_LE, scales + 4L * i, d);
        }
    }

    /** Two slices a pass ({@link #sliceQ4Int16}, {@link #slicePairs}). */
    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), blocks = cols / QK, n = x.tokens() * cols;
        long tables = (4L * n + 63) & ~63L;
        slicePairs(w, x, out, outStride, r0, r1, tables, TB * blocks, tables + TB * (n / QK), 4L * blocks, blocks, pairPass);
    }

    private final PairPass pairPass = this::sliceQ4Int16;

    private static final jdk.incubator.vector.VectorSpecies<Short> S16 = ShortVector.SPECIES_256;

    /**
     * The slices at {@code base} and {@code base1} times one token: its tables at {@code a[ao..]}, its
     * blocks' d at {@code a[so..]}, into {@code dst[d..d + 32)}. Per group of blocks both slices' scales
     * are converted first, into an array its blocks read ({@link SlicedIndexedEncoding#scalesAt}: a
     * group's scales come in the stream just ahead of its pairs; a pass over a whole slice's scales,
     * first in the slice, read them from memory with no arithmetic to overlap, and converted inside
     * the block loop they cost as much as two stored pairs' arithmetic). Two stored pairs of 16 rows are
     * one 64-byte load, a 16-bit lane per row and pair (index byte low, value byte high): the index
     * permutes A's table as it is and B's shifted down 4, the levels are the value byte's nibbles
     * sign-extended by shifts ({@code u << 4 >> 12}, {@code u >> 12}), two multiplies and two adds. Per
     * block the sums fold to both slices' rows in one vector, an odd N's last pairs of both slices (32
     * bytes each) join in one more, and the rows' sums convert and add, scaled, onto two running sums
     * held in registers (docs/performance.md, session 36).
     */
    private void sliceQ4Int16(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int blocks, float[] dst, int d) {
        final int gb = SlicedIndexedEncoding.SCALE_GROUP;
        float[] sc = PAIR_SCRATCH.get().heads(2 * ROWS * gb);
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int g = 0; g < blocks; g += gb) {
            int m = Math.min(gb, blocks - g);
            long sg = sliced.scalesAt(base, blocks, g), sg1 = sliced.scalesAt(base1, blocks, g);
            for (int i = 0; i < m; i++) {
                Vec.f16(w, sg + SCALES * i, sc, ROWS * i);
                Vec.f16(w, sg1 + SCALES * i, sc, ROWS * (gb + i));
            }
            long pg = sliced.pairsAt(base, blocks, g), pg1 = sliced.pairsAt(base1, blocks, g);
            for (int i = 0; i < m; i++) {
                int j = g + i;
                long p = pg + i * pairStride, p1 = pg1 + i * pairStride, t = ao + TB * j;
                ShortVector ta = ShortVector.fromMemorySegment(S32, a, t, Vec.LE), tb = ShortVector.fromMemorySegment(S32, a, t + 64, Vec.LE);
                ShortVector s0 = ShortVector.zero(S32), s1 = s0;
                for (int k = 0; k + 1 < n; k += 2, p += 2L * step, p1 += 2L * step) {
                    ShortVector u = ShortVector.fromMemorySegment(S32, w, p, Vec.LE), v = ShortVector.fromMemorySegment(S32, w, p1, Vec.LE);
                    s0 = s0.add(u.lanewise(VectorOperators.LSHL, BY4).lanewise(VectorOperators.ASHR, 12).mul(u.selectFrom(ta)))
                            .add(u.lanewise(VectorOperators.ASHR, 12).mul(u.lanewise(VectorOperators.LSHR, BY4).selectFrom(tb)));
                    s1 = s1.add(v.lanewise(VectorOperators.LSHL, BY4).lanewise(VectorOperators.ASHR, 12).mul(v.selectFrom(ta)))
                            .add(v.lanewise(VectorOperators.ASHR, 12).mul(v.lanewise(VectorOperators.LSHR, BY4).selectFrom(tb)));
                }
                // Both slices' sums folded to their 16 rows in one vector (slice 0's rows, then slice 1's; each
                // row's sum |·| ≤ N · 2032, exact in 16 bits), the odd N's last pairs of both slices one load.
                ShortVector f = FOLD_A.selectFrom(s0, s1).add(FOLD_B.selectFrom(s0, s1));
                if ((n & 1) != 0) {
                    ShortVector u = FOLD_A.selectFrom(ShortVector.fromMemorySegment(S16, w, p, Vec.LE).reinterpretShape(S32, 0),
                            ShortVector.fromMemorySegment(S16, w, p1, Vec.LE).reinterpretShape(S32, 0));
                    f = f.add(u.lanewise(VectorOperators.LSHL, BY4).lanewise(VectorOperators.ASHR, 12).mul(u.selectFrom(ta)))
                            .add(u.lanewise(VectorOperators.ASHR, 12).mul(u.lanewise(VectorOperators.LSHR, BY4).selectFrom(tb)));
                }
                IntVector i0 = (IntVector) f.convertShape(VectorOperators.S2I, I, 0), i1 = (IntVector) f.convertShape(VectorOperators.S2I, I, 1);
                float dx = a.get(dev.sieve.core.quant.Half.FLOAT_LE, so + 4L * j);
                acc0 = ((FloatVector) i0.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, sc, ROWS * i).mul(dx), acc0);
                acc1 = ((FloatVector) i1.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, sc, ROWS * (gb + i)).mul(dx), acc1);
            }
        }
        acc0.intoArray(dst, d);
        acc1.intoArray(dst, d + ROWS);
    }
}
