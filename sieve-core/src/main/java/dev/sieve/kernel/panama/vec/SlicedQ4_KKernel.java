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
 * Decode (fewer than {@link #INT16_TOKENS} tokens) multiplies each 32-column sub-block in 16-bit
 * lanes as {@link SlicedInt16Kernel} describes, scaled per row by d·sc (sc one 16-byte load for the
 * 16 rows), the mins one FMA of dmin·m with the sub-block's Σx. Prompts decode each 256-column block
 * of one or two slices to floats once and multiply it by every token ({@link #decoded}). Below 16
 * lanes (the loader makes this layout at 512 bits only) rows are decoded one at a time into {@link
 * FloatPathKernel}'s tiles by the encoding's reference.
 */
final class SlicedQ4_KKernel extends SlicedInt16Kernel {
    private static final int QKK = 256;
    /** Bytes of one 256-column block of a slice. */
    private static final long SBB = Q4_KSlicedEncoding.INSTANCE.sliceBlockBytes();
    private static final long HEAD = Q4_KSlicedEncoding.HEAD;
    private static final long SUB = Q4_KSlicedEncoding.SUB;
    private static final long NIBBLES = Q4_KSlicedEncoding.NIBBLES;

    SlicedQ4_KKernel() {
        super(Q4_KSlicedEncoding.INSTANCE);
    }

    /** At 16 lanes: {@link #prepareFloats}, transposed from eight tokens on; below four tokens the 16-bit patterns. */
    @Override
    public void prepare(Tensor w, Activations x) {
        if (!LANE_PER_ROW) {
            super.prepare(w, x);
        } else if (int16Path(x)) {
            prepareInt16(x);
        } else {
            prepareFloats(x, x.tokens() >= 8);
        }
    }

    /** The slice's d and dmin per block as floats first (16 + 16 per block, {@code s.scales}), then {@link #slice16}. */
    @Override
    void slice16(MemorySegment w, long base, MemorySegment a, long ao, long so, int cols, Scratch s, float[] dst, int d) {
        int blocks = cols / QKK;
        float[] heads = s.scales(2 * ROWS * blocks);
        for (int b = 0; b < blocks; b++) {
            Vec.f16(w, base + SBB * b, heads, 2 * ROWS * b);
            Vec.f16(w, base + SBB * b + 2 * ROWS, heads, 2 * ROWS * b + ROWS);
        }
        slice16(w, base, a, ao, so, cols / QK, heads, dst, d);
    }

    /**
     * {@link SlicedInt16Kernel}'s 16-bit decode for one slice, a flat loop over its sub-blocks in
     * memory order: per sub-block the 16 rows' d·sc ({@code heads}: each block's d, then dmin) times
     * d_x scales the int sums, and the mins are dmin·m times the sub-block's Σx, one FMA.
     */
    private static void slice16(MemorySegment w, long base, MemorySegment a, long ao, long so, int units,
            float[] heads, float[] dst, int d) {
        FloatVector fe = FloatVector.zero(F), fo = fe, corr = fe;
        for (int j = 0; j < units; j++) {
            long o = base + SBB * (j >> 3) + HEAD + SUB * (j & 7), q = o + NIBBLES, p = ao + PB * j;
            ShortVector u = ShortVector.fromMemorySegment(S32, w, q, Vec.LE);
            ShortVector lo = ShortVector.fromMemorySegment(S32, a, p, Vec.LE);
            ShortVector hi = ShortVector.fromMemorySegment(S32, a, p + 64, Vec.LE);
            ShortVector e = u.and((short) 0xFF), od = u.lanewise(VectorOperators.LSHR, 8);
            ShortVector se = e.mul(lo).add(e.lanewise(VectorOperators.LSHR, 4).mul(hi));
            ShortVector sd = od.mul(lo).add(od.lanewise(VectorOperators.LSHR, 4).mul(hi));
            u = ShortVector.fromMemorySegment(S32, w, q + 64, Vec.LE);
            lo = ShortVector.fromMemorySegment(S32, a, p + 128, Vec.LE);
            hi = ShortVector.fromMemorySegment(S32, a, p + 192, Vec.LE);
            e = u.and((short) 0xFF);
            od = u.lanewise(VectorOperators.LSHR, 8);
            se = se.add(e.mul(lo)).add(e.lanewise(VectorOperators.LSHR, 4).mul(hi));
            sd = sd.add(od.mul(lo)).add(od.lanewise(VectorOperators.LSHR, 4).mul(hi));
            u = ShortVector.fromMemorySegment(S32, w, q + 128, Vec.LE);
            lo = ShortVector.fromMemorySegment(S32, a, p + 256, Vec.LE);
            hi = ShortVector.fromMemorySegment(S32, a, p + 320, Vec.LE);
            e = u.and((short) 0xFF);
            od = u.lanewise(VectorOperators.LSHR, 8);
            se = se.add(e.mul(lo)).add(e.lanewise(VectorOperators.LSHR, 4).mul(hi));
            sd = sd.add(od.mul(lo)).add(od.lanewise(VectorOperators.LSHR, 4).mul(hi));
            u = ShortVector.fromMemorySegment(S32, w, q + 192, Vec.LE);
            lo = ShortVector.fromMemorySegment(S32, a, p + 384, Vec.LE);
            hi = ShortVector.fromMemorySegment(S32, a, p + 448, Vec.LE);
            e = u.and((short) 0xFF);
            od = u.lanewise(VectorOperators.LSHR, 8);
            se = se.add(e.mul(lo)).add(e.lanewise(VectorOperators.LSHR, 4).mul(hi));
            sd = sd.add(od.mul(lo)).add(od.lanewise(VectorOperators.LSHR, 4).mul(hi));
            IntVector ie = ((IntVector) se.convertShape(VectorOperators.S2I, Vec.I, 0))
                    .add((IntVector) se.convertShape(VectorOperators.S2I, Vec.I, 1));
            IntVector io = ((IntVector) sd.convertShape(VectorOperators.S2I, Vec.I, 0))
                    .add((IntVector) sd.convertShape(VectorOperators.S2I, Vec.I, 1));
            int h = 2 * ROWS * (j >> 3);
            FloatVector sc = (FloatVector) ByteVector.fromMemorySegment(Vec.BL, w, o, Vec.LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector m = (FloatVector) ByteVector.fromMemorySegment(Vec.BL, w, o + ROWS, Vec.LE).convertShape(VectorOperators.B2F, F, 0);
            corr = FloatVector.fromArray(F, heads, h + ROWS).mul(m)
                    .fma(FloatVector.broadcast(F, a.get(Half.FLOAT_LE, so + 8L * j + 4)), corr);
            FloatVector dw = FloatVector.fromArray(F, heads, h).mul(sc).mul(a.get(Half.FLOAT_LE, so + 8L * j));
            fe = ((FloatVector) ie.convert(VectorOperators.I2F, 0)).fma(dw.rearrange(EVEN_ROWS), fe);
            fo = ((FloatVector) io.convert(VectorOperators.I2F, 0)).fma(dw.rearrange(ODD_ROWS), fo);
        }
        FloatVector re = fe.add(fe.rearrange(SWAP_HALVES)), ro = fo.add(fo.rearrange(SWAP_HALVES));
        re.rearrange(HALF_LANES).blend(ro.rearrange(HALF_LANES), ODD_LANES).sub(corr).intoArray(dst, d);
    }

    /**
     * Prompts: whole slices, two at a time where the range has them, through {@link #decoded}; a
     * slice the range starts or ends inside is decoded whole into a per-thread buffer and only the
     * range's rows are kept.
     */
    @Override
    void matmulSlices(MemorySegment ws, long rb, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens(), n = tokens * cols;
        float[] xf = x.heapFloats();
        int xto = n + n / QK; // after the unit sums (see prepareFloats)
        for (int r = r0 - r0 % ROWS; r < r1; r += ROWS) {
            long base = SlicedEncoding.sliceOffset(rb, r);
            if (r >= r0 && r + ROWS <= r1) {
                int slices = r + 2 * ROWS <= r1 ? 2 : 1;
                decoded(ws, base, rb, slices, xf, xf, xto, cols, tokens, out, r, outStride);
                r += (slices - 1) * ROWS;
                continue;
            }
            float[] part = SCRATCH_ROWS.get().outputs(ROWS * tokens);
            decoded(ws, base, rb, 1, xf, xf, xto, cols, tokens, part, 0, ROWS);
            for (int t = 0; t < tokens; t++) {
                for (int i = Math.max(r, r0); i < Math.min(r + ROWS, r1); i++) {
                    out[t * outStride + i] = part[t * ROWS + i - r];
                }
            }
        }
    }

    /** Q4_K_R's dl·q − ml per sub-block (dl = d·sc, ml = dmin·m), rounded as its reference decoder rounds. */
    @Override
    void decodeChunk(MemorySegment w, long base, int rowBlocks, int block0, int blocks, float[] dec, int at, int stride) {
        float[] heads = SCRATCH_ROWS.get().scales(2 * ROWS);
        for (int b = 0; b < blocks; b++) {
            long o = base + SBB * (block0 + b);
            Vec.f16(w, o, heads, 0);
            Vec.f16(w, o + 2 * ROWS, heads, ROWS);
            FloatVector dd = FloatVector.fromArray(F, heads, 0), dm = FloatVector.fromArray(F, heads, ROWS);
            for (int j = 0; j < 8; j++) {
                long sub = o + HEAD + SUB * j;
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
