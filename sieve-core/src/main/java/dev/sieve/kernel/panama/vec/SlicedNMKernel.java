package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.I;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.quant.SlicedNMEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * {@link SlicedNMEncoding} (2:4 with Q8, Q4, BF16 or F16 values, 4:8 with Q8 or Q4, 16 rows interleaved): decode multiplies 16 rows
 * at once, one row per lane. BF16 and F16 work per stored value, as the indexed N:16 kernel does: each 2:4
 * group's four activations fill every quarter of a register (prepared once per product, {@link
 * #replicateGroups}: a load per group instead of a permute and the index masking the Vector API adds
 * to it), and each of the group's two stored values takes its activation by a permute whose index is
 * its 2-bit column, shifted out of the row's 32-bit index word (the bits above it, the next value's
 * column, fall on the replicas and do not matter). Per 16 stored values: a shift, a permute, a
 * conversion (BF16: a shift; F16 converted a slice at a time into an array first) and an FMA. Model
 * level (tinyllama shape, tg64): BF16_S24 1.6× BF16 (docs/performance.md, session 28).
 *
 * <p>Q4 and Q8 run in 16-bit lanes against Q8_0 activations ({@link #sliceQ4Int16}, {@link #sliceQ8Int16},
 * two slices a pass, the pattern layout in {@link SlicedNMEncoding}): per-step tables of each pattern's
 * activations, indexed by the lanes' codes, so that two stored values of 32 lanes cost two permutes, a
 * shift or two, two multiplies and two or three adds. The float kernels per stored value had fallen
 * behind the dense 16-bit kernels (Q4_S24 0.86–1.04× Q4_0, sessions 31–32); session 33 (docs/performance.md):
 * Q4_S24 tg64 1.03–1.14× the faster Q4_0, Q8_S24 1.55–1.83× Q8_0. 4:8 takes the same kernels: its groups
 * are pairs of fifteen patterns instead of six, which only the tables and the relayout know (session 38).
 *
 * <p>Prompts and batches of {@link #DECODED_FROM} tokens or more decode each chunk of a slice to dense
 * floats once and take the dense sliced kernel ({@link #decoded}); fewer tokens run the one-token
 * product per token.
 */
final class SlicedNMKernel extends SlicedKernel {
    private static final int QK = 32;
    private static final int INDICES = SlicedNMEncoding.INDICES;
    /** Lane l of REP[g]: 4g + l % 4, group g's four columns (of 16) in every quarter. */
    private static final VectorShuffle<Float>[] REP = shuffles();
    private static final VectorShuffle<Float> REP0 = REP[0], REP1 = REP[1], REP2 = REP[2], REP3 = REP[3];

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] shuffles() {
        VectorShuffle<Float>[] r = new VectorShuffle[4];
        for (int g = 0; LANE_PER_ROW && g < 4; g++) {
            int q = g;
            r[g] = VectorShuffle.fromOp(F, l -> 4 * q + l % 4);
        }
        return r;
    }

    private final SlicedNMEncoding encoding;
    private final boolean q8, bf16, f16;
    /** Q4 and Q8 values: the pattern layout and its 16-bit decode ({@link SlicedNMEncoding#patterned}). */
    private final boolean patterned;
    /** Bytes of a slice's block (16 rows), and from its start to its index words (its scales; none for BF16 and F16). */
    private final long sb, scaleBytes;

    SlicedNMKernel(SlicedNMEncoding e) {
        super(e);
        this.encoding = e;
        this.q8 = e.q8();
        this.patterned = e.patterned();
        this.bf16 = e.values() == dev.sieve.core.quant.SparseEncoding.Values.BF16;
        this.f16 = e.values() == dev.sieve.core.quant.SparseEncoding.Values.F16;
        this.sb = e.sliceBlockBytes();
        this.scaleBytes = e.scaleBytes();
        this.first = tableShuffles(e, 0);
        this.second = tableShuffles(e, 1);
        this.q8Pass = (w, base, base1, a, at, so, blocks, dst, d) -> sliceQ8Int16(w, base, base1, a, at, so, blocks, dst, d, first, second);
        this.q4Pass = (w, base, base1, a, at, so, blocks, dst, d) -> sliceQ4Int16(w, base, base1, a, at, so, blocks, dst, d, first, second);
        this.pairA = pairColumns(e, 0);
        this.pairB = pairColumns(e, 1);
        this.offset1 = e.pairBase(1);
        this.span = e.column(0, e.patterns() - 1, 1) + 1;
    }

    /**
     * As the float path prepares, and beside it (at 16 lanes) for {@link #decoded} prompts every group
     * of eight tokens transposed, then for the one-token products (which also take a thread's part
     * slices in a prompt) the activations' groups replicated ({@link #replicateGroups}, from {@link
     * #replicatedAt}).
     */
    @Override
    public void prepare(Tensor w, Activations x) {
        if (patterned) {
            prepareDecodedRows(w, x);
            return;
        }
        super.prepare(w, x);
        if (!LANE_PER_ROW) {
            return;
        }
        int at = replicatedAt(x);
        float[] side = x.side(at + 4 * x.tokens() * x.cols());
        if (decoded(x)) {
            transposeGroups(x.floats(), x.tokens(), x.cols(), side, 0);
        }
        replicateGroups(x.floats(), x.tokens() * x.cols(), side, at);
    }

    /** Where the replicated groups start in the side array: after the transposed groups of a decoded prompt. */
    private static int replicatedAt(Activations x) {
        return decoded(x) ? transposedFloats(x.tokens(), x.cols()) : 0;
    }

    /**
     * For the one-token products: every group of four activations copied to the four quarters of
     * 16 floats ({@code rep[16q..]} for group q), so that a group's register is one load, where a
     * permute (and the index masking the Vector API adds to it) cost two operations per group.
     */
    private static void replicateGroups(float[] x, int n, float[] rep, int at) {
        for (int c = 0; c < n; c += ROWS) {
            FloatVector v = FloatVector.fromArray(F, x, c);
            v.rearrange(REP0).intoArray(rep, at + 4 * c);
            v.rearrange(REP1).intoArray(rep, at + 4 * c + ROWS);
            v.rearrange(REP2).intoArray(rep, at + 4 * c + 2 * ROWS);
            v.rearrange(REP3).intoArray(rep, at + 4 * c + 3 * ROWS);
        }
    }

    /**
     * From this many tokens a slice's chunks are decoded once for all tokens ({@link #decoded}); fewer
     * run the one-token product per token. Eight, where the sliced kernels' default is 16: a 2:4 block's
     * one-token product costs more than Q4_0's (pp8 Q8_S24 32.4 → 56.5, Q4_S24 37.6 → 60.8; at four tokens
     * the decoded chunks lost, 24.8 → 18.8). System property {@code sieve.nm.decodedTokens}, for measurements.
     */
    private static final int DECODED_FROM = Integer.getInteger("sieve.nm.decodedTokens", 8);

    private static boolean decoded(Activations x) {
        return LANE_PER_ROW && x.tokens() >= DECODED_FROM;
    }

    @Override
    void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        if (patterned) { // fewer tokens take the 16-bit path
            decodedRows(ws, rb, x, out, outStride, r0, r1);
            return;
        }
        int cols = x.cols();
        float[] xf = x.floats();
        float[] part = PART.get();
        float[] halves = f16 ? halves(cols / QK * (int) sb / 2) : null;
        boolean decoded = decoded(x);
        int rep = replicatedAt(x);
        for (int r = r0 - r0 % ROWS; r < r1; r += ROWS) {
            long base = SlicedEncoding.sliceOffset(rb, r);
            boolean whole = r >= r0 && r + ROWS <= r1;
            if (decoded && whole) {
                int slices = r + 2 * ROWS <= r1 ? 2 : 1;
                decoded(ws, base, rb, slices, xf, x.side(), 0, cols, x.tokens(), out, r, outStride);
                r += (slices - 1) * ROWS;
                continue;
            }
            if (f16) { // the slice as floats, once for all its tokens
                Vec.halvesToFloats(ws, base, halves, 0, cols / QK * (int) sb / 2);
            }
            for (int t = 0; t < x.tokens(); t++) {
                // A thread's range that starts or ends inside a slice: its own rows only, through part.
                float[] dst = whole ? out : part;
                int d = whole ? t * outStride + r : 0;
                if (bf16) {
                    sliceBF16(ws, base, x.side(), rep + 4 * t * cols, cols, dst, d);
                } else {
                    sliceF16(ws, base, x.side(), rep + 4 * t * cols, cols, dst, d, halves);
                }
                if (!whole) {
                    keepOwnRows(part, out, t * outStride, r, r0, r1);
                }
            }
        }
    }

    /** Per thread: one slice's results where a thread's rows start or end inside it. */
    private static final ThreadLocal<float[]> PART = ThreadLocal.withInitial(() -> new float[ROWS]);

    /**
     * BF16 values (two bytes each, value s of the 16 rows at 32·s; no scales): the 16 rows of the slice at {@code base} times one token's replicated activations ({@code
     * xr[xo..]}, {@link #replicateGroups}), into {@code dst[d..d + 16)}. Groups g and g + 4 a step (halves A and B of the block), four FMA chains; the
     * running sum in {@code dst}, not in a register, as in the indexed kernel (a vector live across
     * the block loop was boxed). {@link #sliceF16} repeats this
     * frame with its own value loads, on purpose: one method branching on the value type would pass
     * C2's node budget (with the groups' permutes in the loop, a Q4 copy's scale conversion was no longer
     * inlined but called, its result boxed: 1.5× slower in L2); and BF16 sent through F16's per-block buffer to share its
     * loop ran 1.44–1.48 ms a 5632 × 2048 matrix against 1.18 (alternating), too slow for its rule.
     */

    private void sliceBF16(MemorySegment w, long base, float[] xr, int xo, int cols, float[] dst, int d) {
        FloatVector.zero(F).intoArray(dst, d);
        for (int j = 0; j < cols / QK; j++) {
            long io = base + j * sb, v0 = io + INDICES;
            int x0 = xo + 4 * QK * j; // block j's 8 replicated groups
            IntVector idx = IntVector.fromMemorySegment(I, w, io, Vec.LE);
            FloatVector p0 = FloatVector.zero(F), q0 = p0, p1 = p0, q1 = p0;
            for (int g = 0; g < 4; g++) {
                IntVector ga = xi(xr, x0 + ROWS * g), gb = xi(xr, x0 + ROWS * (g + 4)); // groups g and g + 4
                IntVector ia = idx.lanewise(VectorOperators.LSHR, 4 * g), ib = idx.lanewise(VectorOperators.LSHR, 4 * g + 16);
                long v = v0 + 4L * ROWS * g; // values 2g, 2g + 1 (group g) and 2g + 8, 2g + 9 (group g + 4)
                p0 = Vec.bf16(w, v).fma(pick(ia, ga), p0);
                q0 = Vec.bf16(w, v + 2 * ROWS).fma(pick(ia.lanewise(VectorOperators.LSHR, 2), ga), q0);
                p1 = Vec.bf16(w, v + 16 * ROWS).fma(pick(ib, gb), p1);
                q1 = Vec.bf16(w, v + 18 * ROWS).fma(pick(ib.lanewise(VectorOperators.LSHR, 2), gb), q1);
            }
            p0.add(q0).add(p1.add(q1)).add(FloatVector.fromArray(F, dst, d)).intoArray(dst, d);
        }
    }

    /**
     * As {@link #sliceBF16} for F16 values, read as floats from {@code buf}: the whole slice converted
     * first, every two bytes (the index words too, never read as values), by one loop that C2 vectorizes
     * ({@link Vec#halvesToFloats}); block j's value s of the 16 rows at {@code buf[j·sb/2 + 32 + 16·s..]}.
     * Converted per block with {@link Vec#f16} in the loop, C2's node budget left the conversion a call
     * whose result was boxed (10.3 ms a 5632 × 2048 matrix, 152 collections a run); per block through
     * an array, 1.87 ms; C2's loop per block of 256 halves ran F16_S24 tg64 9.9-12.6, the whole slice at
     * once 12.5 and up (docs/performance.md, session 29).
     */
    private void sliceF16(MemorySegment w, long base, float[] xr, int xo, int cols, float[] dst, int d, float[] buf) {
        FloatVector.zero(F).intoArray(dst, d);
        for (int j = 0; j < cols / QK; j++) {
            long io = base + j * sb;
            int b0 = j * (int) sb / 2 + INDICES / 2; // block j's values in buf
            int x0 = xo + 4 * QK * j; // block j's 8 replicated groups
            IntVector idx = IntVector.fromMemorySegment(I, w, io, Vec.LE);
            FloatVector p0 = FloatVector.zero(F), q0 = p0, p1 = p0, q1 = p0;
            for (int g = 0; g < 4; g++) {
                IntVector ga = xi(xr, x0 + ROWS * g), gb = xi(xr, x0 + ROWS * (g + 4)); // groups g and g + 4
                IntVector ia = idx.lanewise(VectorOperators.LSHR, 4 * g), ib = idx.lanewise(VectorOperators.LSHR, 4 * g + 16);
                int v = b0 + 2 * ROWS * g; // values 2g, 2g + 1 (group g) and 2g + 8, 2g + 9 (group g + 4)
                p0 = FloatVector.fromArray(F, buf, v).fma(pick(ia, ga), p0);
                q0 = FloatVector.fromArray(F, buf, v + ROWS).fma(pick(ia.lanewise(VectorOperators.LSHR, 2), ga), q0);
                p1 = FloatVector.fromArray(F, buf, v + 8 * ROWS).fma(pick(ib, gb), p1);
                q1 = FloatVector.fromArray(F, buf, v + 9 * ROWS).fma(pick(ib.lanewise(VectorOperators.LSHR, 2), gb), q1);
            }
            p0.add(q0).add(p1.add(q1)).add(FloatVector.fromArray(F, dst, d)).intoArray(dst, d);
        }
    }

    /** Per thread: one F16 slice as floats (grown to the widest row). */
    private static final ThreadLocal<float[][]> HALVES = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    private static float[] halves(int n) {
        float[][] h = HALVES.get();
        if (h[0].length < n) {
            h[0] = new float[n];
        }
        return h[0];
    }

    /**
     * The stored values as dense floats (d·level, as the reference decodes them): column 4g + p of a
     * block takes value 2g where that value's 2-bit column is p, value 2g + 1 where its is, else zero
     * (a compare and a blend per value and column; the two columns of a group differ by construction).
     */
    @Override
    void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride) {
        if (patterned) {
            decodeChunkPatterned(w, base, block0, blocks, dec, at, stride);
            return;
        }
        for (int j = 0; j < blocks; j++) {
            long b0 = base + (block0 + j) * sb, io = b0 + scaleBytes, v0 = io + INDICES;
            FloatVector d = scaleBytes == 0 ? FloatVector.broadcast(F, 1f) : Vec.f16(w, b0);
            IntVector idx = IntVector.fromMemorySegment(I, w, io, Vec.LE);
            for (int g = 0; g < 8; g++) {
                FloatVector a = value(w, v0, 2 * g).mul(d), b = value(w, v0, 2 * g + 1).mul(d);
                IntVector ia = idx.lanewise(VectorOperators.LSHR, 4 * g).and(3);
                IntVector ib = idx.lanewise(VectorOperators.LSHR, 4 * g + 2).and(3);
                for (int p = 0; p < 4; p++) {
                    FloatVector.zero(F).blend(a, ia.eq(p).cast(F)).blend(b, ib.eq(p).cast(F))
                            .intoArray(dec, at + stride * (QK * j + 4 * g + p));
                }
            }
        }
    }

    /** Stored value s of the 16 rows at the slice block's values {@code v0}, unscaled. */
    private FloatVector value(MemorySegment w, long v0, int s) {
        if (bf16) {
            return Vec.bf16(w, v0 + 2L * ROWS * s);
        }
        return Vec.f16(w, v0 + 2L * ROWS * s);
    }

    /** Lane p of A (B): the first (second) column of code p counted from its pair's base ({@link SlicedNMEncoding#column}). */
    private final IntVector pairA, pairB;
    /** Where a step's second pair starts within its eight columns (2:4: 4; 4:8: 2), and the columns a pair spans (4; 6). */
    private final int offset1, span;

    private static IntVector pairColumns(SlicedNMEncoding e, int k) {
        int[] c = new int[ROWS];
        for (int p = 0; p < ROWS; p++) {
            c[p] = e.column(0, p, k);
        }
        return LANE_PER_ROW ? IntVector.fromArray(I, c, 0) : null;
    }

    /**
     * {@link #decodeChunk} for the pattern layout (Q4, Q8): per pair q its 16 rows' codes and values, each
     * code's two columns found by a permute, and every column of the pair's span a blend of the two
     * scaled levels (columns the code leaves out get zero). A 4:8 step's second pair spans four of its
     * first pair's six columns and adds to them. One pair a pass of the loop: the two of a step written
     * out together passed C2's inlining budget (NodeCountInliningCutoff) and boxed, pp128 at half speed.
     */
    private void decodeChunkPatterned(MemorySegment w, long base, int block0, int blocks, float[] dec, int at, int stride) {
        for (int j = 0; j < blocks; j++) {
            long b0 = base + (block0 + j) * sb, io = b0 + SlicedEncoding.SCALES;
            FloatVector d = Vec.f16(w, b0);
            for (int q = 0; q < 8; q++) {
                int t = q / 2, h = q % 2;
                IntVector code = ((IntVector) ShortVector.fromMemorySegment(Vec.SN, w, io + 2L * ROWS * h, Vec.LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0)).lanewise(VectorOperators.LSHR, 4 * t).and(15);
                IntVector ca = code.selectFrom(pairA), cb = code.selectFrom(pairB);
                FloatVector a, b;
                if (q8) { // a lane's two bytes, a's level low
                    IntVector v = (IntVector) ShortVector.fromMemorySegment(Vec.SN, w, io + INDICES + 64L * t + 2L * ROWS * h, Vec.LE)
                            .convertShape(VectorOperators.S2I, I, 0);
                    a = Vec.i2f(v.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24)).mul(d);
                    b = Vec.i2f(v.lanewise(VectorOperators.ASHR, 8)).mul(d);
                } else {
                    IntVector v = u8(w, io + INDICES + 32L * t + ROWS * h);
                    a = Vec.i2f(v.and(15).sub(8)).mul(d);
                    b = Vec.i2f(v.lanewise(VectorOperators.LSHR, 4).lanewise(VectorOperators.XOR, 8).sub(8)).mul(d);
                }
                int col = at + stride * (QK * j + 8 * t + h * offset1), shared = h == 1 ? span - offset1 : 0;
                for (int c = 0; c < span; c++) {
                    FloatVector v = FloatVector.zero(F).blend(a, ca.eq(c).cast(F)).blend(b, cb.eq(c).cast(F));
                    (c < shared ? v.add(FloatVector.fromArray(F, dec, col + stride * c)) : v).intoArray(dec, col + stride * c);
                }
            }
        }
    }

    // Q4 and Q8 below DECODED_FROM tokens: 16-bit lanes against per-step pattern tables.

    @Override
    boolean int16Path(Activations x) {
        return LANE_PER_ROW && patterned && x.tokens() < DECODED_FROM;
    }

    /**
     * Bytes of {@link #prepareInt16}'s activations per 32-column block: its 32 levels as shorts, from which
     * each step permutes its two tables ({@link #first}, {@link #second}) in registers. Laid out in memory
     * (512 bytes a block) the tables fell out of L1 beside the weights' stream (docs/performance.md,
     * session 43).
     */
    private static final long TB = 64;
    /**
     * Lane e of step t's first (second) table: the block column of the first (second) value of code e mod 16
     * in pair 2t + e / 16 ({@link SlicedNMEncoding#column}).
     */
    private final VectorShuffle<Short>[] first, second;
    /** The two-slice passes with this encoding's tables (made once: a pass allocates nothing). */
    private final PairPass q8Pass, q4Pass;

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Short>[] tableShuffles(SlicedNMEncoding enc, int k) {
        VectorShuffle<Short>[] s = new VectorShuffle[4];
        for (int step = 0; step < 4; step++) {
            int t = step;
            s[step] = LANE_PER_ROW ? VectorShuffle.fromOp(S32, e -> enc.column(2 * t + e / 16, e % 16, k)) : null;
        }
        return s;
    }

    /** 16 in the lanes of a step's second pair (16–31), twice: the pair's half of the tables, for the codes of two steps a short. */
    private static final ShortVector HALF = LANE_PER_ROW ? ShortVector.fromArray(S32, halfLanes(), 0) : null;
    private static final short NIBBLES = 0x0F0F;

    private static short[] halfLanes() {
        short[] h = new short[32];
        java.util.Arrays.fill(h, 16, 32, (short) 0x1010);
        return h;
    }

    /**
     * Each token's activations rounded to Q8_0 as the reference rounds them, then each 32-column block's
     * levels as shorts ({@link #TB}), from which step t permutes two tables of 32 shorts indexed by 16·h
     * + a lane's code p (pair 2t + h): P, the level x_a of the first column code p names in that pair,
     * and Q, x_b (Q8) or x_b − 16·x_a (Q4, |Q| ≤ 2159); after all tokens' levels each block's d. The
     * levels come back from the rounded floats exactly ({@link #levels}).
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
            ShortVector.fromArray(S32, qs, 0).intoMemorySegment(a, tables + TB * i, Vec.LE);
            a.set(dev.sieve.core.quant.Half.FLOAT_LE, scales + 4L * i, d);
        }
    }

    /** Two slices a pass ({@link #sliceQ8Int16}, {@link #sliceQ4Int16}, {@link #slicePairs}). */
    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), blocks = cols / QK, n = x.tokens() * cols;
        long tables = (4L * n + 63) & ~63L;
        slicePairs(w, x, out, outStride, r0, r1, tables, TB * blocks, tables + TB * (n / QK), 4L * blocks, blocks,
                q8 ? q8Pass : q4Pass);
    }

    /**
     * The slices at {@code base} and {@code base1} times one token: its tables at {@code a[ao..]}, its
     * blocks' d at {@code a[so..]} ({@link #prepareInt16}), into {@code dst[d..d + 32)}. Per step and
     * slice: the 32 value bytes sign-extended to shorts (e), the codes (a block's 32 code words one load,
     * four steps' codes a word: masked to steps 0 and 2, and shifted then masked to 1 and 3, each with 16
     * ORed in for a step's second pair, which takes the tables' upper half; steps 2 and 3 shifted down a
     * byte, as the permute reads five bits), two
     * permutes (P, Q), e·P + (e >> 4)·Q added to the 16-bit sum and P to the sum of x_a; per block
     * the sum less 8·Σx_a (the first level's +8) is exact in 16 bits (|·| ≤ 4·2921 + 8·508), folded to
     * the 16 rows (lanes j and j + 16), converted and scaled. Two slices share each table load (see
     * {@link SlicedQ4_0Kernel}); the steps are written out (an inner loop would box the float sums).
     */
    private static void sliceQ4Int16(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int blocks,
            float[] dst, int d, VectorShuffle<Short>[] first, VectorShuffle<Short>[] second) {
        FloatVector f0 = FloatVector.zero(F), f1 = f0;
        long o = base, o1 = base1;
        for (int j = 0; j < blocks; j++, o += SB, o1 += SB) {
            long p = ao + TB * j, c0 = o + CODES, c1 = o1 + CODES, v0 = c0 + INDICES, v1 = c1 + INDICES;
            ShortVector k = ShortVector.fromMemorySegment(S32, w, c0, Vec.LE), kk = ShortVector.fromMemorySegment(S32, w, c1, Vec.LE);
            ShortVector c = k.and(NIBBLES).or(HALF), cc = kk.and(NIBBLES).or(HALF); // steps 0 and 2
            ShortVector n = k.lanewise(VectorOperators.LSHR, BY4).and(NIBBLES).or(HALF), nn = kk.lanewise(VectorOperators.LSHR, BY4).and(NIBBLES).or(HALF); // 1, 3
            ShortVector levels = ShortVector.fromMemorySegment(S32, a, p, Vec.LE);
            ShortVector tp = levels.rearrange(first[0]), tq = levels.rearrange(second[0]).sub(tp.lanewise(VectorOperators.LSHL, BY4));
            ShortVector e = (ShortVector) ByteVector.fromMemorySegment(B32, w, v0, Vec.LE).convertShape(VectorOperators.B2S, S32, 0), ee = (ShortVector) ByteVector.fromMemorySegment(B32, w, v1, Vec.LE).convertShape(VectorOperators.B2S, S32, 0);
            ShortVector x = c.selectFrom(tp), y = cc.selectFrom(tp);
            ShortVector s0 = e.mul(x).add(e.lanewise(VectorOperators.ASHR, BY4).mul(c.selectFrom(tq))), x0 = x;
            ShortVector s1 = ee.mul(y).add(ee.lanewise(VectorOperators.ASHR, BY4).mul(cc.selectFrom(tq))), x1 = y;
            tp = levels.rearrange(first[1]);
            tq = levels.rearrange(second[1]).sub(tp.lanewise(VectorOperators.LSHL, BY4));
            e = (ShortVector) ByteVector.fromMemorySegment(B32, w, v0 + 32, Vec.LE).convertShape(VectorOperators.B2S, S32, 0);
            ee = (ShortVector) ByteVector.fromMemorySegment(B32, w, v1 + 32, Vec.LE).convertShape(VectorOperators.B2S, S32, 0);
            x = n.selectFrom(tp);
            y = nn.selectFrom(tp);
            s0 = s0.add(e.mul(x)).add(e.lanewise(VectorOperators.ASHR, BY4).mul(n.selectFrom(tq)));
            s1 = s1.add(ee.mul(y)).add(ee.lanewise(VectorOperators.ASHR, BY4).mul(nn.selectFrom(tq)));
            x0 = x0.add(x);
            x1 = x1.add(y);
            c = c.lanewise(VectorOperators.LSHR, BY8);
            cc = cc.lanewise(VectorOperators.LSHR, BY8);
            tp = levels.rearrange(first[2]);
            tq = levels.rearrange(second[2]).sub(tp.lanewise(VectorOperators.LSHL, BY4));
            e = (ShortVector) ByteVector.fromMemorySegment(B32, w, v0 + 64, Vec.LE).convertShape(VectorOperators.B2S, S32, 0);
            ee = (ShortVector) ByteVector.fromMemorySegment(B32, w, v1 + 64, Vec.LE).convertShape(VectorOperators.B2S, S32, 0);
            x = c.selectFrom(tp);
            y = cc.selectFrom(tp);
            s0 = s0.add(e.mul(x)).add(e.lanewise(VectorOperators.ASHR, BY4).mul(c.selectFrom(tq)));
            s1 = s1.add(ee.mul(y)).add(ee.lanewise(VectorOperators.ASHR, BY4).mul(cc.selectFrom(tq)));
            x0 = x0.add(x);
            x1 = x1.add(y);
            c = n.lanewise(VectorOperators.LSHR, BY8);
            cc = nn.lanewise(VectorOperators.LSHR, BY8);
            tp = levels.rearrange(first[3]);
            tq = levels.rearrange(second[3]).sub(tp.lanewise(VectorOperators.LSHL, BY4));
            e = (ShortVector) ByteVector.fromMemorySegment(B32, w, v0 + 96, Vec.LE).convertShape(VectorOperators.B2S, S32, 0);
            ee = (ShortVector) ByteVector.fromMemorySegment(B32, w, v1 + 96, Vec.LE).convertShape(VectorOperators.B2S, S32, 0);
            x = c.selectFrom(tp);
            y = cc.selectFrom(tp);
            s0 = s0.add(e.mul(x)).add(e.lanewise(VectorOperators.ASHR, BY4).mul(c.selectFrom(tq))).sub(x0.add(x).lanewise(VectorOperators.LSHL, 3));
            s1 = s1.add(ee.mul(y)).add(ee.lanewise(VectorOperators.ASHR, BY4).mul(cc.selectFrom(tq))).sub(x1.add(y).lanewise(VectorOperators.LSHL, 3));
            IntVector i0 = ((IntVector) s0.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) s0.convertShape(VectorOperators.S2I, I, 1));
            IntVector i1 = ((IntVector) s1.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) s1.convertShape(VectorOperators.S2I, I, 1));
            float dx = a.get(dev.sieve.core.quant.Half.FLOAT_LE, so + 4L * j);
            // The scales' f16 → f32 written out (as Vec.f16): a call, which C2 made here past its inlining
            // cutoff, spilled the live vectors around it (8% of Q4_S24's decode in the call alone).
            IntVector h = (IntVector) ShortVector.fromMemorySegment(Vec.SN, w, o, Vec.LE).convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
            IntVector m = h.and(0x7FFF), b = m.lanewise(VectorOperators.LSHL, 13);
            FloatVector dw = b.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend(b.or(0x7F800000), m.compare(VectorOperators.GE, 0x7C00))
                    .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
            f0 = ((FloatVector) i0.convert(VectorOperators.I2F, 0)).fma(dw.mul(dx), f0);
            h = (IntVector) ShortVector.fromMemorySegment(Vec.SN, w, o1, Vec.LE).convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
            m = h.and(0x7FFF);
            b = m.lanewise(VectorOperators.LSHL, 13);
            dw = b.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend(b.or(0x7F800000), m.compare(VectorOperators.GE, 0x7C00))
                    .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
            f1 = ((FloatVector) i1.convert(VectorOperators.I2F, 0)).fma(dw.mul(dx), f1);
        }
        f0.intoArray(dst, d);
        f1.intoArray(dst, d + ROWS);
    }

    /**
     * As {@link #sliceQ4Int16} for Q8 values: per step and slice the 32 lanes' value pairs (one 64-byte
     * load: a's level the low byte, b's the high), a·P + b·Q (P, Q the pattern's x_a and x_b; at most
     * 2·128·127, exact in 16 bits) widened to int at once (a third product could overflow) and added to
     * the block's int sums, lanes j and j + 16 (the same row) into one.
     */
    private static void sliceQ8Int16(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int blocks,
            float[] dst, int d, VectorShuffle<Short>[] first, VectorShuffle<Short>[] second) {
        FloatVector f0 = FloatVector.zero(F), f1 = f0;
        long o = base, o1 = base1;
        for (int j = 0; j < blocks; j++, o += SB8, o1 += SB8) {
            long p = ao + TB * j, c0 = o + CODES, c1 = o1 + CODES, v0 = c0 + INDICES, v1 = c1 + INDICES;
            IntVector s0 = IntVector.zero(I), s1 = s0;
            ShortVector c, cc, tp, tq, u, v, e, ee;
            ShortVector k = ShortVector.fromMemorySegment(S32, w, c0, Vec.LE), kk = ShortVector.fromMemorySegment(S32, w, c1, Vec.LE);
            c = k.and(NIBBLES).or(HALF); // steps 0 and 2
            cc = kk.and(NIBBLES).or(HALF);
            ShortVector n = k.lanewise(VectorOperators.LSHR, BY4).and(NIBBLES).or(HALF), nn = kk.lanewise(VectorOperators.LSHR, BY4).and(NIBBLES).or(HALF); // 1, 3
            ShortVector levels = ShortVector.fromMemorySegment(S32, a, p, Vec.LE);
            tp = levels.rearrange(first[0]);
            tq = levels.rearrange(second[0]);
            u = ShortVector.fromMemorySegment(S32, w, v0 + 0, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, v1 + 0, Vec.LE);
            e = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(c.selectFrom(tp)).add(u.lanewise(VectorOperators.ASHR, BY8).mul(c.selectFrom(tq)));
            ee = v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(cc.selectFrom(tp)).add(v.lanewise(VectorOperators.ASHR, BY8).mul(cc.selectFrom(tq)));
            s0 = s0.add((IntVector) e.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) e.convertShape(VectorOperators.S2I, I, 1));
            s1 = s1.add((IntVector) ee.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) ee.convertShape(VectorOperators.S2I, I, 1));
            tp = levels.rearrange(first[1]);
            tq = levels.rearrange(second[1]);
            u = ShortVector.fromMemorySegment(S32, w, v0 + 64, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, v1 + 64, Vec.LE);
            e = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(n.selectFrom(tp)).add(u.lanewise(VectorOperators.ASHR, BY8).mul(n.selectFrom(tq)));
            ee = v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(nn.selectFrom(tp)).add(v.lanewise(VectorOperators.ASHR, BY8).mul(nn.selectFrom(tq)));
            s0 = s0.add((IntVector) e.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) e.convertShape(VectorOperators.S2I, I, 1));
            s1 = s1.add((IntVector) ee.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) ee.convertShape(VectorOperators.S2I, I, 1));
            c = c.lanewise(VectorOperators.LSHR, BY8);
            cc = cc.lanewise(VectorOperators.LSHR, BY8);
            tp = levels.rearrange(first[2]);
            tq = levels.rearrange(second[2]);
            u = ShortVector.fromMemorySegment(S32, w, v0 + 128, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, v1 + 128, Vec.LE);
            e = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(c.selectFrom(tp)).add(u.lanewise(VectorOperators.ASHR, BY8).mul(c.selectFrom(tq)));
            ee = v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(cc.selectFrom(tp)).add(v.lanewise(VectorOperators.ASHR, BY8).mul(cc.selectFrom(tq)));
            s0 = s0.add((IntVector) e.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) e.convertShape(VectorOperators.S2I, I, 1));
            s1 = s1.add((IntVector) ee.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) ee.convertShape(VectorOperators.S2I, I, 1));
            c = n.lanewise(VectorOperators.LSHR, BY8);
            cc = nn.lanewise(VectorOperators.LSHR, BY8);
            tp = levels.rearrange(first[3]);
            tq = levels.rearrange(second[3]);
            u = ShortVector.fromMemorySegment(S32, w, v0 + 192, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, v1 + 192, Vec.LE);
            e = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(c.selectFrom(tp)).add(u.lanewise(VectorOperators.ASHR, BY8).mul(c.selectFrom(tq)));
            ee = v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(cc.selectFrom(tp)).add(v.lanewise(VectorOperators.ASHR, BY8).mul(cc.selectFrom(tq)));
            s0 = s0.add((IntVector) e.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) e.convertShape(VectorOperators.S2I, I, 1));
            s1 = s1.add((IntVector) ee.convertShape(VectorOperators.S2I, I, 0)).add((IntVector) ee.convertShape(VectorOperators.S2I, I, 1));
            float dx = a.get(dev.sieve.core.quant.Half.FLOAT_LE, so + 4L * j);
            // The scales' f16 → f32 written out (as Vec.f16), as in sliceQ4Int16.
            IntVector h, m, b;
            FloatVector dw;
            h = (IntVector) ShortVector.fromMemorySegment(Vec.SN, w, o, Vec.LE).convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
            m = h.and(0x7FFF);
            b = m.lanewise(VectorOperators.LSHL, 13);
            dw = b.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend(b.or(0x7F800000), m.compare(VectorOperators.GE, 0x7C00))
                    .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
            f0 = ((FloatVector) s0.convert(VectorOperators.I2F, 0)).fma(dw.mul(dx), f0);
            h = (IntVector) ShortVector.fromMemorySegment(Vec.SN, w, o1, Vec.LE).convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
            m = h.and(0x7FFF);
            b = m.lanewise(VectorOperators.LSHL, 13);
            dw = b.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend(b.or(0x7F800000), m.compare(VectorOperators.GE, 0x7C00))
                    .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
            f1 = ((FloatVector) s1.convert(VectorOperators.I2F, 0)).fma(dw.mul(dx), f1);
        }
        f0.intoArray(dst, d);
        f1.intoArray(dst, d + ROWS);
    }

    /** Bytes of a Q4 and of a Q8 slice block (scales, codes, values); where their codes start. */
    private static final long SB = SlicedEncoding.SCALES + INDICES + 128, SB8 = SlicedEncoding.SCALES + INDICES + 256,
            CODES = SlicedEncoding.SCALES;
    private static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
}
