package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q6_KSlicedEncoding;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Q6_KSlicedEncoding} (Q6_K's levels as signed bytes, 16 rows interleaved): 16 rows at once,
 * one row per lane. Below {@link #INT16_TOKENS} tokens each 16-column sub-block is four 64-byte loads
 * multiplied in 16-bit lanes exactly as {@link SlicedQ8_0Kernel} multiplies Q8_0_R16's (against the same
 * column patterns): a load's low bytes (sign-extended) times the even columns' activations plus its high
 * bytes times the odd ones'; four loads' sums stay in 16 bits (|q − 32| ≤ 32, so at most 8·32·127), are
 * widened into the rows' int sums and multiplied by the rows' sub-block scales (one 16-byte load), and
 * per 32 columns converted and scaled by the rows' d times the activations' d. Two slices a pass, each
 * step's patterns serving both (why: {@link SlicedQ4_0Kernel}'s {@code sliceInt16}). Larger batches decode
 * each block of one or two slices to floats once ({@link #decoded}).
 */
final class SlicedQ6_KKernel extends PairPatternKernel {
    private static final int QK = 32;
    private static final int QKK = 256;
    /** Bytes of one 256-column block of a slice. */
    private static final long SC = Q6_KSlicedEncoding.SC;
    private static final long CODES = Q6_KSlicedEncoding.CODES;
    private static final long PB = SlicedQ8_0Kernel.PB;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;

    SlicedQ6_KKernel() {
        super(Q6_KSlicedEncoding.INSTANCE);
    }




    /**
     * Two slices a pass ({@link #slice16}); a last single slice, or one a thread's range starts or ends
     * inside, goes through the same kernel given twice, its rows kept from the first half.
     */
    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens(), units = cols / QK, blocks = cols / QKK, n = tokens * cols;
        MemorySegment ws = w.data(), a = x.encoded();
        long rb = w.rowBytes(), patterns = SlicedQ8_0Kernel.patternsOffset(n), scales = patterns + PB * (n / QK);
        PairScratch s = PAIR_SCRATCH.get();
        float[] heads = s.heads(2 * ROWS * blocks);
        for (int r = r0 - r0 % ROWS; r < r1; r += ROWS) {
            long base = SlicedEncoding.sliceOffset(rb, r);
            boolean two = r >= r0 && r + 2 * ROWS <= r1;
            long base1 = two ? base + ROWS * rb : base;
            for (int b = 0; b < blocks; b++) { // each block's d as floats, the two slices side by side
                Vec.f16(ws, Q6_KSlicedEncoding.headAt(base, b), heads, 2 * ROWS * b); // the slices' heads lead them
                Vec.f16(ws, Q6_KSlicedEncoding.headAt(base1, b), heads, 2 * ROWS * b + ROWS);
            }
            for (int t = 0; t < tokens; t++) { // the slices stay in L1 for the next token
                long at = patterns + PB * units * t, so = scales + 4L * units * t;
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
     * The slices at {@code base} and {@code base1} times one token in 16-bit lanes (see the class
     * comment), into {@code dst[d..d + 32)}: per 32 columns j, levels at {@code a[ao + 64·j..]} (the steps' patterns permuted from them) and
     * d_x at {@code a[so + 4·j]}; {@code heads} holds each block's d of both slices. The eight 64-byte
     * steps of 32 columns are written out, so that the loop holds no loop and its running sums stay in
     * registers (as loops, the unit's two sub-blocks and four steps kept the sums in {@code dst}, a
     * vector live across an inner loop being boxed, and C2 moved the loops' addresses between general
     * and vector registers at every unit; docs/performance.md, session 36).
     */
    private static void slice16(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int units,
            float[] heads, float[] dst, int d) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int j = 0; j < units; j++) {
            long blk = Q6_KSlicedEncoding.blockAt(0, units >> 3, j >> 3), o = base + blk, o1 = base1 + blk, k0 = 32 * (j & 7);
            long q = o + CODES + 16 * k0, q1 = o1 + CODES + 16 * k0, p = ao + PB * j, sc = SC + ROWS * (2 * (j & 7));
            // Eight steps, alike but for their offsets, written out on purpose (see above): as a loop, or a
            // helper C2 does not inline here, the sums leave the registers.
            ShortVector levels = ShortVector.fromMemorySegment(S32, a, p, Vec.LE), even, odd, u, v, s, s1;
            even = levels.rearrange(SlicedQ8_0Kernel.EVEN[0]);
            odd = levels.rearrange(SlicedQ8_0Kernel.ODD[0]);
            u = ShortVector.fromMemorySegment(S32, w, q + 0, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 0, Vec.LE);
            s = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even).add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            s1 = v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even).add(v.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            even = levels.rearrange(SlicedQ8_0Kernel.EVEN[1]);
            odd = levels.rearrange(SlicedQ8_0Kernel.ODD[1]);
            u = ShortVector.fromMemorySegment(S32, w, q + 64, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 64, Vec.LE);
            s = s.add(u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            s1 = s1.add(v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(v.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            even = levels.rearrange(SlicedQ8_0Kernel.EVEN[2]);
            odd = levels.rearrange(SlicedQ8_0Kernel.ODD[2]);
            u = ShortVector.fromMemorySegment(S32, w, q + 128, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 128, Vec.LE);
            s = s.add(u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            s1 = s1.add(v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(v.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            even = levels.rearrange(SlicedQ8_0Kernel.EVEN[3]);
            odd = levels.rearrange(SlicedQ8_0Kernel.ODD[3]);
            u = ShortVector.fromMemorySegment(S32, w, q + 192, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 192, Vec.LE);
            s = s.add(u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            s1 = s1.add(v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(v.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            IntVector sum = ((IntVector) s.convertShape(VectorOperators.S2I, Vec.I, 0)).add((IntVector) s.convertShape(VectorOperators.S2I, Vec.I, 1))
                    .mul((IntVector) ByteVector.fromMemorySegment(Vec.BL, w, o + sc + 0, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0));
            IntVector sum1 = ((IntVector) s1.convertShape(VectorOperators.S2I, Vec.I, 0)).add((IntVector) s1.convertShape(VectorOperators.S2I, Vec.I, 1))
                    .mul((IntVector) ByteVector.fromMemorySegment(Vec.BL, w, o1 + sc + 0, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0));
            even = levels.rearrange(SlicedQ8_0Kernel.EVEN[4]);
            odd = levels.rearrange(SlicedQ8_0Kernel.ODD[4]);
            u = ShortVector.fromMemorySegment(S32, w, q + 256, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 256, Vec.LE);
            s = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even).add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            s1 = v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even).add(v.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            even = levels.rearrange(SlicedQ8_0Kernel.EVEN[5]);
            odd = levels.rearrange(SlicedQ8_0Kernel.ODD[5]);
            u = ShortVector.fromMemorySegment(S32, w, q + 320, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 320, Vec.LE);
            s = s.add(u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            s1 = s1.add(v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(v.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            even = levels.rearrange(SlicedQ8_0Kernel.EVEN[6]);
            odd = levels.rearrange(SlicedQ8_0Kernel.ODD[6]);
            u = ShortVector.fromMemorySegment(S32, w, q + 384, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 384, Vec.LE);
            s = s.add(u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            s1 = s1.add(v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(v.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            even = levels.rearrange(SlicedQ8_0Kernel.EVEN[7]);
            odd = levels.rearrange(SlicedQ8_0Kernel.ODD[7]);
            u = ShortVector.fromMemorySegment(S32, w, q + 448, Vec.LE);
            v = ShortVector.fromMemorySegment(S32, w, q1 + 448, Vec.LE);
            s = s.add(u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            s1 = s1.add(v.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)).add(v.lanewise(VectorOperators.ASHR, BY8).mul(odd));
            IntVector sum2 = ((IntVector) s.convertShape(VectorOperators.S2I, Vec.I, 0)).add((IntVector) s.convertShape(VectorOperators.S2I, Vec.I, 1))
                    .mul((IntVector) ByteVector.fromMemorySegment(Vec.BL, w, o + sc + 16, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0));
            IntVector sum3 = ((IntVector) s1.convertShape(VectorOperators.S2I, Vec.I, 0)).add((IntVector) s1.convertShape(VectorOperators.S2I, Vec.I, 1))
                    .mul((IntVector) ByteVector.fromMemorySegment(Vec.BL, w, o1 + sc + 16, Vec.LE).convertShape(VectorOperators.B2I, Vec.I, 0));
            float dx = a.get(Half.FLOAT_LE, so + 4L * j);
            int h = 2 * ROWS * (j >> 3);
            acc0 = ((FloatVector) sum.add(sum2).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, heads, h).mul(dx), acc0);
            acc1 = ((FloatVector) sum1.add(sum3).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, heads, h + ROWS).mul(dx), acc1);
        }
        acc0.intoArray(dst, d);
        acc1.intoArray(dst, d + ROWS);
    }

    /** Prompts through {@link #decodedRows}. */
    @Override
    void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        decodedRows(ws, rb, x, out, outStride, r0, r1);
    }

    /** Q6_K's (d·sc)·(q − 32), as its reference decodes it: each column pair's 32 bytes split into the two columns' 16 rows. */
    @Override
    void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride) {
        float[] heads = PAIR_SCRATCH.get().heads(ROWS);
        for (int b = 0; b < blocks; b++) {
            long o = Q6_KSlicedEncoding.blockAt(base, rowBlocks, block0 + b);
            Vec.f16(w, Q6_KSlicedEncoding.headAt(base, block0 + b), heads, 0);
            FloatVector dd = FloatVector.fromArray(F, heads, 0);
            int c0 = at + stride * QKK * b;
            for (int sub = 0; sub < QKK / 16; sub++) {
                FloatVector dl = dd.mul((FloatVector) ByteVector.fromMemorySegment(Vec.BL, w, o + SC + ROWS * sub, Vec.LE)
                        .convertShape(VectorOperators.B2F, F, 0));
                for (int pr = 8 * sub; pr < 8 * sub + 8; pr++) {
                    ShortVector u = ShortVector.fromMemorySegment(S16, w, o + CODES + 2L * ROWS * pr, Vec.LE);
                    ((FloatVector) u.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8)
                            .convertShape(VectorOperators.S2F, F, 0)).mul(dl).intoArray(dec, c0 + stride * 2 * pr);
                    ((FloatVector) u.lanewise(VectorOperators.ASHR, 8).convertShape(VectorOperators.S2F, F, 0)).mul(dl)
                            .intoArray(dec, c0 + stride * (2 * pr + 1));
                }
            }
        }
    }
}
