package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;

/**
 * The {@link BlockGrid}s of the encodings that have one. Each {@code fit} repeats its encoding's
 * reference scale choice (kept as separate code on purpose: the grid test checks the two agree
 * bit for bit), and each {@code round} evaluates the level with the same float expression as
 * {@code dequantize}, so rounded values are exactly what a reader decodes.
 */
final class EncodingGrids {
    private EncodingGrids() {}

    /** A grid bound to one encoding, building blocks from a factory. */
    private record Grid(WeightEncoding enc, java.util.function.Supplier<BlockGrid.Block> blocks)
            implements BlockGrid {
        @Override public int blockSize() { return enc.blockSize(); }
        @Override public Optional<WeightEncoding> encoding() { return Optional.of(enc); }
        @Override public Block newBlock() { return blocks.get(); }
    }

    static final BlockGrid Q8_0 = new Grid(Q8_0Encoding.INSTANCE, Q8_0Block::new);
    static final BlockGrid Q4_0 = new Grid(Q4_0Encoding.INSTANCE, Q4_0Block::new);
    static final BlockGrid Q4_1 = new Grid(Q4_1Encoding.INSTANCE, Q4_1Block::new);
    static final BlockGrid Q4_K = new Grid(Q4_KEncoding.INSTANCE, Q4_KBlock::new);
    static final BlockGrid Q5_K = new Grid(Q5_KEncoding.INSTANCE, Q5_KBlock::new);
    static final BlockGrid Q6_K = new Grid(Q6_KEncoding.INSTANCE, Q6_KBlock::new);
    static final BlockGrid Q3_K = new Grid(Q3_KEncoding.INSTANCE, Q3_KBlock::new);

    /**
     * llama.cpp's per-value weights with an importance matrix: w = imp·√(σ² + v²), σ² = k·Σv²/n
     * over the n values (k = 2 for the K-quants' super-blocks, 1 for Q4_0). False, leaving the
     * plain fit to the caller, when the importances sum to zero (nothing to weigh by).
     */
    private static boolean importanceWeights(float[] v, int off, int n, float[] imp, int io, float[] w, int wn, float k) {
        float sumX2 = 0;
        float sumImp = 0;
        for (int i = 0; i < n; i++) {
            sumX2 += v[off + i] * v[off + i];
            sumImp += imp[io + i];
        }
        if (!(sumImp > 0)) {
            return false;
        }
        float sigma2 = k * sumX2 / n;
        for (int i = 0; i < wn; i++) {
            w[i] = imp[io + i] * QuantMath.sqrtf(sigma2 + v[off + i] * v[off + i]);
        }
        return true;
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    /** Q8_0: d = amax/127 (stored as f16); level = roundAway(v/d) with the unrounded d. */
    private static final class Q8_0Block implements BlockGrid.Block {
        float id;
        float d;

        @Override
        public void fit(float[] v, int off) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(v[off + j]));
            }
            float dRaw = amax / 127f;
            id = dRaw != 0 ? 1f / dRaw : 0f;
            d = Half.roundF16(dRaw);
        }

        int level(float v) {
            return clamp(QuantMath.roundAway(v * id), -128, 127);
        }

        @Override
        public float round(int i, float v) {
            return d * level(v);
        }

        @Override
        public void encode(float[] v, int off, MemorySegment dst, long o) {
            Half.putF16(dst, o, d);
            for (int j = 0; j < 32; j++) {
                dst.set(ValueLayout.JAVA_BYTE, o + 2 + j, (byte) level(v[off + j]));
            }
        }
    }

    /** Q4_0: d = max/−8 with the signed value of largest magnitude; level = (int)(v/d + 8.5). */
    private static final class Q4_0Block implements BlockGrid.Block {
        float id;
        float d;

        @Override
        public void fit(float[] v, int off) {
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++) {
                if (amax < Math.abs(v[off + j])) {
                    amax = Math.abs(v[off + j]);
                    max = v[off + j];
                }
            }
            float dRaw = max / -8f;
            id = dRaw != 0 ? 1f / dRaw : 0f;
            d = Half.roundF16(dRaw);
        }

        /** ggml's {@code quantize_row_q4_0_impl}: weighted {@code make_qx_quants}, weights imp·√(σ² + v²). */
        @Override
        public void fit(float[] v, int off, float[] imp, int io) {
            float[] w = new float[32];
            if (!importanceWeights(v, off, 32, imp, io, w, 32, 1f)) {
                fit(v, off);
                return;
            }
            float dRaw = QuantMath.makeQxQuants(32, 8, v, off, new int[32], 0, w, 0);
            id = dRaw != 0 ? 1f / dRaw : 0f;
            d = Half.roundF16(dRaw);
        }

        int level(float v) {
            // Off-grid inputs (GPTQ's updated weights) may fall below −8.5/id: clamp both ends.
            float t = v * id + 8.5f;
            return t < 0 ? 0 : Math.min(15, (int) t);
        }

        @Override
        public float round(int i, float v) {
            return (level(v) - 8) * d;
        }

        @Override
        public void encode(float[] v, int off, MemorySegment dst, long o) {
            Half.putF16(dst, o, d);
            for (int j = 0; j < 16; j++) {
                int x0 = level(v[off + j]);
                int x1 = level(v[off + j + 16]);
                dst.set(ValueLayout.JAVA_BYTE, o + 2 + j, (byte) (x0 | (x1 << 4)));
            }
        }
    }

    /** Q4_1: d = (max − min)/15, m = min; level = (int)((v − min)/d + 0.5). */
    private static final class Q4_1Block implements BlockGrid.Block {
        float id;
        float minRaw;
        float d;
        float m;

        @Override
        public void fit(float[] v, int off) {
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < 32; j++) {
                min = Math.min(min, v[off + j]);
                max = Math.max(max, v[off + j]);
            }
            float dRaw = (max - min) / 15;
            id = dRaw != 0 ? 1f / dRaw : 0f;
            minRaw = min;
            d = Half.roundF16(dRaw);
            m = Half.roundF16(min);
        }

        int level(float v) {
            float t = (v - minRaw) * id + 0.5f;
            return t < 0 ? 0 : Math.min(15, (int) t);
        }

        @Override
        public float round(int i, float v) {
            return level(v) * d + m;
        }

        @Override
        public void encode(float[] v, int off, MemorySegment dst, long o) {
            Half.putF16(dst, o, d);
            Half.putF16(dst, o + 2, m);
            for (int j = 0; j < 16; j++) {
                int x0 = level(v[off + j]);
                int x1 = level(v[off + j + 16]);
                dst.set(ValueLayout.JAVA_BYTE, o + 4 + j, (byte) (x0 | (x1 << 4)));
            }
        }
    }

    /**
     * Q4_K: sub-block scales and mins by {@code make_qkx2_quants}, quantized to 6 bits against
     * the block's largest; levels by nearest against the stored sub-block scale and min.
     */
    private static class Q4_KBlock implements BlockGrid.Block {
        /** Largest level, and make_qkx2_quants' search (rmin, rdelta, nstep) of the reference quantizer. */
        final int nmax;
        final float rmin;
        final float rdelta;
        final int nstep;

        Q4_KBlock() {
            this(15, -1f, 0.1f, 20);
        }

        Q4_KBlock(int nmax, float rmin, float rdelta, int nstep) {
            this.nmax = nmax;
            this.rmin = rmin;
            this.rdelta = rdelta;
            this.nstep = nstep;
        }

        final int[] ls = new int[8];
        final int[] lm = new int[8];
        final float[] dl = new float[8];
        final float[] ml = new float[8];
        float d;
        float dmin;
        private final int[] scratchL = new int[256];
        private final float[] weights = new float[32];
        private final float[] mins = new float[8];
        private final float[] scales = new float[8];

        @Override
        public void fit(float[] src, int x) {
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < 8; j++) {
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) {
                    sumX2 += src[x + 32 * j + l] * src[x + 32 * j + l];
                }
                float avX = QuantMath.sqrtf(sumX2 / 32);
                for (int l = 0; l < 32; l++) {
                    weights[l] = avX + Math.abs(src[x + 32 * j + l]);
                }
                scales[j] = QuantMath.makeQkx2Quants(32, nmax, src, x + 32 * j, weights, scratchL,
                        32 * j, mins, j, rmin, rdelta, nstep, false);
                maxScale = Math.max(maxScale, scales[j]);
                maxMin = Math.max(maxMin, mins[j]);
            }
            float invScale = maxScale > 0 ? 63f / maxScale : 0f;
            float invMin = maxMin > 0 ? 63f / maxMin : 0f;
            d = Half.roundF16(maxScale / 63f);
            dmin = Half.roundF16(maxMin / 63f);
            for (int j = 0; j < 8; j++) {
                ls[j] = Math.min(63, QuantMath.nearestInt(invScale * scales[j]) & 0xFF);
                lm[j] = Math.min(63, QuantMath.nearestInt(invMin * mins[j]) & 0xFF);
                dl[j] = d * ls[j];
                ml[j] = dmin * lm[j];
            }
        }

        /**
         * ggml's {@code quantize_row_q4_K_impl}: sub-blocks by weighted least squares (weights
         * imp·√(σ² + v²)), then the 6-bit scales and mins by {@code make_qp_quants} weighted by
         * each sub-block's total weight.
         */
        @Override
        public void fit(float[] src, int x, float[] imp, int io) {
            float[] w = new float[256];
            if (!importanceWeights(src, x, 256, imp, io, w, 256, 2f)) {
                fit(src, x);
                return;
            }
            float[] sw = new float[8];
            for (int j = 0; j < 8; j++) {
                System.arraycopy(w, 32 * j, weights, 0, 32);
                for (int l = 0; l < 32; l++) {
                    sw[j] += weights[l];
                }
                scales[j] = QuantMath.makeQkx2Quants(32, nmax, src, x + 32 * j, weights, scratchL,
                        32 * j, mins, j, -0.9f, 0.05f, 36, false);
            }
            float dBlock = QuantMath.makeQpQuants(8, 63, scales, ls, sw);
            float mBlock = QuantMath.makeQpQuants(8, 63, mins, lm, sw);
            d = Half.roundF16(dBlock);
            dmin = Half.roundF16(mBlock);
            for (int j = 0; j < 8; j++) {
                ls[j] = Math.min(63, ls[j]);
                lm[j] = Math.min(63, lm[j]);
                dl[j] = d * ls[j];
                ml[j] = dmin * lm[j];
            }
        }

        @Override
        public int subBlockSize() {
            return 32;
        }

        /** Sub-block j's scale and min by (weighted) least squares, stored against the fixed d and dmin. */
        @Override
        public void refitSubBlock(int j, float[] src, int x, float[] imp, int io) {
            if (d == 0) {
                return;
            }
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) {
                sumX2 += src[x + l] * src[x + l];
            }
            float avX = QuantMath.sqrtf(sumX2 / 32);
            for (int l = 0; l < 32; l++) {
                float a = Math.abs(src[x + l]);
                weights[l] = imp != null ? imp[io + l] * QuantMath.sqrtf(avX * avX + a * a) : avX + a;
            }
            float sc = QuantMath.makeQkx2Quants(32, nmax, src, x, weights, scratchL, 0, mins, j, rmin, rdelta, nstep, false);
            ls[j] = clamp(QuantMath.nearestInt(sc / d), 0, 63);
            lm[j] = dmin > 0 ? clamp(QuantMath.nearestInt(mins[j] / dmin), 0, 63) : 0;
            dl[j] = d * ls[j];
            ml[j] = dmin * lm[j];
        }

        int level(int i, float v) {
            float s = dl[i >>> 5];
            if (s == 0) {
                return 0; // every level decodes to −ml here
            }
            return clamp(QuantMath.nearestInt((v + ml[i >>> 5]) / s), 0, nmax);
        }

        @Override
        public float round(int i, float v) {
            return dl[i >>> 5] * level(i, v) - ml[i >>> 5];
        }

        @Override
        public void encode(float[] v, int off, MemorySegment dst, long o) {
            Half.putF16(dst, o, d);
            Half.putF16(dst, o + 2, dmin);
            QuantMath.packScalesK4(ls, lm, dst, o + 4);
            for (int c = 0; c < 4; c++) {
                for (int l = 0; l < 32; l++) {
                    int lo = level(64 * c + l, v[off + 64 * c + l]);
                    int hi = level(64 * c + l + 32, v[off + 64 * c + l + 32]);
                    dst.set(ValueLayout.JAVA_BYTE, o + 16 + 32 * c + l, (byte) (lo | (hi << 4)));
                }
            }
        }
    }

    /**
     * Q5_K: as Q4_K with 5-bit levels (make_qkx2_quants with nmax 31 and ggml's Q5_K search
     * −0.5 + 0.1·k, k ≤ 15); the fifth bits go to qh.
     */
    private static final class Q5_KBlock extends Q4_KBlock {
        private final int[] q = new int[256];

        Q5_KBlock() {
            super(31, -0.5f, 0.1f, 15);
        }

        @Override
        public void encode(float[] v, int off, MemorySegment dst, long o) {
            Half.putF16(dst, o, d);
            Half.putF16(dst, o + 2, dmin);
            QuantMath.packScalesK4(ls, lm, dst, o + 4);
            for (int e = 0; e < 256; e++) {
                q[e] = level(e, v[off + e]);
            }
            Q5_KEncoding.putLevels(q, dst, o);
        }
    }

    /**
     * Q6_K: sub-block (16) scales by x²-weighted {@code make_qx_quants}, quantized to int8
     * against the largest; levels in [−32, 31] by nearest against the stored sub-block scale.
     */
    private static final class Q6_KBlock implements BlockGrid.Block {
        final byte[] sc = new byte[16];
        final float[] dl = new float[16];
        float d;
        private final int[] scratchL = new int[256];
        private final float[] scales = new float[16];

        @Override
        public void fit(float[] src, int x) {
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int g = 0; g < 16; g++) {
                scales[g] = QuantMath.makeQxQuants(16, 32, src, x + 16 * g, scratchL, 16 * g, 1);
                float abs = Math.abs(scales[g]);
                if (abs > maxAbsScale) {
                    maxAbsScale = abs;
                    maxScale = scales[g];
                }
            }
            if (maxAbsScale < QuantMath.GROUP_MAX_EPS) {
                d = 0;
                java.util.Arrays.fill(sc, (byte) 0);
                java.util.Arrays.fill(dl, 0f);
                return;
            }
            float iscale = -128f / maxScale;
            d = Half.roundF16(1 / iscale);
            for (int g = 0; g < 16; g++) {
                sc[g] = (byte) Math.min(127, QuantMath.nearestInt(iscale * scales[g]));
                dl[g] = d * sc[g];
            }
        }

        /** ggml's {@code quantize_row_q6_K_impl}: sub-block scales by weighted {@code make_qx_quants}. */
        @Override
        public void fit(float[] src, int x, float[] imp, int io) {
            float[] w = new float[256];
            if (!importanceWeights(src, x, 256, imp, io, w, 256, 2f)) {
                fit(src, x);
                return;
            }
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int g = 0; g < 16; g++) {
                scales[g] = QuantMath.makeQxQuants(16, 32, src, x + 16 * g, scratchL, 16 * g, w, 16 * g);
                float abs = Math.abs(scales[g]);
                if (abs > maxAbsScale) {
                    maxAbsScale = abs;
                    maxScale = scales[g];
                }
            }
            setScales(maxScale, maxAbsScale);
        }

        private void setScales(float maxScale, float maxAbsScale) {
            if (maxAbsScale < QuantMath.GROUP_MAX_EPS) {
                d = 0;
                java.util.Arrays.fill(sc, (byte) 0);
                java.util.Arrays.fill(dl, 0f);
                return;
            }
            float iscale = -128f / maxScale;
            d = Half.roundF16(1 / iscale);
            for (int g = 0; g < 16; g++) {
                sc[g] = (byte) Math.min(127, QuantMath.nearestInt(iscale * scales[g]));
                dl[g] = d * sc[g];
            }
        }

        @Override
        public int subBlockSize() {
            return 16;
        }

        /** Sub-block g's scale by (weighted) {@code make_qx_quants}, stored as int8 against the fixed d. */
        @Override
        public void refitSubBlock(int g, float[] src, int x, float[] imp, int io) {
            if (d == 0) {
                return;
            }
            float s;
            if (imp != null) {
                float[] w = new float[16];
                if (!importanceWeights(src, x, 16, imp, io, w, 16, 1f)) {
                    return;
                }
                s = QuantMath.makeQxQuants(16, 32, src, x, scratchL, 0, w, 0);
            } else {
                s = QuantMath.makeQxQuants(16, 32, src, x, scratchL, 0, 1);
            }
            sc[g] = (byte) clamp(QuantMath.nearestInt(s / d), -128, 127);
            dl[g] = d * sc[g];
        }

        int level(int i, float v) {
            float s = dl[i >>> 4];
            return s == 0 ? 0 : clamp(QuantMath.nearestInt(v / s), -32, 31);
        }

        @Override
        public float round(int i, float v) {
            return dl[i >>> 4] * level(i, v);
        }

        @Override
        public void encode(float[] v, int off, MemorySegment dst, long o) {
            int[] q = scratchL;
            for (int e = 0; e < 256; e++) {
                q[e] = level(e, v[off + e]) + 32;
            }
            for (int h = 0; h < 2; h++) {
                int base = 128 * h;
                for (int l = 0; l < 32; l++) {
                    int q1 = q[base + l];
                    int q2 = q[base + l + 32];
                    int q3 = q[base + l + 64];
                    int q4 = q[base + l + 96];
                    dst.set(ValueLayout.JAVA_BYTE, o + 64 * h + l, (byte) ((q1 & 0xF) | ((q3 & 0xF) << 4)));
                    dst.set(ValueLayout.JAVA_BYTE, o + 64 * h + 32 + l, (byte) ((q2 & 0xF) | ((q4 & 0xF) << 4)));
                    int qh = (q1 >>> 4) | ((q2 >>> 4) << 2) | ((q3 >>> 4) << 4) | ((q4 >>> 4) << 6);
                    dst.set(ValueLayout.JAVA_BYTE, o + 128 + 32 * h + l, (byte) qh);
                }
            }
            for (int g = 0; g < 16; g++) {
                dst.set(ValueLayout.JAVA_BYTE, o + 192 + g, sc[g]);
            }
            Half.putF16(dst, o + 208, d);
        }
    }

    /**
     * Q3_K: sub-block (16) scales by x²-weighted, refined {@code make_q3_quants}, quantized to 6
     * bits (sc − 32) against the one of largest magnitude; levels in [−4, 3] by nearest against
     * the stored sub-block scale.
     */
    private static final class Q3_KBlock implements BlockGrid.Block {
        final int[] ls = new int[16];
        final float[] dl = new float[16];
        float d;
        private final int[] scratchL = new int[256];
        private final float[] scales = new float[16];

        @Override
        public void fit(float[] src, int x) {
            float maxScale = 0;
            float amax = 0;
            for (int g = 0; g < 16; g++) {
                scales[g] = QuantMath.makeQ3Quants(16, 4, src, x + 16 * g, scratchL, 16 * g);
                float abs = Math.abs(scales[g]);
                if (abs > amax) {
                    amax = abs;
                    maxScale = scales[g];
                }
            }
            if (maxScale == 0) {
                d = 0;
                java.util.Arrays.fill(ls, 0);
                java.util.Arrays.fill(dl, 0f);
                return;
            }
            float iscale = -32f / maxScale;
            d = Half.roundF16(1 / iscale);
            for (int g = 0; g < 16; g++) {
                ls[g] = clamp(QuantMath.nearestInt(iscale * scales[g]), -32, 31) + 32;
                dl[g] = d * (ls[g] - 32);
            }
        }

        /**
         * ggml's {@code quantize_row_q3_K_impl}: sub-block scales by weighted {@code
         * make_qx_quants} (weights imp·√(σ² + v²)), then the 6-bit scales by {@code
         * make_qx_quants} weighted by each sub-block's total weight.
         */
        @Override
        public void fit(float[] src, int x, float[] imp, int io) {
            float[] w = new float[256];
            if (!importanceWeights(src, x, 256, imp, io, w, 256, 2f)) {
                fit(src, x);
                return;
            }
            float[] sw = new float[16];
            for (int g = 0; g < 16; g++) {
                for (int l = 0; l < 16; l++) {
                    sw[g] += w[16 * g + l];
                }
                scales[g] = QuantMath.makeQxQuants(16, 4, src, x + 16 * g, scratchL, 16 * g, w, 16 * g);
            }
            float dBlock = QuantMath.makeQxQuants(16, 32, scales, 0, ls, 0, sw, 0);
            d = Half.roundF16(dBlock);
            for (int g = 0; g < 16; g++) {
                dl[g] = d * (ls[g] - 32);
            }
        }

        @Override
        public int subBlockSize() {
            return 16;
        }

        /** Sub-block g's scale by (weighted) least squares, stored in 6 bits against the fixed d. */
        @Override
        public void refitSubBlock(int g, float[] src, int x, float[] imp, int io) {
            if (d == 0) {
                return;
            }
            float s;
            if (imp != null) {
                float[] w = new float[16];
                if (!importanceWeights(src, x, 16, imp, io, w, 16, 1f)) {
                    return;
                }
                s = QuantMath.makeQxQuants(16, 4, src, x, scratchL, 0, w, 0);
            } else {
                s = QuantMath.makeQ3Quants(16, 4, src, x, scratchL, 0);
            }
            ls[g] = clamp(QuantMath.nearestInt(s / d), -32, 31) + 32;
            dl[g] = d * (ls[g] - 32);
        }

        int level(int i, float v) {
            float s = dl[i >>> 4];
            return s == 0 ? 0 : clamp(QuantMath.nearestInt(v / s), -4, 3);
        }

        @Override
        public float round(int i, float v) {
            return dl[i >>> 4] * level(i, v);
        }

        @Override
        public void encode(float[] v, int off, MemorySegment dst, long o) {
            for (int e = 0; e < 256; e++) {
                scratchL[e] = level(e, v[off + e]) + 4;
            }
            Half.putF16(dst, o + 108, d);
            Q3_KEncoding.putScales(ls, dst, o);
            Q3_KEncoding.putLevels(scratchL, dst, o);
        }
    }
}
