package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.kernel.panama.EncodingKernel;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The float-activation matrix product, shared by every encoding: activations are kept as floats
 * (rounded the way the encoding's reference rounds them), weights are decoded in registers.
 *
 * <p>Few tokens (decode): {@link #dot2} streams two weight rows at once, decoding each vector
 * once and multiplying it straight away, so the loop is bound by memory, not by decoding. Many
 * tokens (prompt): a tile of {@link #TILE_ROWS} rows (6 at 16 lanes, else 4) × {@link #KC} columns
 * ({@link #KC_WIDE} for a decode batch of up to {@link #WIDE_TILE_TOKENS} tokens) is decoded once into a
 * per-thread float buffer and reused by a register kernel over 4 tokens at a time, which makes the
 * product bound by FMAs. At 16 lanes, from {@link Panels#MIN_TOKENS} tokens, {@link Panels} instead
 * (tokens in the lanes, 8 rows × 32 tokens a pass over 32-row panels; Q8_0 pp128 +12–26%).
 * Subclasses supply only the two decoders.
 */
abstract class FloatPathKernel implements EncodingKernel {
    /** From this many tokens on, the tiled kernel wins over re-decoding rows per token. */
    static final int TILE_TOKENS = 4;
    /**
     * Encodings with a two-token decoder ({@link #twoTokens}) keep it below this many tokens: Q8_0,
     * DecodeProbe, one thread, 5632×2048 and 2048×5632 out of DRAM, 25.3–26.4 GFLOP/s at 4 tokens and
     * 25.8–27.9 at 6 against the tiles' 18.0–21.1 and 22.3–24.4; at 8 the tiles win (30.1–33.4 against 25.9–27.3).
     */
    static final int TWO_TOKEN_LIMIT = 7;
    /** Columns per tile: a multiple of every block size (256 at most) and of N; 24 KiB for 6 rows. */
    static final int KC = 1024;
    /**
     * Columns per tile for batches of at most {@link #WIDE_TILE_TOKENS} tokens (a server's decode step):
     * a 2048-column row (tinyllama's) is one piece, so each 6-row block's weights are read front to
     * back in one run and reduced once. Alternating with 1024 columns (docs/performance.md, session 24):
     * pp8 Q4_0 +4%, Q8_0 +9%, Q4_K_M even; at 16 tokens even and at 32 −5% (the tile and a 4-token
     * group's activations, 80 KiB, no longer share L1), so larger batches keep {@link #KC}.
     */
    static final int KC_WIDE = 2048;
    static final int WIDE_TILE_TOKENS = 8;
    /**
     * Rows per prompt tile: 6 at 16 lanes ({@link #micro6x4}: 95-103 against 73-80 GFLOP/s for 4 rows,
     * one thread; 186-194 against 85-120 with two), 4 below (AVX2's 16 registers hold no 6-row kernel).
     */
    static final int TILE_ROWS = N == 16 ? 6 : 4;
    /** Where a thread's tile array keeps the micro kernels' reduced accumulators (32 floats). */
    static final int RED = TILE_ROWS * Math.max(KC, KC_WIDE);
    /** Where {@link #micro6x4} parks its 24 accumulators for the reduction (24·N floats). */
    static final int ACC = RED + 32;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Per-thread buffers, so matmul allocates nothing after a thread's first call. */
    static final class Scratch {
        final float[] tile = new float[Math.max(ACC + 24 * N, Panels.ROWS * Panels.PK)]; // also a panel (see panels)
        final float[] res = new float[16];
        /** The group sums of a decode batch's tokens (see {@link #dot1}). */
        float[] sums = new float[0];
        /** Below 16 lanes: one k-chunk of every token's activations, token t at {@code t·kc}. */
        float[] xs = new float[0];
        /** A panel's results (see {@link Panels#multiply}). */
        float[] po = new float[0];

        float[] panelOut(int n) {
            if (po.length < n) {
                po = new float[n];
            }
            return po;
        }

        float[] chunk(int n) {
            if (xs.length < n) {
                xs = new float[n];
            }
            return xs;
        }
    }

    /**
     * The prompt tile's register kernel per width. At 16 lanes (32 registers) 6 rows × 4 tokens
     * ({@link #micro6x4}; a thread's last rows, fewer than 6, one token at a time) reads the
     * activations from the segment. Below that (AVX2: 16 registers, which a 4 × 4 tile's 21 live
     * vectors spill) 2 rows × 4 tokens from a heap copy
     * of the chunk's activations: 59-61 GFLOP/s per thread against 46-53 for the 4 × 4 tile, whose
     * segment loads also keep their checks (measured, docs/performance.md).
     */
    static final boolean HEAP_TILE = N < 16;

    private final WeightEncoding encoding;
    private final boolean twoTokens;

    FloatPathKernel(WeightEncoding encoding) {
        this.encoding = encoding;
        this.twoTokens = overridesDot1x2(getClass());
    }

    /** Whether {@code c} or one of its superclasses below this one declares {@link #dot1x2}. */
    private static boolean overridesDot1x2(Class<?> c) {
        for (; c != FloatPathKernel.class; c = c.getSuperclass()) {
            try {
                c.getDeclaredMethod("dot1x2", MemorySegment.class, long.class, float[].class, int.class,
                        MemorySegment.class, long.class, long.class, long.class, int.class, float[].class);
                return true;
            } catch (NoSuchMethodException notHere) {
                // look further up
            }
        }
        return false;
    }

    @Override
    public final WeightEncoding encoding() {
        return encoding;
    }

    /**
     * Dot products of the rows at byte offsets {@code o0, o1} with the float activations at {@code
     * aOff}, into {@code res[0..1]} (16 floats: the rest is scratch for {@link Vec#sum(FloatVector, float[], int)}).
     * Callers repeat a row offset when one row remains.
     *
     * <p>This default decodes {@link #KC}-column chunks into the thread's tile, then multiplies;
     * encodings override it with a fused decoder where that measured faster (all but F16, whose
     * fused version exceeded C2's NodeCountInliningCutoff and boxed every vector). Two rows, not
     * four, for the same reason: with four, the quantized decoders hit that cutoff too.
     */
    void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols, float[] res) {
        float[] tile = SCRATCH.get().tile;
        float s0 = 0, s1 = 0;
        for (int k0 = 0; k0 < cols; k0 += KC) {
            int kc = Math.min(KC, cols - k0);
            decode(w, o0, k0, kc, tile, 0);
            decode(w, o1, k0, kc, tile, kc);
            s0 += micro1x1(tile, 0, kc, a, aOff + 4L * k0);
            s1 += micro1x1(tile, kc, kc, a, aOff + 4L * k0);
        }
        res[0] = s0;
        res[1] = s1;
    }

    /**
     * For decoders that run one row per call with per-group activation sums (see {@link
     * #prepareWithSums}): the group size, or 0 (the default) for the two-row {@link #dot2} path.
     * One row per call keeps a decoder small enough for C2 to compile without boxing vectors; at 512
     * bits that measured 1.1-2.3x the two-row loops (docs/performance.md).
     */
    int sumsGroup() {
        return 0;
    }

    /**
     * Rows at least this long are where one row per call pays for decoders that could also run two
     * (one weight stream for the prefetcher): tinyllama's 2048- and 5632-column matrices gained 16-25%
     * of decode speed, the 135m shape's 576- and 1536-column ones lost 10-18% (per-row overhead).
     */
    static final int LONG_ROW = 2048;

    /**
     * Whether decode batches of rows of {@code cols} go through the one-row {@link #dot1}: always
     * with {@link #sumsGroup()} &gt; 0; an encoding without group offsets may also choose it (then
     * {@code sums} and {@code sf} are unused).
     */
    boolean oneRow(int cols) {
        return sumsGroup() > 0;
    }

    /**
     * With {@link #oneRow}: the row at {@code o} times one token's activations, which
     * are both {@code xf[xi..]} and {@code a[aOff..]} (read through {@link Vec#x}); its group sums both at
     * {@code a[sums..]} and {@code sf[si..]} (copied to the heap per call: read from the segment they
     * slowed Q4_K's decoder 1.8x at 256 bits; Q4_0's, which runs at 512 bits only, measured 3-14% slower
     * reading the heap copy there).
     */
    float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long sums, float[] sf, int si,
            int cols) {
        throw new UnsupportedOperationException(encoding.name());
    }

    /**
     * Whether this kernel implements {@link #dot1x2} (then decode batches go two tokens per pass over a
     * row): derived from the override itself, once, so the two cannot disagree.
     */
    final boolean twoTokens() {
        return twoTokens;
    }

    /**
     * With {@link #oneRow} and {@link #twoTokens}: the row at {@code o} times two consecutive tokens,
     * the first as in {@link #dot1} and the second {@code cols} floats (and {@code ab} bytes) further,
     * into {@code res[0..1]} ({@code res} 16 floats, the rest scratch), each token's sum as {@link
     * #dot1} forms it; the row's weights are decoded once for both. With {@link #sumsGroup} &gt; 0 the
     * first token's group sums are at {@code a[sums..]}, the second's {@code cols / sumsGroup()} floats further.
     */
    void dot1x2(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long ab, long sums, int cols,
            float[] res) {
        throw new UnsupportedOperationException(encoding.name());
    }

    /**
     * What {@link #decode} and the row decoders receive as row {@code r}'s offset: {@code r · rb},
     * except in a layout whose rows are interleaved, which gives a handle ({@code SlicedKernel}).
     */
    long rowOffset(long rb, int r) {
        return r * rb;
    }

    /** Decodes columns {@code [k0, k0 + kc)} of the row at byte {@code rowOff} into {@code dst}. */
    abstract void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff);

    /**
     * Copies the activations as floats, rounded as the reference rounds them: for encodings whose
     * activations are Q8_0 (ggml's {@code vec_dot_type}: Q4_0, Q8_0 and Sieve's Q4_0_R, Q4_K_R) to the
     * values their Q8_0 blocks decode to, so the float path (prompt tiles; decode at 512 bits)
     * multiplies what the 16-bit integer path multiplies, and a sequence decoded alone (integer path)
     * or in a batch (tiles) sees the same activations; otherwise not at all.
     */
    void storeActivations(float[] src, MemorySegment dst, int n) {
        if (encoding.activationEncoding() != Q8_0Encoding.INSTANCE) {
            MemorySegment.copy(src, 0, dst, Half.FLOAT_LE, 0, n);
            return;
        }
        for (int b = 0; b < n / Q8_0Encoding.QK; b++) {
            roundQ8_0(src, Q8_0Encoding.QK * b, dst, 4L * Q8_0Encoding.QK * b);
        }
    }

    /**
     * One block as {@link Q8_0Encoding#roundTrip} rounds it, bit for bit, in vectors: the same amax,
     * scale and f16-stored scale; q = round-half-away(x·id) formed exactly (t = trunc(x·id), the
     * difference x·id − t is exact below 2^23, and a half or more moves t one away from zero), then
     * stored·q. The scalar loop cost 4-10% of a 128-token prompt (it runs on one thread per matrix).
     */
    private static void roundQ8_0(float[] src, int at, MemorySegment dst, long dstOff) {
        FloatVector amax = FloatVector.zero(F);
        for (int j = 0; j < Q8_0Encoding.QK; j += N) {
            amax = amax.max(FloatVector.fromArray(F, src, at + j).abs());
        }
        float d = amax.reduceLanes(VectorOperators.MAX) / 127f;
        float id = d != 0 ? 1f / d : 0f;
        float stored = Float.float16ToFloat(Float.floatToFloat16(d));
        for (int j = 0; j < Q8_0Encoding.QK; j += N) {
            FloatVector v = FloatVector.fromArray(F, src, at + j).mul(id);
            FloatVector t = (FloatVector) v.convert(VectorOperators.F2I, 0).convert(VectorOperators.I2F, 0);
            FloatVector away = FloatVector.broadcast(F, 1f).blend(-1f, v.compare(VectorOperators.LT, 0f));
            FloatVector q = t.add(away, v.sub(t).abs().compare(VectorOperators.GE, 0.5f));
            q.mul(stored).intoMemorySegment(dst, dstOff + 4L * j, java.nio.ByteOrder.LITTLE_ENDIAN);
        }
    }

    /**
     * Whether {@code x} takes this encoding's 16-bit integer decode path (Q8_0 activations laid out
     * by {@link Int16Activations}, products in 16-bit lanes: Q4_0, Q4_0_R, Q4_K_R and Q8_0 below 512
     * bits) rather than the float path; by default never. {@link #prepare} and {@link #matmul} dispatch on it.
     */
    boolean int16Path(Activations x) {
        return false;
    }

    /** With {@link #int16Path}: the product against activations {@link #prepare} put in {@link Int16Activations}' layout. */
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        throw new UnsupportedOperationException(encoding.name());
    }

    /** With {@link #int16Path}: lays the activations out for {@link #int16Matmul} (by default Q4_0's layout). */
    void prepareInt16(Activations x) {
        Int16Activations.prepare(x);
    }

    @Override
    public void prepare(Tensor w, Activations x) {
        if (int16Path(x)) {
            prepareInt16(x);
            return;
        }
        if (x.tokens() < TILE_TOKENS && sumsGroup() > 0) {
            prepareWithSums(x, sumsGroup());
            return;
        }
        MemorySegment dst = x.reserve(F32Encoding.INSTANCE);
        storeActivations(x.floats(), dst, x.tokens() * x.cols());
        if (panels(x.tokens())) {
            Panels.transpose(dst, x.tokens(), x.cols(), x.side(Panels.transposedFloats(x.tokens(), x.cols())));
        }
    }

    /** Whether a prompt of {@code tokens} tokens takes {@link Panels} (the float path at 16 lanes from {@link Panels#MIN_TOKENS}). */
    boolean panels(int tokens) {
        return Panels.use(tokens);
    }

    /**
     * For decoders of encodings with per-group offsets (K-quant mins, Q6_K's −32): the floats as
     * {@link #prepare} stores them, then the sum of every {@code group} consecutive activations, so
     * Σ(q − m)·x = Σq·x − m·Σx costs no per-row work for Σx. Token t's sums start at {@link
     * #sumsOffset}.
     */
    void prepareWithSums(Activations x, int group) {
        int n = x.tokens() * x.cols();
        MemorySegment dst = x.reserve(F32Encoding.INSTANCE, 4L * n + 4L * (n / group));
        storeActivations(x.floats(), dst, n);
        for (int i = 0; i < n / group; i++) { // the sums of what was stored
            float s = 0;
            for (int l = 0; l < group; l++) {
                s += dst.get(Half.FLOAT_LE, 4L * (group * i + l));
            }
            dst.set(Half.FLOAT_LE, 4L * n + 4L * i, s);
        }
    }

    /** Byte offset of token t's group sums in activations prepared by {@link #prepareWithSums}. */
    static long sumsOffset(Activations x, int group, int t) {
        return 4L * x.tokens() * x.cols() + 4L * t * (x.cols() / group);
    }

    /** Throws unless {@link #prepare} put {@code x} in the float form the decoders read. */
    final void requirePrepared(Activations x) {
        if (x.encoding() != F32Encoding.INSTANCE) {
            throw new IllegalStateException("activations not prepared for " + encoding.name());
        }
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        if (x.encoding() == Q8_0Encoding.INSTANCE && int16Path(x)) {
            int16Matmul(w, x, out, outStride, r0, r1);
            return;
        }
        requirePrepared(x);
        MemorySegment ws = w.data();
        long rb = w.rowBytes();
        MemorySegment a = x.encoded();
        int cols = x.cols();
        int tokens = x.tokens();
        long ab = 4L * cols;
        Scratch s = SCRATCH.get();
        boolean twoAtOnce = twoTokens();
        // Group-sum decoders (Q4_0) pair tokens below the tiles only: at 4 tokens the tiles won there.
        if ((tokens < TILE_TOKENS || twoAtOnce && sumsGroup() == 0 && tokens < TWO_TOKEN_LIMIT) && oneRow(cols)) {
            float[] xf = x.floats();
            int group = sumsGroup();
            int groups = group > 0 ? cols / group : 0;
            if (s.sums.length < tokens * groups) {
                s.sums = new float[tokens * groups];
            }
            float[] sf = s.sums;
            for (int t = 0; groups > 0 && t < tokens; t++) {
                MemorySegment.copy(a, Half.FLOAT_LE, sumsOffset(x, group, t), sf, t * groups, groups);
            }
            int pairs = twoAtOnce ? tokens / 2 * 2 : 0;
            float[] res = s.res;
            for (int r = r0; r < r1; r++) {
                for (int t = 0; t < pairs; t += 2) {
                    dot1x2(ws, rowOffset(rb, r), xf, t * cols, a, t * ab, ab, group > 0 ? sumsOffset(x, group, t) : 0, cols, res);
                    out[t * outStride + r] = res[0];
                    out[(t + 1) * outStride + r] = res[1];
                }
                for (int t = pairs; t < tokens; t++) {
                    long sums = group > 0 ? sumsOffset(x, group, t) : 0;
                    out[t * outStride + r] = dot1(ws, rowOffset(rb, r), xf, t * cols, a, t * ab, sums, sf, t * groups, cols);
                }
            }
        } else if (tokens < TILE_TOKENS) {
            float[] res = s.res;
            for (int r = r0; r < r1; r += 2) {
                int n = Math.min(2, r1 - r);
                long o0 = rowOffset(rb, r);
                long o1 = rowOffset(rb, r + n - 1);
                for (int t = 0; t < tokens; t++) {
                    dot2(ws, o0, o1, a, t * ab, cols, res);
                    for (int i = 0; i < n; i++) {
                        out[t * outStride + r + i] = res[i];
                    }
                }
            }
        } else if (panels(tokens)) {
            panels(ws, rb, x.side(), cols, tokens, out, outStride, r0, r1, s);
        } else {
            tiled(ws, rb, a, ab, cols, tokens, out, outStride, r0, r1, s);
        }
    }

    /** Rows {@code [r0, r1)} by {@link Panels}: each panel's chunks decoded into the thread's tile, then multiplied by every token. */
    private void panels(MemorySegment ws, long rb, float[] xt, int cols, int tokens, float[] out, int os, int r0, int r1,
            Scratch s) {
        float[] tile = s.tile;
        int ps = Panels.groups(tokens) * Panels.TG;
        float[] po = s.panelOut(Panels.ROWS * ps);
        for (int r = r0; r < r1; r += Panels.ROWS) {
            int rows = Math.min(Panels.ROWS, r1 - r), padded = (rows + 7) & ~7;
            for (int k0 = 0; k0 < cols; k0 += Panels.PK) {
                int kc = Math.min(Panels.PK, cols - k0);
                for (int i = 0; i < rows; i++) {
                    decode(ws, rowOffset(rb, r + i), k0, kc, tile, i * Panels.PK);
                }
                for (int i = rows; i < padded; i++) { // zero rows: 8 at a time whatever the range
                    java.util.Arrays.fill(tile, i * Panels.PK, i * Panels.PK + kc, 0f);
                }
                Panels.multiply(tile, padded, kc, xt, k0, cols, tokens, po, ps, k0 == 0);
            }
            Panels.writeBack(po, ps, rows, tokens, out, os, r);
        }
    }

    /**
     * Up to this many activation floats (tokens × columns, 256 KiB) the tiles take rows outermost;
     * above it k-chunks outermost (see {@link #tiled}).
     */
    static final int ROWS_FIRST_FLOATS = 1 << 16;

    // Many tokens: k-chunks outermost, so the activations of one chunk (tokens × KC floats) stay in L2
    // while every row block of this thread's range passes over them. Few tokens (all the activations
    // fit L2 anyway): rows outermost, so each row block's weights are read front to back, not in
    // KC-column pieces a whole pass apart (8 tokens, tinyllama Q4_0: pp8 +8%; docs/performance.md).
    private void tiled(MemorySegment ws, long rb, MemorySegment a, long ab, int cols, int tokens,
            float[] out, int os, int r0, int r1, Scratch s) {
        float[] tile = s.tile;
        if (TILE_ROWS == 6 && (long) tokens * cols <= ROWS_FIRST_FLOATS) {
            int kcMax = tokens <= WIDE_TILE_TOKENS ? KC_WIDE : KC;
            int r = r0;
            for (; r + 6 <= r1; r += 6) {
                for (int k0 = 0; k0 < cols; k0 += kcMax) {
                    block6(ws, rb, a, ab, k0, Math.min(kcMax, cols - k0), tokens, out, os, r, tile);
                }
            }
            for (; r < r1; r += 4) {
                for (int k0 = 0; k0 < cols; k0 += kcMax) {
                    block4(ws, rb, a, ab, k0, Math.min(kcMax, cols - k0), tokens, out, os, r,
                            Math.min(4, r1 - r), tile, null);
                }
            }
            return;
        }
        float[] xs = HEAP_TILE ? s.chunk(tokens * KC) : null;
        for (int k0 = 0; k0 < cols; k0 += KC) {
            int kc = Math.min(KC, cols - k0);
            if (HEAP_TILE) {
                for (int t = 0; t < tokens; t++) {
                    MemorySegment.copy(a, Half.FLOAT_LE, t * ab + 4L * k0, xs, t * kc, kc);
                }
            }
            int r = r0;
            if (TILE_ROWS == 6) {
                for (; r + 6 <= r1; r += 6) {
                    block6(ws, rb, a, ab, k0, kc, tokens, out, os, r, tile);
                }
            }
            for (; r < r1; r += 4) {
                block4(ws, rb, a, ab, k0, kc, tokens, out, os, r, Math.min(4, r1 - r), tile, xs);
            }
        }
    }

    /** Rows r..r+6 over columns k0..k0+kc for every token: decoded into the tile, then 6 × 4 register tiles. */
    private void block6(MemorySegment ws, long rb, MemorySegment a, long ab, int k0, int kc, int tokens,
            float[] out, int os, int r, float[] tile) {
        boolean first = k0 == 0;
        long ak = 4L * k0;
        for (int i = 0; i < 6; i++) {
            decode(ws, rowOffset(rb, r + i), k0, kc, tile, i * kc);
        }
        int t = 0;
        for (; t + 4 <= tokens; t += 4) {
            micro6x4(tile, kc, a, t * ab + ak, ab, out, t * os + r, os, first);
        }
        for (; t < tokens; t++) {
            micro4x1(tile, 0, kc, a, t * ab + ak, out, t * os + r, first);
            for (int i = 4; i < 6; i++) {
                put(out, t * os + r + i, micro1x1(tile, i * kc, kc, a, t * ab + ak), first);
            }
        }
    }

    /**
     * Rows r..r+n (n ≤ 4) over columns k0..k0+kc; {@code xs}, below 16 lanes, the chunk's activations
     * copied to the heap (token t at {@code t·kc}).
     */
    private void block4(MemorySegment ws, long rb, MemorySegment a, long ab, int k0, int kc, int tokens,
            float[] out, int os, int r, int n, float[] tile, float[] xs) {
        boolean first = k0 == 0;
        long ak = 4L * k0;
        for (int i = 0; i < n; i++) {
            decode(ws, rowOffset(rb, r + i), k0, kc, tile, i * kc);
        }
        if (n == 4) {
            int t = 0;
            if (HEAP_TILE) {
                for (; t + 4 <= tokens; t += 4) {
                    micro2x4(tile, 0, kc, xs, t * kc, out, t * os + r, os, first);
                    micro2x4(tile, 2 * kc, kc, xs, t * kc, out, t * os + r + 2, os, first);
                }
            }
            // At 16 lanes only a thread's last rows come here (fewer than 6): one token at a time.
            for (; t < tokens; t++) {
                micro4x1(tile, 0, kc, a, t * ab + ak, out, t * os + r, first);
            }
        } else {
            for (int i = 0; i < n; i++) {
                for (int t = 0; t < tokens; t++) {
                    float v = micro1x1(tile, i * kc, kc, a, t * ab + ak);
                    put(out, t * os + r + i, v, first);
                }
            }
        }
    }

    private static void put(float[] out, int i, float v, boolean first) {
        out[i] = first ? v : out[i] + v;
    }

    /** Scalar tail of a tile row; shared so every micro kernel sums in the same order. */
    private static float tail(float[] tile, int wo, int from, int kc, MemorySegment a, long aOff) {
        float s = 0;
        for (int k = from; k < kc; k++) {
            s += tile[wo + k] * a.get(Half.FLOAT_LE, aOff + 4L * k);
        }
        return s;
    }

    /** As {@link #tail}, activations from the heap chunk. */
    private static float tail(float[] tile, int wo, int from, int kc, float[] x, int xo) {
        float s = 0;
        for (int k = from; k < kc; k++) {
            s += tile[wo + k] * x[xo + k];
        }
        return s;
    }

    /** Tile rows at {@code wo} and {@code wo + kc} times 4 tokens of the heap chunk (token t at {@code xo + t·kc}). */
    private static void micro2x4(float[] tile, int wo, int kc, float[] x, int xo, float[] out, int o, int os,
            boolean first) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        int x1 = xo + kc, x2 = x1 + kc, x3 = x2 + kc, wn = wo + kc;
        int bound = F.loopBound(kc);
        for (int k = 0; k < bound; k += N) {
            FloatVector w0 = FloatVector.fromArray(F, tile, wo + k);
            FloatVector w1 = FloatVector.fromArray(F, tile, wn + k);
            FloatVector v = FloatVector.fromArray(F, x, xo + k);
            c00 = w0.fma(v, c00); c10 = w1.fma(v, c10);
            v = FloatVector.fromArray(F, x, x1 + k);
            c01 = w0.fma(v, c01); c11 = w1.fma(v, c11);
            v = FloatVector.fromArray(F, x, x2 + k);
            c02 = w0.fma(v, c02); c12 = w1.fma(v, c12);
            v = FloatVector.fromArray(F, x, x3 + k);
            c03 = w0.fma(v, c03); c13 = w1.fma(v, c13);
        }
        Vec.sums8(c00, c10, c01, c11, c02, c12, c03, c13, tile, RED);
        put(out, o, tile[RED] + tail(tile, wo, bound, kc, x, xo), first);
        put(out, o + 1, tile[RED + 1] + tail(tile, wn, bound, kc, x, xo), first);
        o += os;
        put(out, o, tile[RED + 2] + tail(tile, wo, bound, kc, x, x1), first);
        put(out, o + 1, tile[RED + 3] + tail(tile, wn, bound, kc, x, x1), first);
        o += os;
        put(out, o, tile[RED + 4] + tail(tile, wo, bound, kc, x, x2), first);
        put(out, o + 1, tile[RED + 5] + tail(tile, wn, bound, kc, x, x2), first);
        o += os;
        put(out, o, tile[RED + 6] + tail(tile, wo, bound, kc, x, x3), first);
        put(out, o + 1, tile[RED + 7] + tail(tile, wn, bound, kc, x, x3), first);
    }

    private static float micro1x1(float[] tile, int wo, int kc, MemorySegment a, long aOff) {
        FloatVector c = FloatVector.zero(F);
        int bound = F.loopBound(kc);
        for (int k = 0; k < bound; k += N) {
            c = FloatVector.fromArray(F, tile, wo + k).fma(Vec.f32(a, aOff + 4L * k), c);
        }
        return Vec.sumPairs(c, tile, RED) + tail(tile, wo, bound, kc, a, aOff);
    }

    /** Tile rows from {@code w0} (4 rows, {@code kc} apart) times one token. */
    private static void micro4x1(float[] tile, int w0, int kc, MemorySegment a, long aOff, float[] out, int o,
            boolean first) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc;
        int bound = F.loopBound(kc);
        for (int k = 0; k < bound; k += N) {
            FloatVector x = Vec.f32(a, aOff + 4L * k);
            c0 = FloatVector.fromArray(F, tile, w0 + k).fma(x, c0);
            c1 = FloatVector.fromArray(F, tile, w1 + k).fma(x, c1);
            c2 = FloatVector.fromArray(F, tile, w2 + k).fma(x, c2);
            c3 = FloatVector.fromArray(F, tile, w3 + k).fma(x, c3);
        }
        Vec.sums4(c0, c1, c2, c3, tile, RED);
        put(out, o, tile[RED] + tail(tile, w0, bound, kc, a, aOff), first);
        put(out, o + 1, tile[RED + 1] + tail(tile, w1, bound, kc, a, aOff), first);
        put(out, o + 2, tile[RED + 2] + tail(tile, w2, bound, kc, a, aOff), first);
        put(out, o + 3, tile[RED + 3] + tail(tile, w3, bound, kc, a, aOff), first);
    }

    /**
     * Six tile rows times four tokens: 24 accumulators, the six weight vectors of a column step and one
     * activation vector, 31 of AVX-512's 32 registers. Each activation load (from L2: a k-chunk of 128
     * tokens is 512 KiB) feeds six FMAs instead of the former 4 × 4 kernel's four, a third less L2
     * traffic per FMA; the six weight rows (24 KiB) stay in L1.
     */
    private static void micro6x4(float[] tile, int kc, MemorySegment a, long aOff, long ab, float[] out,
            int o, int os, boolean first) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        FloatVector c40 = c00, c41 = c00, c42 = c00, c43 = c00;
        FloatVector c50 = c00, c51 = c00, c52 = c00, c53 = c00;
        long a0 = aOff, a1 = aOff + ab, a2 = a1 + ab, a3 = a2 + ab;
        int bound = F.loopBound(kc);
        for (int k = 0; k < bound; k += N) {
            FloatVector w0 = FloatVector.fromArray(F, tile, k);
            FloatVector w1 = FloatVector.fromArray(F, tile, kc + k);
            FloatVector w2 = FloatVector.fromArray(F, tile, 2 * kc + k);
            FloatVector w3 = FloatVector.fromArray(F, tile, 3 * kc + k);
            FloatVector w4 = FloatVector.fromArray(F, tile, 4 * kc + k);
            FloatVector w5 = FloatVector.fromArray(F, tile, 5 * kc + k);
            long ko = 4L * k;
            FloatVector x = Vec.f32(a, a0 + ko);
            c00 = w0.fma(x, c00); c10 = w1.fma(x, c10); c20 = w2.fma(x, c20);
            c30 = w3.fma(x, c30); c40 = w4.fma(x, c40); c50 = w5.fma(x, c50);
            x = Vec.f32(a, a1 + ko);
            c01 = w0.fma(x, c01); c11 = w1.fma(x, c11); c21 = w2.fma(x, c21);
            c31 = w3.fma(x, c31); c41 = w4.fma(x, c41); c51 = w5.fma(x, c51);
            x = Vec.f32(a, a2 + ko);
            c02 = w0.fma(x, c02); c12 = w1.fma(x, c12); c22 = w2.fma(x, c22);
            c32 = w3.fma(x, c32); c42 = w4.fma(x, c42); c52 = w5.fma(x, c52);
            x = Vec.f32(a, a3 + ko);
            c03 = w0.fma(x, c03); c13 = w1.fma(x, c13); c23 = w2.fma(x, c23);
            c33 = w3.fma(x, c33); c43 = w4.fma(x, c43); c53 = w5.fma(x, c53);
        }
        // Parked in the tile array and reduced by another method: three sums8 inlined here passed
        // C2's NodeCountInliningCutoff and boxed the accumulators (10 against 80 GFLOP/s).
        c00.intoArray(tile, ACC); c10.intoArray(tile, ACC + N); c20.intoArray(tile, ACC + 2 * N);
        c30.intoArray(tile, ACC + 3 * N); c40.intoArray(tile, ACC + 4 * N); c50.intoArray(tile, ACC + 5 * N);
        c01.intoArray(tile, ACC + 6 * N); c11.intoArray(tile, ACC + 7 * N); c21.intoArray(tile, ACC + 8 * N);
        c31.intoArray(tile, ACC + 9 * N); c41.intoArray(tile, ACC + 10 * N); c51.intoArray(tile, ACC + 11 * N);
        c02.intoArray(tile, ACC + 12 * N); c12.intoArray(tile, ACC + 13 * N); c22.intoArray(tile, ACC + 14 * N);
        c32.intoArray(tile, ACC + 15 * N); c42.intoArray(tile, ACC + 16 * N); c52.intoArray(tile, ACC + 17 * N);
        c03.intoArray(tile, ACC + 18 * N); c13.intoArray(tile, ACC + 19 * N); c23.intoArray(tile, ACC + 20 * N);
        c33.intoArray(tile, ACC + 21 * N); c43.intoArray(tile, ACC + 22 * N); c53.intoArray(tile, ACC + 23 * N);
        finish6x4(tile, kc, bound, a, aOff, ab, out, o, os, first);
    }

    /** {@link #micro6x4}'s outputs from its parked accumulators (token t, row i at {@code ACC + (6t + i)·N}). */
    private static void finish6x4(float[] tile, int kc, int bound, MemorySegment a, long aOff, long ab, float[] out,
            int o, int os, boolean first) {
        for (int g = 0; g < 3; g++) { // sums8 writes N floats from its offset: room up to RED + 32
            int at = ACC + 8 * g * N;
            Vec.sums8(acc(tile, at), acc(tile, at + N), acc(tile, at + 2 * N), acc(tile, at + 3 * N),
                    acc(tile, at + 4 * N), acc(tile, at + 5 * N), acc(tile, at + 6 * N), acc(tile, at + 7 * N),
                    tile, RED + 8 * g);
        }
        for (int t = 0; t < 4; t++) {
            long at = aOff + t * ab;
            for (int i = 0; i < 6; i++) {
                put(out, o + t * os + i, tile[RED + 6 * t + i] + tail(tile, i * kc, bound, kc, a, at), first);
            }
        }
    }

    private static FloatVector acc(float[] tile, int at) {
        return FloatVector.fromArray(F, tile, at);
    }
}
