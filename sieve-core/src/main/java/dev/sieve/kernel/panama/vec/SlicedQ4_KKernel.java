package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q4_KSlicedEncoding;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * {@link Q4_KSlicedEncoding} (Q4_K_R with 16 rows interleaved): 16 rows at once, one row per lane.
 * Each 32-column sub-block is placed as a Q4_0_R16 block, so decode (fewer than {@link #INT16_TOKENS}
 * tokens) multiplies it in 16-bit lanes as {@link SlicedQ4_0Kernel} does, against the same column
 * patterns, two slices a pass; per sub-block the int sums are scaled per row by d·sc (sc one 16-byte
 * load for the 16 rows) and the mins are one FMA of dmin·m with the sub-block's Σx. Prompts decode
 * each 256-column block of one or two slices to floats once and multiply it by every token ({@link
 * #decoded}). Below 16 lanes (the loader makes this layout at 512 bits only) rows are decoded one at a
 * time into {@link FloatPathKernel}'s tiles by the encoding's reference.
 */
final class SlicedQ4_KKernel extends SlicedKernel {
    private static final int QK = 32;
    private static final int HALF = QK / 2;
    private static final int QKK = 256;
    static final int INT16_TOKENS = 4;
    /** Bytes of one 256-column block of a slice. */
    private static final long HEAD = Q4_KSlicedEncoding.HEAD;
    private static final long BODY = Q4_KSlicedEncoding.BODY;
    private static final long SUB = Q4_KSlicedEncoding.SUB;
    private static final long NIBBLES = Q4_KSlicedEncoding.NIBBLES;
    private static final long PB = SlicedQ4_0Kernel.PB;

    SlicedQ4_KKernel() {
        super(Q4_KSlicedEncoding.INSTANCE);
    }

    @Override
    boolean int16Path(Activations x) {
        return LANE_PER_ROW && x.tokens() < INT16_TOKENS;
    }

    @Override
    public void prepare(Tensor w, Activations x) {
        prepareDecodedRows(w, x);
    }

    @Override
    void prepareInt16(Activations x) {
        SlicedQ4_0Kernel.nibblePatterns(this, x);
    }

    /**
     * Two slices a pass ({@link #slice16}); a last single slice, or one a thread's range starts or ends
     * inside, goes through the same kernel given twice, its rows kept from the first half.
     */
    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens(), units = cols / QK, blocks = cols / QKK, n = tokens * cols;
        MemorySegment ws = w.data(), a = x.encoded();
        long rb = w.rowBytes(), patterns = (4L * n + 63) & ~63L, scales = patterns + SlicedQ4_0Kernel.int16Scales(tokens, cols);
        PairScratch s = PAIR_SCRATCH.get();
        float[] heads = s.heads(4 * ROWS * blocks);
        for (int r = r0 - r0 % ROWS; r < r1; r += ROWS) {
            long base = SlicedEncoding.sliceOffset(rb, r);
            boolean two = r >= r0 && r + 2 * ROWS <= r1;
            long base1 = two ? base + ROWS * rb : base;
            for (int b = 0; b < blocks; b++) { // each block's d and dmin as floats, the two slices side by side
                long h = Q4_KSlicedEncoding.headAt(base, b), h1 = Q4_KSlicedEncoding.headAt(base1, b); // the slices' heads lead them
                Vec.f16(ws, h, heads, 4 * ROWS * b);
                Vec.f16(ws, h + 2 * ROWS, heads, 4 * ROWS * b + ROWS);
                Vec.f16(ws, h1, heads, 4 * ROWS * b + 2 * ROWS);
                Vec.f16(ws, h1 + 2 * ROWS, heads, 4 * ROWS * b + 3 * ROWS);
            }
            for (int t = 0; t < tokens; t++) { // the slices stay in L1 for the next token
                long at = patterns + PB * units * t, so = scales + 8L * units * t;
                if (two) {
                    slice16(ws, base, base1, a, at, so, units, heads, out, t * outStride + r);
                } else {
                    slice16(ws, base, base1, a, at, so, units, heads, s.pair, 0);
                    keepOwnRows(s.pair, out, t * outStride, r, r0, r1);
                }
            }
            if (two) {
                r += ROWS;
            }
        }
    }

    /**
     * The slices at {@code base} and {@code base1} times one token in 16-bit lanes, into {@code dst[d..d +
     * 32)}: a flat loop over the sub-blocks in memory order, each multiplied as {@link SlicedQ4_0Kernel}'s
     * {@code sliceInt16} multiplies a block (its levels at {@code a[ao + 64·j..]}, its d_x and 8·Σx at
     * {@code a[so + 8·j..]}); per sub-block the rows' d·sc ({@code heads}: per block the first slice's d
     * and dmin, then the second's) times d_x scales the int sums, and the mins are dmin·m/8 times 8·Σx,
     * one FMA. The steps are written out (a helper returning vectors, not inlined, boxes them).
     */
    private static void slice16(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int units,
            float[] heads, float[] dst, int d) {
        FloatVector acc = FloatVector.zero(F), corr = acc, acc1 = acc, corr1 = acc;
        for (int j = 0; j < units; j++) {
            long in = HEAD * (units >> 3) + BODY * (j >> 3) + SUB * (j & 7), o = base + in, o1 = base1 + in;
            long q = o + NIBBLES, q1 = o1 + NIBBLES, p = ao + PB * j;
            ShortVector levels = ShortVector.fromMemorySegment(S32, a, p, Vec.LE);
            ShortVector lo = levels.rearrange(SlicedQ4_0Kernel.LOW_COLUMNS[0]);
            ShortVector hi = levels.rearrange(SlicedQ4_0Kernel.HIGH_COLUMNS[0]);
            ShortVector u = ShortVector.fromMemorySegment(S32, w, q, Vec.LE);
            ShortVector v = ShortVector.fromMemorySegment(S32, w, q1, Vec.LE);
            ShortVector e = u.and((short) 0xFF), od = u.lanewise(VectorOperators.LSHR, BY8);
            ShortVector e1 = v.and((short) 0xFF), od1 = v.lanewise(VectorOperators.LSHR, BY8);
            ShortVector se = e.mul(lo).add(e.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            ShortVector sd = od.mul(lo).add(od.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            ShortVector te = e1.mul(lo).add(e1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            ShortVector td = od1.mul(lo).add(od1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            lo = levels.rearrange(SlicedQ4_0Kernel.LOW_COLUMNS[1]);
            hi = levels.rearrange(SlicedQ4_0Kernel.HIGH_COLUMNS[1]);
            u = ShortVector.fromMemorySegment(S32, w, q + 64, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 64, Vec.LE);
            e = u.and((short) 0xFF);
            od = u.lanewise(VectorOperators.LSHR, BY8);
            e1 = v.and((short) 0xFF);
            od1 = v.lanewise(VectorOperators.LSHR, BY8);
            se = se.add(e.mul(lo)).add(e.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            sd = sd.add(od.mul(lo)).add(od.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            te = te.add(e1.mul(lo)).add(e1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            td = td.add(od1.mul(lo)).add(od1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            lo = levels.rearrange(SlicedQ4_0Kernel.LOW_COLUMNS[2]);
            hi = levels.rearrange(SlicedQ4_0Kernel.HIGH_COLUMNS[2]);
            u = ShortVector.fromMemorySegment(S32, w, q + 128, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 128, Vec.LE);
            e = u.and((short) 0xFF);
            od = u.lanewise(VectorOperators.LSHR, BY8);
            e1 = v.and((short) 0xFF);
            od1 = v.lanewise(VectorOperators.LSHR, BY8);
            se = se.add(e.mul(lo)).add(e.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            sd = sd.add(od.mul(lo)).add(od.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            te = te.add(e1.mul(lo)).add(e1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            td = td.add(od1.mul(lo)).add(od1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            lo = levels.rearrange(SlicedQ4_0Kernel.LOW_COLUMNS[3]);
            hi = levels.rearrange(SlicedQ4_0Kernel.HIGH_COLUMNS[3]);
            u = ShortVector.fromMemorySegment(S32, w, q + 192, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 192, Vec.LE);
            e = u.and((short) 0xFF);
            od = u.lanewise(VectorOperators.LSHR, BY8);
            e1 = v.and((short) 0xFF);
            od1 = v.lanewise(VectorOperators.LSHR, BY8);
            se = se.add(e.mul(lo)).add(e.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            sd = sd.add(od.mul(lo)).add(od.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            te = te.add(e1.mul(lo)).add(e1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            td = td.add(od1.mul(lo)).add(od1.lanewise(VectorOperators.LSHR, BY4).mul(hi));
            // Rows in order, as SlicedQ4_0Kernel's sliceInt16 folds them (ROW_A, ROW_B: the same 16-bit bound).
            IntVector f = SlicedQ4_0Kernel.ROW_A.selectFrom(se, sd).add(SlicedQ4_0Kernel.ROW_B.selectFrom(se, sd)).reinterpretAsInts();
            IntVector f1 = SlicedQ4_0Kernel.ROW_A.selectFrom(te, td).add(SlicedQ4_0Kernel.ROW_B.selectFrom(te, td)).reinterpretAsInts();
            f = f.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(f.lanewise(VectorOperators.ASHR, 16));
            f1 = f1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(f1.lanewise(VectorOperators.ASHR, 16));
            int h = 4 * ROWS * (j >> 3);
            float dx = a.get(Half.FLOAT_LE, so + 8L * j), sx = a.get(Half.FLOAT_LE, so + 8L * j + 4) * 0.125f;
            FloatVector sc = (FloatVector) ByteVector.fromMemorySegment(Vec.BL, w, o, Vec.LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector m = (FloatVector) ByteVector.fromMemorySegment(Vec.BL, w, o + ROWS, Vec.LE).convertShape(VectorOperators.B2F, F, 0);
            corr = FloatVector.fromArray(F, heads, h + ROWS).mul(m).fma(FloatVector.broadcast(F, sx), corr);
            acc = ((FloatVector) f.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, heads, h).mul(sc).mul(dx), acc);
            sc = (FloatVector) ByteVector.fromMemorySegment(Vec.BL, w, o1, Vec.LE).convertShape(VectorOperators.B2F, F, 0);
            m = (FloatVector) ByteVector.fromMemorySegment(Vec.BL, w, o1 + ROWS, Vec.LE).convertShape(VectorOperators.B2F, F, 0);
            corr1 = FloatVector.fromArray(F, heads, h + 3 * ROWS).mul(m).fma(FloatVector.broadcast(F, sx), corr1);
            acc1 = ((FloatVector) f1.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, heads, h + 2 * ROWS).mul(sc).mul(dx), acc1);
        }
        acc.sub(corr).intoArray(dst, d);
        acc1.sub(corr1).intoArray(dst, d + ROWS);
    }

    /** Prompts through {@link #decodedRows}. */
    @Override
    void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        decodedRows(ws, rb, x, out, outStride, r0, r1);
    }

    /** Q4_K_R's dl·q − ml per sub-block (dl = d·sc, ml = dmin·m), rounded as its reference decoder rounds. */
    @Override
    void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride) {
        float[] heads = PAIR_SCRATCH.get().heads(2 * ROWS);
        for (int b = 0; b < blocks; b++) {
            long o = Q4_KSlicedEncoding.headAt(base, block0 + b), body = Q4_KSlicedEncoding.bodyAt(base, rowBlocks, block0 + b);
            Vec.f16(w, o, heads, 0);
            Vec.f16(w, o + 2 * ROWS, heads, ROWS);
            FloatVector dd = FloatVector.fromArray(F, heads, 0), dm = FloatVector.fromArray(F, heads, ROWS);
            for (int j = 0; j < 8; j++) {
                long sub = body + SUB * j;
                FloatVector dl = dd.mul((FloatVector) ByteVector.fromMemorySegment(Vec.BL, w, sub, Vec.LE)
                        .convertShape(VectorOperators.B2F, F, 0));
                FloatVector ml = dm.mul((FloatVector) ByteVector.fromMemorySegment(Vec.BL, w, sub + ROWS, Vec.LE)
                        .convertShape(VectorOperators.B2F, F, 0));
                int c0 = at + stride * (QKK * b + QK * j);
                for (int c = 0; c < HALF; c++) { // no helper calls: one not inlined boxes what it returns
                    IntVector v = (IntVector) ByteVector.fromMemorySegment(Vec.BL, w, sub + NIBBLES + ROWS * c, Vec.LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, Vec.I, 0);
                    ((FloatVector) v.and(0x0F).convert(VectorOperators.I2F, 0)).mul(dl).sub(ml).intoArray(dec, c0 + stride * c);
                    ((FloatVector) v.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).mul(dl).sub(ml)
                            .intoArray(dec, c0 + stride * (c + HALF));
                }
            }
        }
    }
}
