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
 * {@link SlicedBitmapEncoding} (bitmap Q8 or Q4 with 16 rows interleaved): per step one VPEXPANDB (Q4: one
 * per half of the rows, {@link #slice16Q4}) puts the step's stored values at their places in Q8_0_R16's 64 bytes for the same four columns, and the step
 * is multiplied as {@link SlicedQ8_0Kernel} multiplies its own (low bytes by two shifts times the even
 * columns' activation levels, high bytes by one shift times the odd columns', widened into the rows' int
 * sums), two slices a pass, against the same 16-bit activation patterns; per 32 columns the sums are
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
    private static final long LOW_ROWS = SlicedBitmapEncoding.LOW_ROWS;
    /** Q4: per lane, the shifts that bring its row's nibble of the low byte (then of the high byte) to the top: rows 0–7 hold low nibbles, rows 8–15 high ones. */
    private static final ShortVector LOW_NIBBLE = nibbleShifts(12, 8), HIGH_NIBBLE = nibbleShifts(4, 0);
    private static final ShortVector BY12 = LANE_PER_ROW ? ShortVector.broadcast(S32, (short) 12) : null;

    private static ShortVector nibbleShifts(int lowRows, int highRows) {
        if (!LANE_PER_ROW) {
            return null;
        }
        short[] k = new short[2 * ROWS];
        for (int lane = 0; lane < k.length; lane++) {
            k[lane] = (short) (lane % ROWS < 8 ? lowRows : highRows);
        }
        return ShortVector.fromArray(S32, k, 0);
    }

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
     * {@code dst[d..d + 32)}. Per 32 columns (eight steps) the int sums; the running float sums live in
     * {@code dst}, as in {@link SlicedQ8_0Kernel}'s kernel (a vector live across the step loop would be
     * boxed). The two slices' tile scales, which trail each slice in one run, are converted first
     * ({@link #pairScales}; written out per 32 columns the conversion was ten vector
     * operations a slice; decode-shaped harness, 22 layers of the 1.1B matrices, Q8_B128 16.9-19.0
     * against 13.8-18.0 passes/s, Q4_B128 13.2-14.6 against 12.9-13.1; session 35).
     */
    private void slice16(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int nb, float[] dst, int d) {
        FloatVector.zero(F).intoArray(dst, d);
        FloatVector.zero(F).intoArray(dst, d + ROWS);
        long o = base, o1 = base1;
        int half = 4 * ROWS * nb;
        float[] scf = pairScales(w, base + layout.scalesAt(nb, 0), base1 + layout.scalesAt(nb, 0), half);
        for (int b = 0; b < nb; b++, o += body, o1 += body) {
            long v = o + MASKS, v1 = o1 + MASKS; // the masks lead the block's values
            for (int h = 0; h < 8; h++) {
                long p = ao + PB * (8 * b + h), mo = o + 64L * h, mo1 = o1 + 64L * h;
                IntVector sum = IntVector.zero(Vec.I), sum1 = sum;
                for (int i = 0; i < 8; i++) {
                    ShortVector even = ShortVector.fromMemorySegment(S32, a, p + 128L * i, Vec.LE);
                    ShortVector odd = ShortVector.fromMemorySegment(S32, a, p + 128L * i + 64, Vec.LE);
                    long m = w.get(LONG_LE, mo + 8L * i), m1 = w.get(LONG_LE, mo1 + 8L * i);
                    ShortVector u = ByteVector.fromMemorySegment(B64, w, v, Vec.LE).expand(VectorMask.fromLong(B64, m)).reinterpretAsShorts();
                    ShortVector u1 = ByteVector.fromMemorySegment(B64, w, v1, Vec.LE).expand(VectorMask.fromLong(B64, m1)).reinterpretAsShorts();
                    v += Long.bitCount(m);
                    v1 += Long.bitCount(m1);
                    ShortVector s = u.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)
                            .add(u.lanewise(VectorOperators.ASHR, BY8).mul(odd));
                    ShortVector s1 = u1.lanewise(VectorOperators.LSHL, BY8).lanewise(VectorOperators.ASHR, BY8).mul(even)
                            .add(u1.lanewise(VectorOperators.ASHR, BY8).mul(odd));
                    sum = sum.add((IntVector) s.convertShape(VectorOperators.S2I, Vec.I, 0))
                            .add((IntVector) s.convertShape(VectorOperators.S2I, Vec.I, 1));
                    sum1 = sum1.add((IntVector) s1.convertShape(VectorOperators.S2I, Vec.I, 0))
                            .add((IntVector) s1.convertShape(VectorOperators.S2I, Vec.I, 1));
                }
                float dx = a.get(Half.FLOAT_LE, so + 4L * (8 * b + h));
                int ti = ROWS * (4 * b + h / 2);
                ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, scf, ti).mul(dx), FloatVector.fromArray(F, dst, d)).intoArray(dst, d);
                ((FloatVector) sum1.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, scf, half + ti).mul(dx), FloatVector.fromArray(F, dst, d + ROWS)).intoArray(dst, d + ROWS);
            }
        }
    }

    /**
     * {@link #slice16} for Q4 values: per step rows 0–7's values from their stream and rows 8–15's from
     * theirs, each expanded by its rows' mask bits and joined by an OR; each lane's level is its row's
     * nibble of each byte, brought to the top and back by per-lane shift counts. The four streams' places
     * and masks spill from the general registers every step; one slice a pass (no spills, but two pattern
     * loads per weight load) was slower from memory (5632 × 2048: 1.8–2.24 ms against 1.66–2.0): not kept.
     * Its frame repeats {@link #slice16}'s on purpose: the two differ inside each step, a step helper is a
     * call C2 does not inline there (and a call spills the live vectors), and one method branching per
     * step would hold both passes' loops.
     */
    private void slice16Q4(MemorySegment w, long base, long base1, MemorySegment a, long ao, long so, int nb, float[] dst, int d) {
        FloatVector.zero(F).intoArray(dst, d);
        FloatVector.zero(F).intoArray(dst, d + ROWS);
        long o = base, o1 = base1;
        int half = 4 * ROWS * nb;
        float[] scf = pairScales(w, base + layout.scalesAt(nb, 0), base1 + layout.scalesAt(nb, 0), half);
        for (int b = 0; b < nb; b++, o += body, o1 += body) {
            long v = o + MASKS, v1 = o1 + MASKS, w0 = v, w1 = v1; // each half's stream: rows 0-7 (v), rows 8-15 (w)
            for (int h = 0; h < 8; h++) {
                long p = ao + PB * (8 * b + h), mo = o + 64L * h, mo1 = o1 + 64L * h;
                IntVector sum = IntVector.zero(Vec.I), sum1 = sum;
                for (int i = 0; i < 8; i++) {
                    ShortVector even = ShortVector.fromMemorySegment(S32, a, p + 128L * i, Vec.LE);
                    ShortVector odd = ShortVector.fromMemorySegment(S32, a, p + 128L * i + 64, Vec.LE);
                    long m = w.get(LONG_LE, mo + 8L * i), m1 = w.get(LONG_LE, mo1 + 8L * i);
                    long lo = m & LOW_ROWS, hi = m & ~LOW_ROWS, lo1 = m1 & LOW_ROWS, hi1 = m1 & ~LOW_ROWS;
                    ShortVector u = ByteVector.fromMemorySegment(B64, w, v, Vec.LE).expand(VectorMask.fromLong(B64, lo))
                            .or(ByteVector.fromMemorySegment(B64, w, w0, Vec.LE).expand(VectorMask.fromLong(B64, hi))).reinterpretAsShorts();
                    ShortVector u1 = ByteVector.fromMemorySegment(B64, w, v1, Vec.LE).expand(VectorMask.fromLong(B64, lo1))
                            .or(ByteVector.fromMemorySegment(B64, w, w1, Vec.LE).expand(VectorMask.fromLong(B64, hi1))).reinterpretAsShorts();
                    v += Long.bitCount(lo);
                    w0 += Long.bitCount(hi);
                    v1 += Long.bitCount(lo1);
                    w1 += Long.bitCount(hi1);
                    ShortVector s = u.lanewise(VectorOperators.LSHL, LOW_NIBBLE).lanewise(VectorOperators.ASHR, BY12).mul(even)
                            .add(u.lanewise(VectorOperators.LSHL, HIGH_NIBBLE).lanewise(VectorOperators.ASHR, BY12).mul(odd));
                    ShortVector s1 = u1.lanewise(VectorOperators.LSHL, LOW_NIBBLE).lanewise(VectorOperators.ASHR, BY12).mul(even)
                            .add(u1.lanewise(VectorOperators.LSHL, HIGH_NIBBLE).lanewise(VectorOperators.ASHR, BY12).mul(odd));
                    sum = sum.add((IntVector) s.convertShape(VectorOperators.S2I, Vec.I, 0))
                            .add((IntVector) s.convertShape(VectorOperators.S2I, Vec.I, 1));
                    sum1 = sum1.add((IntVector) s1.convertShape(VectorOperators.S2I, Vec.I, 0))
                            .add((IntVector) s1.convertShape(VectorOperators.S2I, Vec.I, 1));
                }
                float dx = a.get(Half.FLOAT_LE, so + 4L * (8 * b + h));
                int ti = ROWS * (4 * b + h / 2);
                ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, scf, ti).mul(dx), FloatVector.fromArray(F, dst, d)).intoArray(dst, d);
                ((FloatVector) sum1.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, scf, half + ti).mul(dx), FloatVector.fromArray(F, dst, d + ROWS)).intoArray(dst, d + ROWS);
            }
        }
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
            long o = base + layout.bodyAt(block0 + j), v = o + MASKS, v2 = v;
            for (int t = 0; t < 4; t++) {
                Vec.f16(w, base + layout.scalesAt(rowBlocks, block0 + j) + 32L * t, d, ROWS * t);
            }
            for (int s = 0; s < STEPS; s++) {
                long m = w.get(LONG_LE, o + 8L * s);
                FloatVector dw = FloatVector.fromArray(F, d, ROWS * (s / 16));
                int c = at + stride * (dev.sieve.core.quant.SparseEncoding.BITMAP_BLOCK * j + 4 * s);
                if (q4) { // each half's stream, each lane's nibbles as levels: the even columns', then the odd ones'
                    long lo = m & LOW_ROWS, hi = m & ~LOW_ROWS;
                    ShortVector u = ByteVector.fromMemorySegment(B64, w, v, Vec.LE).expand(VectorMask.fromLong(B64, lo))
                            .or(ByteVector.fromMemorySegment(B64, w, v2, Vec.LE).expand(VectorMask.fromLong(B64, hi))).reinterpretAsShorts();
                    v += Long.bitCount(lo);
                    v2 += Long.bitCount(hi);
                    ShortVector e = u.lanewise(VectorOperators.LSHL, LOW_NIBBLE).lanewise(VectorOperators.ASHR, BY12);
                    ShortVector od = u.lanewise(VectorOperators.LSHL, HIGH_NIBBLE).lanewise(VectorOperators.ASHR, BY12);
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
