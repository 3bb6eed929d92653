package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.core.quant.Q6_KEncoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q6_K weights (ggml {@code block_q6_K}, 210 bytes per 256: ql[128] low nibbles, qh[64] high bit
 * pairs, int8 scales[16], f16 d). In each half h, weight 128h + 32j + l takes nibble j/2 of
 * ql[64h + 32(j%2) + l] and bits 2j..2j+1 of qh[32h + l]; value = d·sc·(q − 32) per 16-weight
 * sub-block. Decode uses a fused two-row {@link #dot2} (decoding through the tile ran at a tenth of
 * Q4_K's speed); prompts decode into the tile.
 */
final class Q6_KKernel extends FloatPathKernel {
    private static final int QK = 256;
    private static final long BB = Q6_KEncoding.BLOCK_BYTES;

    Q6_KKernel() {
        super(Q6_KEncoding.INSTANCE);
    }

    private static void put(IntVector q, float dl, float[] dst, int at) {
        Vec.i2f(q.sub(32)).mul(dl).intoArray(dst, at);
    }

    /**
     * One row's products for half {@code h}, columns l0 .. l0+16 of each quarter: ql and qh are
     * loaded once for all four quarters (weights 128h + 32j + l, j = 0..3), each quarter keeps its
     * own accumulator, and the four sub-block scales are applied after the loop. The −32 offset is
     * left out here (see {@link #dot2}). Adds Σ_j sc_j · Σ_l q·x, lane by lane, to {@code acc[at..]}:
     * this method is too big for C2 to inline, and a vector returned from it would be boxed.
     */
    private static void half(MemorySegment w, long row, long bo, int h, int l0, MemorySegment a,
            long xo, float[] acc, int at) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector u1 = zero, u2 = zero, u3 = zero, u4 = zero;
        long ql = row + bo + 64 * h, qh = row + bo + 128 + 32 * h;
        for (int l = l0; l < l0 + 16; l += N) {
            IntVector lo = Vec.u8(w, ql, l), hi = Vec.u8(w, ql + 32, l), top = Vec.u8(w, qh, l);
            u1 = Vec.i2f(lo.and(0xF).or(top.lanewise(VectorOperators.LSHL, 4).and(0x30)))
                    .fma(Vec.f32(a, xo + 4L * l), u1);
            u2 = Vec.i2f(hi.and(0xF).or(top.lanewise(VectorOperators.LSHL, 2).and(0x30)))
                    .fma(Vec.f32(a, xo + 4L * (l + 32)), u2);
            u3 = Vec.i2f(lo.lanewise(VectorOperators.LSHR, 4).or(top.and(0x30)))
                    .fma(Vec.f32(a, xo + 4L * (l + 64)), u3);
            u4 = Vec.i2f(hi.lanewise(VectorOperators.LSHR, 4).or(top.lanewise(VectorOperators.LSHR, 2).and(0x30)))
                    .fma(Vec.f32(a, xo + 4L * (l + 96)), u4);
        }
        int is = l0 / 16;
        long s = row + bo + 192 + 8 * h + is;
        u1.mul(w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, s))
                .add(u2.mul(w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, s + 2)))
                .add(u3.mul(w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, s + 4)))
                .add(u4.mul(w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, s + 6)))
                .add(FloatVector.fromArray(F, acc, at)).intoArray(acc, at);
    }

    /**
     * Σ d·sc·(q − 32)·x = d·(Σ sc·Σ q·x − 32·Σ sc·Σx): the Σx of each 16-column sub-block are
     * computed once per call and shared by both rows; the rest goes through {@link #half}, which
     * decodes each ql/qh byte once for the four quarters it serves.
     */
    private static void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, long sums,
            int cols, float[] res, float[] acc) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        float c0 = 0, c1 = 0;
        int nb = cols / QK;
        for (int b = 0; b < nb; b++) {
            long bo = BB * b;
            long xb = aOff + 4L * QK * b;
            java.util.Arrays.fill(acc, 0, 2 * N, 0f);
            float k0 = 0, k1 = 0;
            for (int h = 0; h < 2; h++) {
                for (int l0 = 0; l0 < 32; l0 += 16) {
                    long xo = xb + 4L * 128 * h;
                    half(w, o0, bo, h, l0, a, xo, acc, 0);
                    half(w, o1, bo, h, l0, a, xo, acc, N);
                    // The −32 terms: Σx per quarter's 16 columns (precomputed), times each row's scales.
                    long sc0 = o0 + bo + 192 + 8 * h + l0 / 16, sc1 = o1 + bo + 192 + 8 * h + l0 / 16;
                    long so = sums + 4L * ((QK * b + 128 * h + l0) / 16);
                    for (int j = 0; j < 4; j++) {
                        float sx = a.get(Half.FLOAT_LE, so + 8L * j);
                        k0 += sx * w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, sc0 + 2 * j);
                        k1 += sx * w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, sc1 + 2 * j);
                    }
                }
            }
            float d0 = Vec.scale(w, o0 + bo + 208), d1 = Vec.scale(w, o1 + bo + 208);
            s0 = FloatVector.fromArray(F, acc, 0).fma(FloatVector.broadcast(F, d0), s0);
            s1 = FloatVector.fromArray(F, acc, N).fma(FloatVector.broadcast(F, d1), s1);
            c0 += d0 * k0;
            c1 += d1 * k1;
        }
        res[0] = s0.reduceLanes(VectorOperators.ADD) - 32 * c0;
        res[1] = s1.reduceLanes(VectorOperators.ADD) - 32 * c1;
    }

    /** At 16 lanes the one-row decoder below; narrower, the two-row {@link #dot2} of this class. */
    @Override
    int sumsGroup() {
        return N == 16 ? 16 : 0;
    }

    /**
     * At 16 lanes (512 bits) one vector is one 16-weight sub-block, so each vector takes its scale
     * directly: per vector, the 6-bit code from ql/qh, −32 in int, convert, times x, FMA with the
     * sub-block scale; d once per super-block. No per-thread array round trips and no Σx (the sums
     * prepared for it go unused): measured 1.8x the two-row path at this width.
     */
    @Override
    float dot1(MemorySegment w, long o, MemorySegment a, long aOff, long sums, int cols) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s = zero;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + BB * b;
            // The 16 int8 scales in two loads: a scalar segment read per sub-block measured 4x slower.
            long sc0 = w.get(Vec.LONG_LE, blk + 192), sc1 = w.get(Vec.LONG_LE, blk + 200);
            FloatVector t = zero;
            for (int i = 0; i < 4; i++) {
                int h = i >> 1, l = 16 * (i & 1);
                long xo = aOff + 4L * (QK * b + 128 * h + l);
                long ql = blk + 64 * h, sc = h == 0 ? sc0 : sc1;
                IntVector top = Vec.u8(w, blk + 128 + 32 * h, l).lanewise(VectorOperators.LSHL, 4);
                // Quarter j: nibble j/2 of ql[32(j%2) + l..], bits 2j.. of qh; a loop, not unrolled,
                // keeps the method under C2's node count cutoff (past it every vector is boxed).
                for (int j = 0; j < 4; j++) {
                    IntVector q = Vec.u8(w, ql + 32 * (j & 1), l).lanewise(VectorOperators.LSHR, 4 * (j >> 1)).and(0xF)
                            .or(top.lanewise(VectorOperators.LSHR, 2 * j).and(0x30));
                    t = q6(q, Vec.f32(a, xo + 128L * j), (byte) (sc >>> (8 * (2 * j + (l >> 4)))), t);
                }
            }
            s = t.fma(FloatVector.broadcast(F, Vec.scale(w, blk + 208)), s);
        }
        return s.reduceLanes(VectorOperators.ADD);
    }

    private static FloatVector q6(IntVector q, FloatVector x, int sc, FloatVector t) {
        return Vec.i2f(q.sub(32)).mul(x).fma(FloatVector.broadcast(F, (float) sc), t);
    }

    private static final ThreadLocal<float[]> RES = ThreadLocal.withInitial(() -> new float[2]);
    /** Per-thread lane accumulators of the two rows (see {@link #half}). */
    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[2 * N]);

    /** Decode batches also get the sum of every 16 columns (for the −32 terms). */
    @Override
    public void prepare(Tensor w, Activations x) {
        if (x.tokens() >= TILE_TOKENS || N == 16) {
            super.prepare(w, x); // at 16 lanes with the sums of sumsGroup(), which dot1 ignores
        } else {
            prepareWithSums(x, 16);
        }
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        if (x.tokens() >= TILE_TOKENS || N == 16) {
            super.matmul(w, x, out, outStride, r0, r1);
            return;
        }
        requirePrepared(x);
        MemorySegment ws = w.data();
        long rb = w.rowBytes();
        MemorySegment a = x.encoded();
        int cols = x.cols();
        float[] res = RES.get(), acc = ACC.get();
        for (int r = r0; r < r1; r += 2) {
            int n = Math.min(2, r1 - r);
            for (int t = 0; t < x.tokens(); t++) {
                dot2(ws, r * rb, (r + n - 1) * rb, a, 4L * t * cols, sumsOffset(x, 16, t), cols, res, acc);
                for (int i = 0; i < n; i++) {
                    out[t * outStride + r + i] = res[i];
                }
            }
        }
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        int b0 = k0 / QK;
        for (int b = 0; b < kc / QK; b++) {
            long blk = rowOff + BB * (b0 + b);
            float d = Vec.scale(w, blk + 208);
            for (int h = 0; h < 2; h++) {
                long ql = blk + 64 * h, qh = blk + 128 + 32 * h, sc = blk + 192 + 8 * h;
                int o = dstOff + b * QK + 128 * h;
                for (int l = 0; l < 32; l += N) { // N divides 16, so a chunk has one scale
                    int is = l / 16;
                    IntVector a = Vec.u8(w, ql, l), c = Vec.u8(w, ql + 32, l), hi = Vec.u8(w, qh, l);
                    put(a.and(0xF).or(hi.and(3).lanewise(VectorOperators.LSHL, 4)),
                            d * Vec.i8(w, sc + is), dst, o + l);
                    put(c.and(0xF).or(hi.lanewise(VectorOperators.LSHR, 2).and(3).lanewise(VectorOperators.LSHL, 4)),
                            d * Vec.i8(w, sc + is + 2), dst, o + 32 + l);
                    put(a.lanewise(VectorOperators.LSHR, 4).or(hi.lanewise(VectorOperators.LSHR, 4).and(3).lanewise(VectorOperators.LSHL, 4)),
                            d * Vec.i8(w, sc + is + 4), dst, o + 64 + l);
                    put(c.lanewise(VectorOperators.LSHR, 4).or(hi.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)),
                            d * Vec.i8(w, sc + is + 6), dst, o + 96 + l);
                }
            }
        }
    }
}
