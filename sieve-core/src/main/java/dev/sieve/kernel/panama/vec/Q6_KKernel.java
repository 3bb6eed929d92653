package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Q6_KEncoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q6_K weights (ggml {@code block_q6_K}, 210 bytes per 256: ql[128] low nibbles, qh[64] high bit
 * pairs, int8 scales[16], f16 d). In each half h, weight 128h + 32j + l takes nibble j/2 of
 * ql[64h + 32(j%2) + l] and bits 2j..2j+1 of qh[32h + l]; value = d·sc·(q − 32) per 16-weight
 * sub-block. Decode uses the one-row {@link #dot1}; prompts decode into the tile.
 */
final class Q6_KKernel extends FloatPathKernel {
    private static final int QK = 256;
    private static final long BB = Q6_KEncoding.BLOCK_BYTES;

    Q6_KKernel() {
        super(Q6_KEncoding.INSTANCE);
    }

    /** Every row length: the decoder needs no Σx, so no sums are prepared for it. */
    @Override
    boolean oneRow(int cols) {
        return true;
    }

    /**
     * One row. Per vector of N ≤ 16 weights (inside one 16-weight sub-block): the 6-bit code from
     * ql/qh, −32 in int, convert, times x, FMA with the sub-block's int8 scale; d once per
     * super-block. No per-thread array round trips and no Σx. Measured 1.8x the two-row path it
     * replaced at 512 bits and 1.9x at 256 (docs/performance.md).
     */
    @Override
    float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long sums, float[] sf, int si,
            int cols) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s = zero;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + BB * b;
            // The 16 int8 scales in two loads: a scalar segment read per sub-block measured 4x slower.
            long sc0 = w.get(Vec.LONG_LE, blk + 192), sc1 = w.get(Vec.LONG_LE, blk + 200);
            FloatVector t = zero;
            // i: the N-weight chunks l of each half h's 32-byte ql/qh runs (4 at 512 bits, 8 at 256).
            for (int i = 0; i < 64 / N; i++) {
                int h = i / (32 / N), l = N * (i % (32 / N));
                int xq = QK * b + 128 * h + l;
                long ql = blk + 64 * h, sc = h == 0 ? sc0 : sc1;
                IntVector top = Vec.u8(w, blk + 128 + 32 * h, l).lanewise(VectorOperators.LSHL, 4);
                // Quarter j: nibble j/2 of ql[32(j%2) + l..], bits 2j.. of qh; a loop, not unrolled,
                // keeps the method under C2's node count cutoff (past it every vector is boxed).
                for (int j = 0; j < 4; j++) {
                    IntVector q = Vec.u8(w, ql + 32 * (j & 1), l).lanewise(VectorOperators.LSHR, 4 * (j >> 1)).and(0xF)
                            .or(top.lanewise(VectorOperators.LSHR, 2 * j).and(0x30));
                    t = q6(q, Vec.x(xf, xi, a, aOff, xq + 32 * j), (byte) (sc >>> (8 * (2 * j + (l >> 4)))), t);
                }
            }
            s = t.fma(FloatVector.broadcast(F, Vec.scale(w, blk + 208)), s);
        }
        return Vec.sum(s);
    }

    @Override
    boolean twoTokens() {
        return true;
    }

    /** {@link #dot1} for two tokens: each 6-bit code assembled and converted once, multiplied into both. */
    @Override
    void dot1x2(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long ab, int cols, float[] res) {
        FloatVector zero = FloatVector.zero(F);
        FloatVector s0 = zero, s1 = zero;
        for (int b = 0; b < cols / QK; b++) {
            long blk = o + BB * b;
            long sc0 = w.get(Vec.LONG_LE, blk + 192), sc1 = w.get(Vec.LONG_LE, blk + 200);
            FloatVector t0 = zero, t1 = zero;
            for (int i = 0; i < 64 / N; i++) {
                int h = i / (32 / N), l = N * (i % (32 / N));
                int xq = QK * b + 128 * h + l;
                long ql = blk + 64 * h, sc = h == 0 ? sc0 : sc1;
                IntVector top = Vec.u8(w, blk + 128 + 32 * h, l).lanewise(VectorOperators.LSHL, 4);
                for (int j = 0; j < 4; j++) {
                    IntVector q = Vec.u8(w, ql + 32 * (j & 1), l).lanewise(VectorOperators.LSHR, 4 * (j >> 1)).and(0xF)
                            .or(top.lanewise(VectorOperators.LSHR, 2 * j).and(0x30));
                    FloatVector qf = Vec.i2f(q.sub(32));
                    FloatVector d = FloatVector.broadcast(F, (float) (byte) (sc >>> (8 * (2 * j + (l >> 4)))));
                    t0 = qf.mul(Vec.x(xf, xi, a, aOff, xq + 32 * j)).fma(d, t0);
                    t1 = qf.mul(Vec.x(xf, xi + cols, a, aOff + ab, xq + 32 * j)).fma(d, t1);
                }
            }
            FloatVector dd = FloatVector.broadcast(F, Vec.scale(w, blk + 208));
            s0 = t0.fma(dd, s0);
            s1 = t1.fma(dd, s1);
        }
        float r0 = Vec.sum(s0, res, 0), r1 = Vec.sum(s1, res, 0);
        res[0] = r0;
        res[1] = r1;
    }

    private static FloatVector q6(IntVector q, FloatVector x, int sc, FloatVector t) {
        return Vec.i2f(q.sub(32)).mul(x).fma(FloatVector.broadcast(F, (float) sc), t);
    }

    /**
     * Laid out as {@link #dot1}: per N-weight chunk of a half, the high bits once, then the four quarters
     * in a loop. (The previous form, four writes through a helper taking the code vector, was not
     * inlined by C2 and boxed every vector: 262 MB allocated per 32000 × 2048 product, ~4 GB in a
     * pp128 run of a Q4_K_M model.)
     */
    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        int b0 = k0 / QK;
        for (int b = 0; b < kc / QK; b++) {
            long blk = rowOff + BB * (b0 + b);
            float d = Vec.scale(w, blk + 208);
            long sc0 = w.get(Vec.LONG_LE, blk + 192), sc1 = w.get(Vec.LONG_LE, blk + 200);
            for (int i = 0; i < 64 / N; i++) {
                int h = i / (32 / N), l = N * (i % (32 / N));
                int o = dstOff + b * QK + 128 * h + l;
                long ql = blk + 64 * h, sc = h == 0 ? sc0 : sc1;
                IntVector top = Vec.u8(w, blk + 128 + 32 * h, l).lanewise(VectorOperators.LSHL, 4);
                for (int j = 0; j < 4; j++) {
                    IntVector q = Vec.u8(w, ql + 32 * (j & 1), l).lanewise(VectorOperators.LSHR, 4 * (j >> 1)).and(0xF)
                            .or(top.lanewise(VectorOperators.LSHR, 2 * j).and(0x30));
                    float dl = d * (byte) (sc >>> (8 * (2 * j + (l >> 4))));
                    Vec.i2f(q.sub(32)).mul(dl).intoArray(dst, o + 32 * j);
                }
            }
        }
    }
}
