package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.I;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.quant.SlicedNMEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * {@link SlicedNMEncoding} (2:4, Q8, Q4, BF16 or F16 values, 16 rows interleaved): decode multiplies 16 rows
 * at once, one row per lane, and works per stored value, as the indexed N:16 kernel does: each 2:4
 * group's four activations fill every quarter of a register (prepared once per product, {@link
 * #replicateGroups}: a load per group instead of a permute and the index masking the Vector API adds
 * to it), and each of the group's two stored values takes its activation by a permute whose index is
 * its 2-bit column, shifted out of the row's 32-bit index word (the bits above it, the next value's
 * column, fall on the replicas and do not matter). Per 16 stored values: a shift, a permute, a
 * conversion (Q4: a permute from a 16-entry table of levels, even to 4% faster than shifts and a
 * conversion; BF16: a shift; F16 converted a slice at a time into an array first) and an FMA. Model level (tinyllama shape, tg64): Q8_S24 1.8× Q8_0, Q4_S24
 * 1.2× Q4_0, BF16_S24 1.6× BF16 (docs/performance.md, session 28). Prompts and batches of {@link #DECODED_FROM} tokens or more decode
 * each chunk of a slice to dense floats once and take the dense sliced kernel ({@link #decoded}); fewer
 * tokens run the one-token product per token.
 */
final class SlicedNMKernel extends SlicedKernel {
    private static final int QK = 32, G = 16;
    private static final int INDICES = SlicedNMEncoding.INDICES;
    /** Lane l of REP[g]: 4g + l % 4, group g's four columns (of 16) in every quarter. */
    private static final VectorShuffle<Float>[] REP = shuffles();
    private static final VectorShuffle<Float> REP0 = REP[0], REP1 = REP[1], REP2 = REP[2], REP3 = REP[3];
    /** Q4's levels: a stored nibble n is the signed 4-bit number (n ^ 8) − 8. */
    private static final FloatVector LEVELS;

    static {
        float[] lv = new float[ROWS];
        for (int i = 0; i < ROWS; i++) {
            lv[i] = (i ^ 8) - 8;
        }
        LEVELS = LANE_PER_ROW ? FloatVector.fromArray(F, lv, 0) : null;
    }

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] shuffles() {
        VectorShuffle<Float>[] r = new VectorShuffle[4];
        for (int g = 0; LANE_PER_ROW && g < 4; g++) {
            int q = g;
            r[g] = VectorShuffle.fromOp(F, l -> 4 * q + l % 4);
        }
        return r;
    }

    private final boolean q8, bf16, f16;
    /** Bytes of a slice's block (16 rows), and from its start to its index words (its scales; none for BF16 and F16). */
    private final long sb, scaleBytes;

    SlicedNMKernel(SlicedNMEncoding e) {
        super(e);
        this.q8 = e.q8();
        this.bf16 = e.values() == dev.sieve.core.quant.SparseEncoding.Values.BF16;
        this.f16 = e.values() == dev.sieve.core.quant.SparseEncoding.Values.F16;
        this.sb = e.sliceBlockBytes();
        this.scaleBytes = e.scaleBytes();
    }

    /**
     * As the float path prepares, and beside it (at 16 lanes) for {@link #decoded} prompts every group
     * of eight tokens transposed, then for the one-token products (which also take a thread's part
     * slices in a prompt) the activations' groups replicated ({@link #replicateGroups}, from {@link
     * #replicatedAt}).
     */
    @Override
    public void prepare(Tensor w, Activations x) {
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
                if (q8) {
                    sliceQ8(ws, base, x.side(), rep + 4 * t * cols, cols, dst, d);
                } else if (bf16) {
                    sliceBF16(ws, base, x.side(), rep + 4 * t * cols, cols, dst, d);
                } else if (f16) {
                    sliceF16(ws, base, x.side(), rep + 4 * t * cols, cols, dst, d, halves);
                } else {
                    sliceQ4(ws, base, x.side(), rep + 4 * t * cols, cols, dst, d);
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
     * The 16 rows of the slice at {@code base} times one token's replicated activations ({@code
     * xr[xo..]}, {@link #replicateGroups}), into {@code dst[d..d + 16)}. Groups g and g + 4 a step (halves A and B of the block), four FMA chains; the
     * running sum in {@code dst}, not in a register, as in the indexed kernel (a vector live across
     * the block loop was boxed). {@link #sliceQ4}, {@link #sliceBF16} and {@link #sliceF16} repeat this
     * frame with their own value loads, on purpose: one method branching on the value type would pass
     * C2's node budget (see {@link #sliceQ4}); and BF16 sent through F16's per-block buffer to share its
     * loop ran 1.44–1.48 ms a 5632 × 2048 matrix against 1.18 (alternating), too slow for its rule.
     */
    private void sliceQ8(MemorySegment w, long base, float[] xr, int xo, int cols, float[] dst, int d) {
        FloatVector.zero(F).intoArray(dst, d);
        for (int j = 0; j < cols / QK; j++) {
            long b0 = base + j * sb, io = b0 + SlicedEncoding.SCALES, v0 = io + INDICES; // Q8 and Q4 have scales
            int x0 = xo + 4 * QK * j; // block j's 8 replicated groups
            IntVector idx = IntVector.fromMemorySegment(I, w, io, Vec.LE);
            FloatVector p0 = FloatVector.zero(F), q0 = p0, p1 = p0, q1 = p0;
            for (int g = 0; g < 4; g++) {
                IntVector ga = xi(xr, x0 + ROWS * g), gb = xi(xr, x0 + ROWS * (g + 4)); // groups g and g + 4
                IntVector ia = idx.lanewise(VectorOperators.LSHR, 4 * g), ib = idx.lanewise(VectorOperators.LSHR, 4 * g + 16);
                long v = v0 + 2L * ROWS * g; // values 2g, 2g + 1 (group g) and 2g + 8, 2g + 9 (group g + 4)
                p0 = s8f(w, v).fma(pick(ia, ga), p0);
                q0 = s8f(w, v + ROWS).fma(pick(ia.lanewise(VectorOperators.LSHR, 2), ga), q0);
                p1 = s8f(w, v + 8 * ROWS).fma(pick(ib, gb), p1);
                q1 = s8f(w, v + 9 * ROWS).fma(pick(ib.lanewise(VectorOperators.LSHR, 2), gb), q1);
            }
            p0.add(q0).add(p1.add(q1)).fma(Vec.f16(w, b0), FloatVector.fromArray(F, dst, d)).intoArray(dst, d);
        }
    }

    /** As {@link #sliceQ8} for BF16 values (two bytes each, value s of the 16 rows at 32·s; no scales). */
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
     * As {@link #sliceQ8} for Q4 values: byte k of a row holds values k (low nibble) and k + 8 (high).
     * A copy of that method's frame, not one method branching on the value type, as in the indexed
     * kernel: C2's node budget is tight here (with the groups' permutes in this loop, the scales'
     * conversion was no longer inlined but called, its result boxed: 1.5× slower in L2).
     */
    private void sliceQ4(MemorySegment w, long base, float[] xr, int xo, int cols, float[] dst, int d) {
        FloatVector.zero(F).intoArray(dst, d);
        for (int j = 0; j < cols / QK; j++) {
            long b0 = base + j * sb, io = b0 + SlicedEncoding.SCALES, v0 = io + INDICES; // Q8 and Q4 have scales
            int x0 = xo + 4 * QK * j; // block j's 8 replicated groups
            IntVector idx = IntVector.fromMemorySegment(I, w, io, Vec.LE);
            FloatVector p0 = FloatVector.zero(F), q0 = p0, p1 = p0, q1 = p0;
            for (int g = 0; g < 4; g++) {
                IntVector ga = xi(xr, x0 + ROWS * g), gb = xi(xr, x0 + ROWS * (g + 4)); // groups g and g + 4
                IntVector ia = idx.lanewise(VectorOperators.LSHR, 4 * g), ib = idx.lanewise(VectorOperators.LSHR, 4 * g + 16);
                long v = v0 + 2L * ROWS * g;
                IntVector u0 = u8(w, v), u1 = u8(w, v + ROWS); // values 2g, 2g + 8 and 2g + 1, 2g + 9
                p0 = level(u0).fma(pick(ia, ga), p0);
                q0 = level(u1).fma(pick(ia.lanewise(VectorOperators.LSHR, 2), ga), q0);
                p1 = level(u0.lanewise(VectorOperators.LSHR, 4)).fma(pick(ib, gb), p1);
                q1 = level(u1.lanewise(VectorOperators.LSHR, 4)).fma(pick(ib.lanewise(VectorOperators.LSHR, 2), gb), q1);
            }
            p0.add(q0).add(p1.add(q1)).fma(Vec.f16(w, b0), FloatVector.fromArray(F, dst, d)).intoArray(dst, d);
        }
    }

    /** The level of the nibble in the low 4 bits of each lane (the bits above are ignored), by a table permute. */
    private static FloatVector level(IntVector u) {
        return u.selectFrom(LEVELS.reinterpretAsInts()).reinterpretAsFloats();
    }

    /**
     * The stored values as dense floats (d·level, as the reference decodes them): column 4g + p of a
     * block takes value 2g where that value's 2-bit column is p, value 2g + 1 where its is, else zero
     * (a compare and a blend per value and column; the two columns of a group differ by construction).
     */
    @Override
    void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride) {
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
        if (q8) {
            return s8f(w, v0 + (long) ROWS * s);
        }
        if (bf16) {
            return Vec.bf16(w, v0 + 2L * ROWS * s);
        }
        if (f16) {
            return Vec.f16(w, v0 + 2L * ROWS * s);
        }
        IntVector u = u8(w, v0 + (long) ROWS * (s % 8));
        return level(s < 8 ? u : u.lanewise(VectorOperators.LSHR, 4));
    }
}
