package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.FW;
import static dev.sieve.kernel.panama.vec.Vec.N;
import static dev.sieve.kernel.panama.vec.Vec.SW;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Q4_KRepackedEncoding;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q4_K_R weights ({@link Q4_KRepackedEncoding}: Q4_K's values, both nibbles of a byte in one
 * 32-weight sub-block, scales and mins one byte each). Decode (fewer than {@link #TILE_TOKENS}
 * tokens) runs in 16-bit lanes against Q8_0 activations laid out by {@link
 * Int16Activations#prepareQuads} (as {@link Q4_0RIntKernel}: a sub-block's 16 bytes are Q4_0's
 * nibble order), one row at a time: first the row's 8 scales per block as floats d·sc·a_d into a
 * per-thread array, and Σ dmin·m·(a_d·Σa) as one vector of FMAs (eight sub-blocks per load), then
 * one flat loop over pairs of sub-blocks: one 32-byte load of 16 lanes of four nibbles (no
 * widening), three shifts, four 16-bit multiplies and adds, pairs widened to int, a conversion and
 * one FMA with the two sub-blocks' scales in the low and high lanes. Prompts decode into the float
 * tiles.
 *
 * <p>Measured on AVX2 ({@code DecodeProbe}, one thread, out of DRAM): 5632 × 2048 6.3 GB/s and
 * 2048 × 5632 5.5-5.6 against 6.0 and 5.4 with a widening load per sub-block (session 19) and
 * Q4_K's float decoder's 4.45 and 4.78 (docs/performance.md). With the scales still packed as Q4_K
 * packs them (unpacked per row, scalar or through a scratch vector) it was no faster than Q4_K's own
 * decoder, hence the byte scales. Two accumulators (two pairs of sub-blocks per pass) exceeded C2's
 * inlining node budget and boxed every vector.
 *
 * <p>At 512 bits ({@link #row512}) one load is two pairs of sub-blocks against activations regrouped
 * to match, and each block's scales are formed in the same pass: Q4_K_M tg64 +35–42% (Intel AVX-512
 * host, session 30, docs/performance.md).
 */
final class Q4_KRIntKernel extends FloatPathKernel {
    private static final int QK = 256;
    private static final int SUB = 32;
    private static final long BB = Q4_KRepackedEncoding.BLOCK_BYTES;
    private static final long SC = Q4_KRepackedEncoding.SC;
    private static final long MN = Q4_KRepackedEncoding.M;
    private static final long QS = Q4_KRepackedEncoding.QS;
    private static final long AB = Int16Activations.QUAD_PAIR;
    private static final int L = SW.length(); // shorts per 16-bit vector: 16, or 8 at 128 bits
    private static final int FL = FW.length(); // floats per scale load: 8, or 4 at 128 bits
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;

    /** Per thread: one row's sub-block scales d·sc·a_d. */
    private static final ThreadLocal<float[][]> SCALES = ThreadLocal.withInitial(() -> new float[][] {new float[256]});

    Q4_KRIntKernel() {
        super(Q4_KRepackedEncoding.INSTANCE);
    }

    @Override
    boolean int16Path(Activations x) {
        return x.tokens() < TILE_TOKENS;
    }

    /**
     * {@link Int16Activations#prepareQuads}; at 512 bits ({@link #WIDE}) followed by the same
     * activations regrouped for {@link #row512} ({@link #wide}), once for every thread and for every
     * matrix {@code Linear.applyAgain} sends the same input to.
     */
    @Override
    void prepareInt16(Activations x) {
        if (WIDE) { // room for both layouts first: prepareQuads' own reserve then keeps the segment
            x.reserve(Q8_0Encoding.INSTANCE, wideOffset(x) + (WB * (x.cols() / 128) + 64L * (x.cols() / QK)) * x.tokens());
        }
        Int16Activations.prepareQuads(x);
        if (WIDE) {
            wide(x);
        }
    }

    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        if (WIDE) {
            matmul512(w.data(), w.rowBytes(), x, out, outStride, r0, r1);
            return;
        }
        int cols = x.cols();
        MemorySegment ws = w.data(), a = x.encoded(), s = a;
        long rb = w.rowBytes(), ab = Int16Activations.quadRowBytes(cols), sb = Int16Activations.scalesBytes(cols);
        long a0 = Int16Activations.quadOffset(x), s0 = Int16Activations.quadScalesOffset(x);
        float[][] holder = SCALES.get();
        if (holder[0].length < cols / SUB + 8) {
            holder[0] = new float[cols / SUB + 8]; // + the lanes of a reduction
        }
        float[] scales = holder[0];
        for (int r = r0; r < r1; r++) {
            for (int t = 0; t < x.tokens(); t++) { // the row stays in L1 for the next token
                out[t * outStride + r] = dot(ws, r * rb, a, a0 + t * ab, s, s0 + t * sb, cols, scales);
            }
        }
    }

    /**
     * The row at {@code o} times one token: activations at {@code a[aOff..]}, that token's scales
     * and scaled sums at {@code s[sOff..]} ({@link Int16Activations#quadScalesOffset}).
     */
    private static float dot(MemorySegment w, long o, MemorySegment a, long aOff, MemorySegment s, long sOff, int cols,
            float[] scales) {
        float mins = scales(w, o, s, sOff, cols, scales);
        return sums(w, o, a, aOff, cols, scales) - mins;
    }

    /**
     * The row's sub-block scales d·sc·a_d into {@code scales[0 .. cols/32)}; returns Σ dmin·m·(a_d·Σa).
     * Its own method, as {@link #sums}: each compiles within C2's node budget, and no vector is live
     * across both (fused, one was boxed at every row). Both are small enough for C2 to inline them into
     * {@link #dot} when it compiles {@code dot} first, which fuses them again: half the runs then boxed
     * (Intel AVX-512 host, session 21), so {@code bin/sieve} keeps both out of line
     * ({@code -XX:CompileCommand=dontinline}); a JVM started without those flags can still hit it.
     */
    private static float scales(MemorySegment w, long o, MemorySegment s, long sOff, int cols, float[] scales) {
        int blocks = cols / QK, subs = cols / SUB;
        FloatVector mins = FloatVector.zero(FW);
        for (int b = 0; b < blocks; b++) {
            long blk = o + BB * b;
            float d = Vec.superScale(w, blk), dmin = Vec.superScale(w, blk + 2);
            ByteVector sc = ByteVector.fromMemorySegment(B8, w, blk + SC, Vec.LE);
            ByteVector mn = ByteVector.fromMemorySegment(B8, w, blk + MN, Vec.LE);
            for (int p = 0; p < 8 / FL; p++) {
                int j = 8 * b + FL * p;
                FloatVector ad = FloatVector.fromMemorySegment(FW, s, sOff + 4L * j, Vec.LE);
                FloatVector as = FloatVector.fromMemorySegment(FW, s, sOff + 4L * (subs + j), Vec.LE);
                ((FloatVector) sc.convertShape(VectorOperators.B2F, FW, p)).mul(d).mul(ad).intoArray(scales, j);
                mins = ((FloatVector) mn.convertShape(VectorOperators.B2F, FW, p)).mul(dmin).fma(as, mins);
            }
        }
        return Vec.sumW(mins, scales, subs);
    }

    /**
     * Σ_j scales[j]·Σ q·a over the row's sub-blocks, two at a time: their 32 nibble bytes (Q4_0's
     * order within each, as {@link Q4_0RIntKernel} reads Q4_0_R) are one load of 16 lanes of four
     * nibbles, against activations laid out by {@link Int16Activations#prepareQuads} (without its
     * −8 term: Q4_K's levels have none); the two scales fill the low and high four lanes.
     */
    private static float sums(MemorySegment w, long o, MemorySegment a, long aOff, int cols, float[] scales) {
        int subs = cols / SUB;
        FloatVector acc = FloatVector.zero(FW);
        for (int j = 0; j < subs; j += 2) {
            long q = o + BB * (j >> 3) + QS + 16L * (j & 7);
            long ao = aOff + AB * (j >> 1);
            FloatVector d = FloatVector.fromArray(FW, scales, j);
            for (int c = 0; c < 16; c += L) {
                ShortVector t = Int16Activations.quadProducts(ShortVector.fromMemorySegment(SW, w, q + 2L * c, Vec.LE), a, ao + 2L * c);
                acc = ((FloatVector) Int16Activations.pairSums(t).convert(VectorOperators.I2F, 0))
                        .fma(Int16Activations.halves(d, c), acc);
            }
        }
        return Vec.sumW(acc, scales, subs);
    }

    /**
     * At 512 bits ({@link #row512}): a 64-byte load is two pairs of sub-blocks (32 lanes of four
     * nibbles, 128 weights), so per weight half the loads, bounds checks and address arithmetic of the
     * 256-bit loop, where they outnumbered the vector operations (C2's loop for one pair: 17 vector
     * instructions and ~45 scalar ones, docs/performance.md, session 30); and a block's scales are
     * formed in the same pass, in memory order. The activations and their scales are regrouped once, at
     * {@link #prepareInt16}, to match ({@link #wide}). {@code -Dsieve.q4k.wide=false} keeps the 256-bit loop.
     */
    static final boolean WIDE = Vec.BITS == 512 && Boolean.parseBoolean(System.getProperty("sieve.q4k.wide", "true"));
    private static final VectorSpecies<Short> S32 = ShortVector.SPECIES_512;
    private static final VectorSpecies<Float> F16 = FloatVector.SPECIES_512;
    /** Four sub-blocks' scales (A, B, C, D, …) → A in lanes 0–3, B in 4–7, C in 8–11, D in 12–15. */
    private static final VectorShuffle<Float> QUARTERS = VectorShuffle.fromOp(F16, i -> i / 4);
    /** Bytes of {@link #wide}'s layout per 128 weights: four vectors of 32 shorts. */
    private static final long WB = 256;

    /** Where {@link #wide}'s layout starts in the prepared activations: after prepareQuads' rows and scales. */
    private static long wideOffset(Activations x) {
        return (Int16Activations.quadScalesOffset(x) + Int16Activations.scalesBytes(x.cols()) * x.tokens() + 63) & ~63L;
    }

    private static void matmul512(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens();
        MemorySegment a = x.encoded();
        long wr = WB * (cols / 128), sw = 64L * (cols / QK), at = wideOffset(x), sat = at + wr * tokens;
        for (int r = r0; r < r1; r++) {
            for (int t = 0; t < tokens; t++) { // the row stays in L1 for the next token
                out[t * outStride + r] = row512(ws, r * rb, a, at + t * wr, sat + t * sw, cols);
            }
        }
    }

    /**
     * Each token's {@link Int16Activations#prepareQuads} rows (per pair of sub-blocks five vectors of
     * 16 shorts: a0, a1 − 16·a0, a2 − 16·a1, a3 − 16·a2, and Q4_0's −8 term, unused here) regrouped
     * per two pairs, vector k of pair 2h then vector k of pair 2h + 1 for k = 0..3, at {@link
     * #wideOffset}; then each token's scales per block: its 8 sub-blocks' a_d, then their a_d·Σa.
     */
    private static void wide(Activations x) {
        int cols = x.cols(), tokens = x.tokens(), blocks = cols / QK, subs = cols / SUB;
        MemorySegment a = x.encoded();
        long pair = Int16Activations.QUAD_PAIR, wr = WB * (cols / 128), sw = 64L * blocks;
        long at = wideOffset(x), sat = at + wr * tokens;
        long sb = Int16Activations.scalesBytes(cols), s0 = Int16Activations.quadScalesOffset(x);
        for (int t = 0; t < tokens; t++) {
            long from = Int16Activations.quadOffset(x) + t * Int16Activations.quadRowBytes(cols), to = at + t * wr;
            for (int h = 0; h < cols / 128; h++) {
                for (int k = 0; k < 4; k++) {
                    MemorySegment.copy(a, from + pair * 2 * h + 32 * k, a, to + WB * h + 64 * k, 32);
                    MemorySegment.copy(a, from + pair * (2 * h + 1) + 32 * k, a, to + WB * h + 64 * k + 32, 32);
                }
            }
            for (int b = 0; b < blocks; b++) {
                MemorySegment.copy(a, s0 + t * sb + 32L * b, a, sat + t * sw + 64L * b, 32);
                MemorySegment.copy(a, s0 + t * sb + 4L * subs + 32L * b, a, sat + t * sw + 64L * b + 32, 32);
            }
        }
    }

    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final VectorMask<Float> HIGH8 = VectorMask.fromLong(F16, 0xFF00L);
    /** (A, B, C, D, E, F, G, H, …) → E in lanes 0–3, F in 4–7, G in 8–11, H in 12–15. */
    private static final VectorShuffle<Float> QUARTERS_HI = VectorShuffle.fromOp(F16, i -> 4 + i / 4);

    /**
     * The row at {@code o} times one token at 512 bits, each block in one pass, in memory order: its
     * d and dmin, its 16 bytes of sub-block scales and mins as one load and one conversion times (d ×8,
     * dmin ×8) and the block's regrouped activation scales (a_d ×8, a_d·Σa ×8, at {@code a[so + 64b..]}),
     * so that lanes 0–7 are the sub-block scales d·sc·a_d and lanes 8–15 the min terms
     * dmin·m·(a_d·Σa); then its 128 nibble bytes as two loads of 32 lanes of four nibbles against the
     * {@link #wide} activations at {@code a[ao..]}, each step's four sub-block sums scaled by its
     * quarter of the scales. Returns Σ sums·scales − Σ min terms.
     */
    private static float row512(MemorySegment w, long o, MemorySegment a, long ao, long so, int cols) {
        FloatVector acc = FloatVector.zero(F16), acc2 = acc, mins = acc;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + BB * b, q = blk + QS, ab = ao + 2 * WB * b;
            FloatVector dd = FloatVector.broadcast(F16, Vec.superScale(w, blk)).blend(Vec.superScale(w, blk + 2), HIGH8);
            FloatVector v = ((FloatVector) ByteVector.fromMemorySegment(B16, w, blk + SC, Vec.LE)
                    .convertShape(VectorOperators.B2F, F16, 0)).mul(dd)
                    .mul(FloatVector.fromMemorySegment(F16, a, so + 64L * b, Vec.LE));
            mins = mins.add(v);
            ShortVector u = ShortVector.fromMemorySegment(S32, w, q, Vec.LE);
            IntVector t = u.mul(ShortVector.fromMemorySegment(S32, a, ab, Vec.LE))
                    .add(u.lanewise(VectorOperators.LSHR, 4).mul(ShortVector.fromMemorySegment(S32, a, ab + 64, Vec.LE)))
                    .add(u.lanewise(VectorOperators.LSHR, 8).mul(ShortVector.fromMemorySegment(S32, a, ab + 128, Vec.LE)))
                    .add(u.lanewise(VectorOperators.LSHR, 12).mul(ShortVector.fromMemorySegment(S32, a, ab + 192, Vec.LE)))
                    .reinterpretAsInts();
            // Pairs of 16-bit lanes summed: the high half of t + (t << 16) is lo + hi (mod 2^16), and
            // |lo + hi| < 2^15, so an arithmetic shift gives it (two shifts and an add, not three and one).
            acc = ((FloatVector) t.add(t.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16)
                    .convert(VectorOperators.I2F, 0)).fma(v.rearrange(QUARTERS), acc);
            u = ShortVector.fromMemorySegment(S32, w, q + 64, Vec.LE);
            t = u.mul(ShortVector.fromMemorySegment(S32, a, ab + WB, Vec.LE))
                    .add(u.lanewise(VectorOperators.LSHR, 4).mul(ShortVector.fromMemorySegment(S32, a, ab + WB + 64, Vec.LE)))
                    .add(u.lanewise(VectorOperators.LSHR, 8).mul(ShortVector.fromMemorySegment(S32, a, ab + WB + 128, Vec.LE)))
                    .add(u.lanewise(VectorOperators.LSHR, 12).mul(ShortVector.fromMemorySegment(S32, a, ab + WB + 192, Vec.LE)))
                    .reinterpretAsInts();
            acc2 = ((FloatVector) t.add(t.lanewise(VectorOperators.LSHL, 16)).lanewise(VectorOperators.ASHR, 16)
                    .convert(VectorOperators.I2F, 0)).fma(v.rearrange(QUARTERS_HI), acc2);
        }
        return acc.add(acc2).reduceLanes(VectorOperators.ADD) - mins.reduceLanes(VectorOperators.ADD, HIGH8);
    }

    /** Tiles: sub-block j's 16 bytes give weights 32j + i (low nibbles) and 32j + 16 + i (high), as Q4_0's. */
    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        int b0 = k0 / QK;
        for (int b = 0; b < kc / QK; b++) {
            long blk = rowOff + BB * (b0 + b);
            float d = Vec.scale(w, blk), dmin = Vec.scale(w, blk + 2);
            int o = dstOff + b * QK;
            for (int j = 0; j < 8; j++) {
                // As the reference: dl·q − ml, rounded the same way (no FMA).
                float dl = d * Vec.u8(w, blk + SC + j), ml = dmin * Vec.u8(w, blk + MN + j);
                for (int c = 0; c < 16; c += N) {
                    IntVector v = Vec.u8(w, blk + QS + 16 * j, c);
                    Vec.i2f(v.and(0x0F)).mul(dl).sub(ml).intoArray(dst, o + 32 * j + c);
                    Vec.i2f(v.lanewise(VectorOperators.LSHR, 4)).mul(dl).sub(ml).intoArray(dst, o + 32 * j + 16 + c);
                }
            }
        }
    }
}
