package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.FW;
import static dev.sieve.kernel.panama.vec.Vec.SW;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Q4_0RepackedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q4_0_R weights ({@link Q4_0RepackedEncoding}: pairs of Q4_0 blocks, both f32 scales first, then
 * the two blocks' 32 nibble bytes). Decode (small batches) multiplies in 16-bit lanes against Q8_0
 * activations laid out by {@link Int16Activations#prepareQuads}: per 64 weights one 32-byte load
 * of 16 lanes of four nibbles each (no widening), three shifts, four 16-bit multiplies and adds
 * (the layout folds the nibble masks and the −8 away), the pairwise widening to int by shifts, one
 * conversion and one FMA whose scale vector (block A's d·a_d in the low four lanes, B's in the
 * high four) comes from two 8-byte loads, a multiply and a lane rearrangement. Q4_0's kernel
 * instead widens each block's 16 bytes (a cross-lane instruction) and converts its f16 scale per
 * block. Prompts decode into the float tiles exactly as Q4_0's decoder does.
 *
 * <p>Measured on AVX2 ({@code DecodeProbe}, one thread, out of DRAM; docs/performance.md, session
 * 20): see {@code PanamaKernels#preferredLayout}.
 */
final class Q4_0RIntKernel extends FloatPathKernel {
    private static final int QK = Q4_0RepackedEncoding.QK;
    private static final long BB = Q4_0RepackedEncoding.BLOCK_BYTES;
    private static final long QS = Q4_0RepackedEncoding.QS;
    private static final long AB = Int16Activations.QUAD_PAIR;
    private static final int L = SW.length(); // 16 shorts (one pair of blocks), or 8 at 128 bits (one block)
    private static final VectorSpecies<Long> LW = VectorSpecies.of(long.class, FW.vectorShape());

    Q4_0RIntKernel() {
        super(Q4_0RepackedEncoding.INSTANCE);
    }

    @Override
    boolean int16Path(Activations x) {
        return x.tokens() < TILE_TOKENS || (x.cols() >= LONG_ROW && x.tokens() < Q4_0IntKernel.LONG_ROW_INT_TOKENS);
    }

    @Override
    void prepareInt16(Activations x) {
        Int16Activations.prepareQuads(x);
    }

    @Override
    void int16Matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        int cols = x.cols(), tokens = x.tokens();
        MemorySegment ws = w.data(), a = x.encoded();
        long rb = w.rowBytes(), ab = Int16Activations.quadRowBytes(cols), a0 = Int16Activations.quadOffset(x);
        long sb = Int16Activations.scalesBytes(cols), s0 = Int16Activations.quadScalesOffset(x);
        for (int r = r0; r < r1; r++) {
            // A token at a time, the row staying in L1 for the next: a pass sharing each weight load
            // between two tokens exceeded C2's inlining node budget and boxed every vector.
            for (int t = 0; t < tokens; t++) {
                out[t * outStride + r] = dot1(ws, r * rb, a, a0 + t * ab, s0 + t * sb, cols);
            }
        }
    }

    /** One row against one token: activations at {@code a[aOff..]}, that token's block scales at {@code a[sOff..]}. */
    private static float dot1(MemorySegment w, long o, MemorySegment a, long aOff, long sOff, int cols) {
        FloatVector s = FloatVector.zero(FW);
        for (int p = 0; p < cols / QK; p++) {
            long wp = o + BB * p, ap = aOff + AB * p;
            FloatVector d = pairScale(w, wp).mul(pairScale(a, sOff + 8L * p));
            for (int c = 0; c < 16; c += L) {
                s = sums(quads(w, wp + QS + 2L * c), a, ap + 2L * c).fma(Int16Activations.halves(d, c), s);
            }
        }
        return Vec.sumW(s);
    }

    /** 16 lanes (8 at 128 bits) of four nibbles each. */
    private static ShortVector quads(MemorySegment w, long off) {
        return ShortVector.fromMemorySegment(SW, w, off, Vec.LE);
    }

    /** The lanes' Σ (n − 8)·a, pairs of lanes summed into int lanes, as floats. */
    private static FloatVector sums(ShortVector u, MemorySegment a, long off) {
        ShortVector t = Int16Activations.quadProducts(u, a, off).sub(Int16Activations.shorts(a, off + 128));
        return (FloatVector) Int16Activations.pairSums(t).convert(VectorOperators.I2F, 0);
    }

    /** Two adjacent floats (block A's, block B's) repeated across the lanes. */
    private static FloatVector pairScale(MemorySegment m, long off) {
        return LongVector.broadcast(LW, m.get(Vec.LONG_LE, off)).reinterpretAsFloats();
    }

    /** Tiles: each half is a Q4_0 block's 16 nibble bytes, decoded as {@link Q4_0Kernel} decodes them (same floats). */
    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        decodePairs(w, rowOff + BB * (k0 / QK), kc / QK, dst, dstOff);
    }

    private static void decodePairs(MemorySegment w, long first, int pairs, float[] dst, int dstOff) {
        for (int p = 0; p < pairs; p++) {
            long blk = first + BB * p;
            int o = dstOff + QK * p;
            Q4_0Kernel.nibbles(w, blk + QS, w.get(dev.sieve.core.quant.Half.FLOAT_LE, blk), dst, o);
            Q4_0Kernel.nibbles(w, blk + QS + 16, w.get(dev.sieve.core.quant.Half.FLOAT_LE, blk + 4), dst, o + 32);
        }
    }
}
