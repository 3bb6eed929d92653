package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.SlicedBitmapEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link SlicedBitmapEncoding} (bitmap Q8 or Q4 with 16 rows interleaved): per step one VPEXPANDB (Q4: of
 * its nibbles spread to bytes first, {@link #slice16Q4}) puts the step's stored values at their places in Q8_0_R16's 64 bytes for the same four columns, and the step
 * is multiplied as {@link SlicedQ8_0Kernel} multiplies its own (low bytes by two shifts times the even
 * columns' activation levels, high bytes by one shift times the odd columns', widened into the even and
 * odd rows' int sums), two slices a pass, against the same 16-bit activation patterns; per 32 columns the sums are
 * scaled by the rows' tile scale times the activations' d. The row-layout kernel ({@link SparseKernel})
 * expands each row's tile into float lanes, so its work per weight is four times the lanes; here the work
 * per position is Q8_0_R16's plus the expansion, and the bytes are the bitmap's. Prompts decode each
 * block of two slices to floats once ({@link #decodeChunk}) and take the dense sliced kernel.
 */
final class SlicedBitmapKernel extends PairPatternKernel {
    private static final int QK = 32;
    private static final long PB = SlicedQ8_0Kernel.PB;
    private static final int STEPS = SlicedBitmapEncoding.STEPS;
    private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_512;
    private static final ValueLayout.OfLong LONG_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private static final int MASKS = SlicedBitmapEncoding.MASKS;
    /** Q4: a step's value bytes, zero-extended to shorts before the expansion. */
    private static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    private static final ShortVector BY12 = LANE_PER_ROW ? ShortVector.broadcast(S32, (short) 12) : null;

    private final SlicedBitmapEncoding layout;
    private final boolean q4;
    /** Bytes of a block's masks and values (16 rows). */
    private final long body;

    SlicedBitmapKernel(SlicedBitmapEncoding e) {
        super(e);
        this.layout = e;
        this.q4 = e.q4();
        this.body = e.bodyBytes();
        this.pass = q4 ? this::slice16Q4 : this::slice16;
    }

    /** Two slices a pass ({@link #slice16}, {@link #slicePairs}); rows of 256-column blocks. */
    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), n = x.tokens() * cols, blocks = cols / QK;
        long patterns = SlicedQ8_0Kernel.patternsOffset(n);
        slicePairs(w, x, out, outStride, r0, r1, patterns, PB * blocks, patterns + PB * (n / QK), 4L * blocks,
                cols / dev.sieve.core.quant.SparseEncoding.BITMAP_BLOCK, pass);
    }

    /** This layout's one-token pass: {@link #slice16} (Q8) or {@link #slice16Q4}. */
    private final PairPass pass;

    /**
     * The slices at {@code base} and {@code base1} ({@code nb} blocks of 256 columns) times one token, into
     * {@code dst[d..d + 32)}. Per 32 columns (eight steps) the even and odd rows' int sums, widened by
     * shifts of the int view as {@link SlicedQ8_0Kernel}'s kernel does, scaled onto four running float
     * sums held in registers (decode-shaped harness, 22 layers, 2 threads: Q8_B128 0.89, Q8_B77 0.88 of the
     * start build's time; session 37), the rows joined once per call. The two slices' tile scales, which trail each slice in one run, are converted first
     * ({@link #pairScales}; written out per 32 columns the conversion was ten vector
     * operations a slice; decode-shaped harness, 22 layers of the 1.1B matrices, Q8_B128 16.9-19.0
     * against 13.8-18.0 passes/s, Q4_B128 13.2-14.6 against 12.9-13.1; session 35).
     */
    private void slice16(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int nb, float[] dst, int d) {
        long o = base, o1 = base1;
        int half = 4 * ROWS * nb;
        float[] scf = pairScales(w, base + layout.scalesAt(nb, 0), base1 + layout.scalesAt(nb, 0), half);
        FloatVector fe = FloatVector.zero(F), fo = fe, ge = fe, go = fe;
        for (int b = 0; b < nb; b++, o += body, o1 += body) {
            long v = o + MASKS, v1 = o1 + MASKS; // the masks lead the block's values
            for (int h = 0; h < 8; h++) {
                long p = ao + PB * (8 * b + h), mo = o + 64L * h, mo1 = o1 + 64L * h;
                IntVector e = IntVector.zero(Vec.I), od = e, e1 = e, od1 = e;
                ShortVector levels = ShortVector.fromMemorySegment(S32, a, p, Vec.LE);
                for (int i = 0; i < 8; i++) {
                    ShortVector even = levels.rearrange(SlicedQ8_0Kernel.EVEN[i]);
                    ShortVector odd = levels.rearrange(SlicedQ8_0Kernel.ODD[i]);
                    long m = w.get(LONG_LE, mo + 8L * i), m1 = w.get(LONG_LE, mo1 + 8L * i);
                    ShortVector u = ByteVector.fromMemorySegment(B64, w, v, Vec.LE).expand(VectorMask.fromLong(B64, m)).reinterpretAsShorts();
                    ShortVector u1 = ByteVector.fromMemorySegment(B64, w, v1, Vec.LE).expand(VectorMask.fromLong(B64, m1)).reinterpretAsShorts();
                    v += Long.bitCount(m);
                    v1 += Long.bitCount(m1);
                    IntVector s = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)
                            .add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd)).reinterpretAsInts();
                    IntVector s1 = u1.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)
                            .add(u1.lanewise(VectorOperators.ASHR, BY8).mul(odd)).reinterpretAsInts();
                    e = e.add(s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    od = od.add(s.lanewise(VectorOperators.ASHR, 16));
                    e1 = e1.add(s1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                    od1 = od1.add(s1.lanewise(VectorOperators.ASHR, 16));
                }
                float dx = a.get(Half.FLOAT_LE, so + 4L * (8 * b + h));
                int ti = ROWS * (4 * b + h / 2);
                FloatVector dw = FloatVector.fromArray(F, scf, ti).mul(dx), dv = FloatVector.fromArray(F, scf, half + ti).mul(dx);
                fe = ((FloatVector) e.convert(VectorOperators.I2F, 0)).fma(dw.rearrange(SlicedQ4_0Kernel.EVEN_ROWS), fe);
                fo = ((FloatVector) od.convert(VectorOperators.I2F, 0)).fma(dw.rearrange(SlicedQ4_0Kernel.ODD_ROWS), fo);
                ge = ((FloatVector) e1.convert(VectorOperators.I2F, 0)).fma(dv.rearrange(SlicedQ4_0Kernel.EVEN_ROWS), ge);
                go = ((FloatVector) od1.convert(VectorOperators.I2F, 0)).fma(dv.rearrange(SlicedQ4_0Kernel.ODD_ROWS), go);
            }
        }
        float[] sums = PAIR_SCRATCH.get().sums;
        fe.intoArray(sums, 0);
        fo.intoArray(sums, ROWS);
        ge.intoArray(sums, 2 * ROWS);
        go.intoArray(sums, 3 * ROWS);
        joinRows(sums, dst, d);
    }

    /**
     * {@link #slice16} for Q4 values: per step the run of value bytes ({@link SlicedBitmapEncoding}: the
     * step's nibbles in its mask's order, from a whole byte) zero-extended to shorts and ORed with
     * itself shifted up four, so that byte 2k's low nibble is value 2k and byte 2k + 1's value 2k + 1;
     * one expansion by the mask puts them at their places, and each lane's two levels are its low and
     * high byte's low nibble, sign-extended by shifts ({@code u << 12 >> 12}, {@code u << 4 >> 12}). The
     * products add up in 16 bits over the eight steps of 32 columns, and the two column pairs fold into
     * one vector of both slices' rows ({@link SlicedKernel#FOLD_A}), which widens once (per lane and
     * step |level · x| ≤ 2 · 8 · 127, so eight steps and the fold stay within 16 bits). Against the
     * layout of two nibble streams (rows 0–7 and 8–15, two expansions and an OR a step, four stream
     * places spilling from the general registers), decode-shaped harness: docs/performance.md, session
     * 37. Its frame repeats {@link #slice16}'s on purpose: the two differ inside each step, a step helper is a
     * call C2 does not inline there (and a call spills the live vectors), and one method branching per
     * step would hold both passes' loops.
     */
    private void slice16Q4(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int nb, float[] dst, int d) {
        long o = base, o1 = base1;
        int half = 4 * ROWS * nb;
        float[] scf = pairScales(w, base + layout.scalesAt(nb, 0), base1 + layout.scalesAt(nb, 0), half);
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int b = 0; b < nb; b++, o += body, o1 += body) {
            long v = o + MASKS, v1 = o1 + MASKS; // the masks lead the block's values
            for (int h = 0; h < 8; h++) {
                long p = ao + PB * (8 * b + h), mo = o + 64L * h, mo1 = o1 + 64L * h;
                ShortVector s0 = ShortVector.zero(S32), s1 = s0;
                ShortVector levels = ShortVector.fromMemorySegment(S32, a, p, Vec.LE);
                for (int i = 0; i < 8; i++) {
                    ShortVector even = levels.rearrange(SlicedQ8_0Kernel.EVEN[i]);
                    ShortVector odd = levels.rearrange(SlicedQ8_0Kernel.ODD[i]);
                    long m = w.get(LONG_LE, mo + 8L * i), m1 = w.get(LONG_LE, mo1 + 8L * i);
                    ShortVector x = (ShortVector) ByteVector.fromMemorySegment(B32, w, v, Vec.LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S32, 0);
                    ShortVector x1 = (ShortVector) ByteVector.fromMemorySegment(B32, w, v1, Vec.LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S32, 0);
                    ShortVector u = x.or(x.lanewise(VectorOperators.LSHL, BY4)).reinterpretAsBytes().expand(VectorMask.fromLong(B64, m)).reinterpretAsShorts();
                    ShortVector u1 = x1.or(x1.lanewise(VectorOperators.LSHL, BY4)).reinterpretAsBytes().expand(VectorMask.fromLong(B64, m1)).reinterpretAsShorts();
                    v += (Long.bitCount(m) + 1) >> 1;
                    v1 += (Long.bitCount(m1) + 1) >> 1;
                    s0 = s0.add(u.lanewise(VectorOperators.LSHL, BY12).lanewise(VectorOperators.ASHR, BY12).mul(even))
                            .add(u.lanewise(VectorOperators.LSHL, BY4).lanewise(VectorOperators.ASHR, BY12).mul(odd));
                    s1 = s1.add(u1.lanewise(VectorOperators.LSHL, BY12).lanewise(VectorOperators.ASHR, BY12).mul(even))
                            .add(u1.lanewise(VectorOperators.LSHL, BY4).lanewise(VectorOperators.ASHR, BY12).mul(odd));
                }
                ShortVector f = FOLD_A.selectFrom(s0, s1).add(FOLD_B.selectFrom(s0, s1));
                float dx = a.get(Half.FLOAT_LE, so + 4L * (8 * b + h));
                int ti = ROWS * (4 * b + h / 2);
                acc0 = ((FloatVector) f.convertShape(VectorOperators.S2F, F, 0)).fma(FloatVector.fromArray(F, scf, ti).mul(dx), acc0);
                acc1 = ((FloatVector) f.convertShape(VectorOperators.S2F, F, 1)).fma(FloatVector.fromArray(F, scf, half + ti).mul(dx), acc1);
            }
        }
        acc0.intoArray(dst, d);
        acc1.intoArray(dst, d + ROWS);
    }

    /** Prompts through {@link #decodedRows}. */
    @Override
    void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        decodedRows(ws, rb, x, out, outStride, r0, r1);
    }

    /**
     * The weights as the reference decodes them: per step the stored values expanded to the step's 64
     * bytes, whose 32 shorts are the 16 rows' column pairs (4s, 4s + 1) then (4s + 2, 4s + 3), each byte
     * times its row's tile scale.
     */
    @Override
    void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride) {
        float[] d = TILE_SCALES.get();
        for (int j = 0; j < blocks; j++) {
            long o = base + layout.bodyAt(block0 + j), v = o + MASKS;
            for (int t = 0; t < 4; t++) {
                Vec.f16(w, base + layout.scalesAt(rowBlocks, block0 + j) + 32L * t, d, ROWS * t);
            }
            for (int s = 0; s < STEPS; s++) {
                long m = w.get(LONG_LE, o + 8L * s);
                FloatVector dw = FloatVector.fromArray(F, d, ROWS * (s / 16));
                int c = at + stride * (dev.sieve.core.quant.SparseEncoding.BITMAP_BLOCK * j + 4 * s);
                if (q4) { // each lane's nibbles as levels: the even columns', then the odd ones'
                    ShortVector x = (ShortVector) ByteVector.fromMemorySegment(B32, w, v, Vec.LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S32, 0);
                    ShortVector u = x.or(x.lanewise(VectorOperators.LSHL, BY4)).reinterpretAsBytes().expand(VectorMask.fromLong(B64, m)).reinterpretAsShorts();
                    v += (Long.bitCount(m) + 1) >> 1;
                    ShortVector e = u.lanewise(VectorOperators.LSHL, BY12).lanewise(VectorOperators.ASHR, BY12);
                    ShortVector od = u.lanewise(VectorOperators.LSHL, BY4).lanewise(VectorOperators.ASHR, BY12);
                    ((FloatVector) e.convertShape(VectorOperators.S2F, F, 0)).mul(dw).intoArray(dec, c);
                    ((FloatVector) od.convertShape(VectorOperators.S2F, F, 0)).mul(dw).intoArray(dec, c + stride);
                    ((FloatVector) e.convertShape(VectorOperators.S2F, F, 1)).mul(dw).intoArray(dec, c + 2 * stride);
                    ((FloatVector) od.convertShape(VectorOperators.S2F, F, 1)).mul(dw).intoArray(dec, c + 3 * stride);
                    continue;
                }
                ShortVector u = ByteVector.fromMemorySegment(B64, w, v, Vec.LE).expand(VectorMask.fromLong(B64, m)).reinterpretAsShorts();
                v += Long.bitCount(m);
                IntVector lo = (IntVector) u.convertShape(VectorOperators.S2I, Vec.I, 0);
                IntVector hi = (IntVector) u.convertShape(VectorOperators.S2I, Vec.I, 1);
                ((FloatVector) lo.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0))
                        .mul(dw).intoArray(dec, c);
                ((FloatVector) lo.lanewise(VectorOperators.ASHR, 8).convert(VectorOperators.I2F, 0)).mul(dw).intoArray(dec, c + stride);
                ((FloatVector) hi.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0))
                        .mul(dw).intoArray(dec, c + 2 * stride);
                ((FloatVector) hi.lanewise(VectorOperators.ASHR, 8).convert(VectorOperators.I2F, 0)).mul(dw).intoArray(dec, c + 3 * stride);
            }
        }
    }

    /** Per thread: a block's four tiles' scales of 16 rows, as floats. */
    private static final ThreadLocal<float[]> TILE_SCALES = ThreadLocal.withInitial(() -> new float[4 * ROWS]);
}
