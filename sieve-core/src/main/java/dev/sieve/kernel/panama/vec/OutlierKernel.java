package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.OutlierEncoding;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q8_0Encoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Dense-and-sparse weights ({@link OutlierEncoding}: per 64 weights two Q4_0 or Q8_0 blocks and one
 * f16 outlier) against float activations. A block decodes as its two dense blocks, in vectors as
 * {@link Q4_0Kernel} and {@link Q8_0Kernel} decode theirs, plus one scalar product for the outlier.
 * Prompts use {@link #decode} through {@link FloatPathKernel}'s tiles; decode has a fused one-row decoder per dense type ({@code dot1}), one subclass each, so
 * that each decoder is the whole of its method, followed by a scalar pass over the row's outliers.
 *
 * <p>The {@code dot1} bodies restate {@link Q4_0Kernel#dot1} and Q8_0's per-block loop on purpose: the
 * dense blocks here sit at the 64-weight group's stride, not at consecutive Q4_0/Q8_0 block offsets, and
 * sharing the loop would make its address non-linear in the loop variable, which keeps the loads'
 * bounds checks (12.1 against 16.2 GFLOP/s a thread, docs/performance.md, "Dense-and-sparse encodings"),
 * and a per-block helper taking or returning vectors is left out of line by C2, which boxes them. The
 * tile decoder does share {@code decodeBlocks}, which passes no vectors across the call.
 */
abstract class OutlierKernel extends FloatPathKernel {
    private static final int BLOCK = OutlierEncoding.BLOCK;
    private static final int QK = 32;

    final long bb;
    final int position;

    private OutlierKernel(OutlierEncoding e) {
        super(e);
        this.bb = e.blockBytes();
        this.position = e.positionAt();
    }

    static OutlierKernel of(OutlierEncoding e) {
        return e.dense() == Q4_0Encoding.INSTANCE ? new Q4(e) : new Q8(e);
    }

    @Override
    boolean oneRow(int cols) {
        return true;
    }

    /** Σ value·x over the outliers of the row at {@code o}, activations {@code xf[xi..]}: a scalar pass after the dense one. */
    final float outliers(MemorySegment w, long o, float[] xf, int xi, int cols) {
        float s = 0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long blk = o + bb * b;
            s += Vec.scale(w, blk + position + 1) * xf[xi + BLOCK * b + (Vec.u8(w, blk + position) & (BLOCK - 1))];
        }
        return s;
    }

    @Override
    final void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        for (int s = 0; s < kc / BLOCK; s++) {
            long blk = rowOff + bb * (k0 / BLOCK + s);
            int o = dstOff + BLOCK * s;
            dense(w, blk, dst, o);
            dst[o + (Vec.u8(w, blk + position) & (BLOCK - 1))] += Vec.scale(w, blk + position + 1);
        }
    }

    /** The two dense blocks of the block at {@code blk}, decoded into {@code dst[o..o + 64)}. */
    abstract void dense(MemorySegment w, long blk, float[] dst, int o);

    /**
     * Q4_0 dense part on floats, its −8 offset applied per 32 weights through the activations' group
     * sums. (A 16-bit integer decoder against Q8_0 activations, as {@link Q4_0IntKernel} runs Q4_0
     * on AVX2, measured 14.6 against 13.9 GFLOP/s a thread here but no faster in a whole model:
     * 11.99 against 12.34 tokens/s on tinyllama; not kept.)
     */
    static final class Q4 extends OutlierKernel {
        private static final long DB = Q4_0Encoding.BLOCK_BYTES;

        Q4(OutlierEncoding e) {
            super(e);
        }

        @Override
        int sumsGroup() {
            return QK;
        }

        /** Σ_b d_b·(Σ q·x − 8·Σx) over the dense blocks, then the outliers' pass. */
        @Override
        float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long sums, float[] sf, int si,
                int cols) {
            FloatVector zero = FloatVector.zero(F);
            FloatVector s = zero;
            float k = 0;
            for (int b = 0; b < cols / BLOCK; b++) {
                long blk = o + bb * b;
                int x0 = BLOCK * b;
                for (int h = 0; h < 2; h++) {
                    long q = blk + DB * h;
                    int xb = x0 + QK * h;
                    FloatVector p = zero, r = zero; // low and high nibbles: two independent FMA chains
                    for (int c = 0; c < QK / 2; c += N) {
                        IntVector v = Vec.u8(w, q + 2, c);
                        p = Vec.i2f(v.and(0x0F)).fma(Vec.x(xf, xi, a, aOff, xb + c), p);
                        r = Vec.i2f(v.lanewise(VectorOperators.LSHR, 4)).fma(Vec.x(xf, xi, a, aOff, xb + c + QK / 2), r);
                    }
                    float d = Vec.scale(w, q);
                    s = p.add(r).fma(FloatVector.broadcast(F, d), s);
                    k += d * sf[si + 2 * b + h];
                }
            }
            return Vec.sum(s) - 8 * k + outliers(w, o, xf, xi, cols);
        }

        @Override
        void dense(MemorySegment w, long blk, float[] dst, int o) {
            Q4_0Kernel.decodeBlocks(w, blk, BLOCK / QK, dst, o);
        }
    }

    static final class Q8 extends OutlierKernel {
        private static final long DB = Q8_0Encoding.BLOCK_BYTES;

        Q8(OutlierEncoding e) {
            super(e);
        }

        @Override
        float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long sums, float[] sf, int si,
                int cols) {
            FloatVector zero = FloatVector.zero(F);
            FloatVector s = zero;
            for (int b = 0; b < cols / BLOCK; b++) {
                long blk = o + bb * b;
                int x0 = BLOCK * b;
                for (int h = 0; h < 2; h++) {
                    long q = blk + DB * h;
                    int xb = x0 + QK * h;
                    FloatVector p = zero, r = zero; // even and odd chunks: two independent FMA chains
                    for (int c = 0; c < QK; c += 2 * N) {
                        p = Q8_0Kernel.q(w, q, c).fma(Vec.x(xf, xi, a, aOff, xb + c), p);
                        r = Q8_0Kernel.q(w, q, c + N).fma(Vec.x(xf, xi, a, aOff, xb + c + N), r);
                    }
                    s = p.add(r).fma(FloatVector.broadcast(F, Vec.scale(w, q)), s);
                }
            }
            return Vec.sum(s) + outliers(w, o, xf, xi, cols);
        }

        @Override
        void dense(MemorySegment w, long blk, float[] dst, int o) {
            Q8_0Kernel.decodeBlocks(w, blk, BLOCK / QK, dst, o);
        }
    }

    @Override
    public String toString() {
        return encoding().name() + " (dense-and-sparse) F32 activations";
    }
}
