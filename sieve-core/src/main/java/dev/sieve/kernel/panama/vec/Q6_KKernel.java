package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Q6_KEncoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q6_K weights (ggml {@code block_q6_K}, 210 bytes per 256: ql[128] low nibbles, qh[64] high bit
 * pairs, int8 scales[16], f16 d). In each half h, weight 128h + 32j + l takes nibble j/2 of
 * ql[64h + 32(j%2) + l] and bits 2j..2j+1 of qh[32h + l]; value = d·sc·(q − 32) per 16-weight
 * sub-block.
 *
 * <p>Decode ({@link #dot1}, {@link #dot1x2}) runs in two steps per row: {@link #codes} assembles the
 * row's 6-bit codes, minus 32, as signed bytes in a per-thread array (32 at a time, with int shifts
 * and byte masks), and {@link #scales} its sub-block scales d·sc as floats; then an int8 × float dot
 * with one scale per 16 weights, two accumulators. Measured against the fused one-row decoder it
 * replaced (each 8-weight chunk assembled in int lanes, all products on one FMA chain), DecodeProbe,
 * one thread, AVX2: out of DRAM 3.8–5.0 against 3.1 GB/s, in L2 5.8–6.1 against 3.0; two tokens
 * 16.6–19.8 against 12.9–13.1 GFLOP/s (docs/performance.md). Fused forms of the same work (four or
 * two accumulators in one loop, bytes assembled and converted by parts) passed C2's node count cutoff
 * and boxed every vector, or ran slower; as small methods that take and return no vectors, each
 * compiles on its own budget.
 */
final class Q6_KKernel extends FloatPathKernel {
    private static final int QK = 256;
    private static final long BB = Q6_KEncoding.BLOCK_BYTES;
    /** Bytes assembled per step: 32 where vectors are 256 bits or wider, 16 at 128. */
    private static final VectorSpecies<Byte> BQ = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.min(Vec.BITS, 256)));

    /** Per-thread row buffers: codes and sub-block scales (grown to the longest row seen). */
    private static final class Row {
        byte[] codes = new byte[0];
        float[] scales = new float[0];

        Row fit(int cols) {
            // + 8: at 128 bits each 4-code load reads 8 bytes (Vec.BL), the row's last one past its end.
            if (codes.length < cols + 8) {
                codes = new byte[cols + 8];
                scales = new float[cols / 16];
            }
            return this;
        }
    }

    private static final ThreadLocal<Row> ROW = ThreadLocal.withInitial(Row::new);

    Q6_KKernel() {
        super(Q6_KEncoding.INSTANCE);
    }

    /** Every row length: the decoder needs no Σx (the −32 is folded into the codes). */
    @Override
    boolean oneRow(int cols) {
        return true;
    }

    @Override
    float dot1(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long sums, float[] sf, int si,
            int cols) {
        Row row = row(w, o, cols);
        return dot(row.codes, row.scales, xf, xi, cols);
    }

    /** {@link #dot1} for two tokens: the row's codes and scales formed once, each token summed as {@link #dot1} sums. */
    @Override
    void dot1x2(MemorySegment w, long o, float[] xf, int xi, MemorySegment a, long aOff, long ab, long sums, int cols,
            float[] res) {
        Row row = row(w, o, cols);
        dot2(row.codes, row.scales, xf, xi, cols, res);
    }

    /**
     * This thread's buffers holding the codes and scales of the row at {@code o}. The codes first: they
     * walk each block's first 192 bytes in order, so the row streams from memory once and the scales
     * (its last 18 bytes) are then in cache. Scales first touched one line in three, 210 bytes apart,
     * before the codes read the rest: one thread, 5632 × 2048 out of DRAM, 1.64–2.51 ms codes first
     * against 2.46–3.04 (docs/performance.md, session 30).
     */
    private static Row row(MemorySegment w, long o, int cols) {
        Row row = ROW.get().fit(cols);
        codes(w, o, 0, cols / QK, row.codes);
        scales(w, o, 0, cols / QK, row.scales);
        return row;
    }

    /** d·sc of every 16-weight sub-block of blocks [b0, b1) of the row at {@code o}, from {@code dst[0]}. */
    private static void scales(MemorySegment w, long o, int b0, int b1, float[] dst) {
        for (int b = b0; b < b1; b++) {
            long blk = o + BB * b;
            float d = Vec.scale(w, blk + 208);
            for (int k = 0; k < 16; k += Vec.BL.length()) { // parts: below 8 lanes a load holds several vectors
                ByteVector sc = Vec.bytes(w, blk + 192 + k);
                for (int p = 0; p < Vec.PARTS; p++) {
                    Vec.b2f(sc, p).mul(d).intoArray(dst, 16 * (b - b0) + k + N * p);
                }
            }
        }
    }

    /**
     * The 6-bit codes minus 32 of blocks [b0, b1) of the row at {@code o}, in weight order from {@code
     * dst[0]}: per half and run of {@link #BQ} bytes, the four quarters from one qh and two ql loads.
     * Shifts run in int lanes (x86 has no byte shifts); the masks keep each byte's own bits.
     */
    private static void codes(MemorySegment w, long o, int b0, int b1, byte[] dst) {
        for (int b = b0; b < b1; b++) {
            long blk = o + BB * b;
            for (int h = 0; h < 2; h++) {
                for (int k = 0; k < 32; k += BQ.length()) {
                    IntVector qh = ByteVector.fromMemorySegment(BQ, w, blk + 128 + 32 * h + k, Vec.LE).reinterpretAsInts();
                    IntVector q0 = ByteVector.fromMemorySegment(BQ, w, blk + 64 * h + k, Vec.LE).reinterpretAsInts();
                    IntVector q1 = ByteVector.fromMemorySegment(BQ, w, blk + 64 * h + 32 + k, Vec.LE).reinterpretAsInts();
                    int at = QK * (b - b0) + 128 * h + k;
                    minus32(q0.and(LOW).or(qh.lanewise(VectorOperators.LSHL, 4).and(HIGH)), dst, at);
                    minus32(q1.and(LOW).or(qh.lanewise(VectorOperators.LSHL, 2).and(HIGH)), dst, at + 32);
                    minus32(q0.lanewise(VectorOperators.LSHR, 4).and(LOW).or(qh.and(HIGH)), dst, at + 64);
                    minus32(q1.lanewise(VectorOperators.LSHR, 4).and(LOW).or(qh.lanewise(VectorOperators.LSHR, 2).and(HIGH)),
                            dst, at + 96);
                }
            }
        }
    }

    private static final int LOW = 0x0F0F0F0F, HIGH = 0x30303030;

    /** The codes in {@code q}'s bytes, minus 32 byte by byte (an int subtract would borrow across bytes). */
    private static void minus32(IntVector q, byte[] dst, int at) {
        q.reinterpretAsBytes().sub((byte) 32).intoArray(dst, at);
    }

    /** Σ over the row of code·x·scale: per 16-weight sub-block its codes times x, then times its scale. */
    private static float dot(byte[] c, float[] sc, float[] xf, int xi, int cols) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        for (int g = 0; g < cols; g += 32) {
            s0 = sub16(c, g, xf, xi + g).fma(FloatVector.broadcast(F, sc[g >> 4]), s0);
            s1 = sub16(c, g + 16, xf, xi + g + 16).fma(FloatVector.broadcast(F, sc[(g >> 4) + 1]), s1);
        }
        return Vec.sum(s0.add(s1));
    }

    /**
     * {@link #dot} for two tokens ({@code xf[xi..]} and {@code cols} further), each code vector converted
     * once for both, into {@code res[0..1]} (called twice, {@link #dot} was compiled once per call site
     * and past C2's node count cutoff boxed the sums: 64 bytes a row).
     */
    private static void dot2(byte[] c, float[] sc, float[] xf, int xi, int cols, float[] res) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        int x1 = xi + cols;
        for (int g = 0; g < cols; g += 16) {
            FloatVector f = Vec.b2f(ByteVector.fromArray(Vec.BL, c, g), 0);
            FloatVector p0 = f.mul(FloatVector.fromArray(F, xf, xi + g)), p1 = f.mul(FloatVector.fromArray(F, xf, x1 + g));
            for (int i = N; i < 16; i += N) {
                f = Vec.b2f(ByteVector.fromArray(Vec.BL, c, g + i), 0);
                p0 = f.fma(FloatVector.fromArray(F, xf, xi + g + i), p0);
                p1 = f.fma(FloatVector.fromArray(F, xf, x1 + g + i), p1);
            }
            FloatVector d = FloatVector.broadcast(F, sc[g >> 4]);
            s0 = p0.fma(d, s0);
            s1 = p1.fma(d, s1);
        }
        float r0 = Vec.sum(s0, res, 0), r1 = Vec.sum(s1, res, 0);
        res[0] = r0;
        res[1] = r1;
    }

    /** The 16 codes at {@code c[at..]} times the activations at {@code xf[xq..]}, as one vector of partial sums. */
    private static FloatVector sub16(byte[] c, int at, float[] xf, int xq) {
        FloatVector p = Vec.b2f(ByteVector.fromArray(Vec.BL, c, at), 0).mul(FloatVector.fromArray(F, xf, xq));
        for (int i = N; i < 16; i += N) {
            p = Vec.b2f(ByteVector.fromArray(Vec.BL, c, at + i), 0).fma(FloatVector.fromArray(F, xf, xq + i), p);
        }
        return p;
    }

    /**
     * Prompt tiles: per N-weight chunk of a half, the high bits once, then the four quarters in a loop
     * (the one-row decoder's form before {@link #codes}). Decoding the tile through {@link #codes} was
     * inlined into the tile loop, passed C2's node count cutoff and boxed vectors: 15-17 against 18-21
     * GFLOP/s at 8 tokens. An earlier form, four writes through a helper taking the code vector, was
     * not inlined and boxed every vector (262 MB allocated per 32000 × 2048 product).
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
