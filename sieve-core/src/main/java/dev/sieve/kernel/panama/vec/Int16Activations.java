package dev.sieve.kernel.panama.vec;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q8_0Encoding;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q8_0 activations (quantized exactly as the reference quantizes them, ggml's {@code vec_dot_type}
 * for Q4_0) laid out for the int16 Q4_0 decode kernel. The Vector API has no byte dot product
 * (VPMADDUBSW/VPDPBUSD), so the kernel multiplies in 16-bit lanes; this layout does the per-token
 * work once so the per-row work is as small as possible:
 *
 * <pre>
 * per block of 32 (100 bytes):
 *   a[16]  short  q[j]                         (pairs with the low nibbles, weights j)
 *   b[16]  short  q[16+j] - 16·q[j]  (mod 2^16) (pairs with the whole byte's high nibble)
 *   k[16]  short  8·(q[j] + q[16+j])           (the -8 offset of Q4_0, folded in)
 *   d      float  the block's f16 scale
 * </pre>
 *
 * With the weight byte u = lo + 16·hi (zero-extended), u·a + hi·b − k = (lo−8)·q[j] + (hi−8)·q[16+j]
 * modulo 2^16, and the true value is at most 2·8·127 in magnitude, so the wrapped 16-bit lane is
 * exact: no masking of the low nibble and no subtraction of 8 per weight row.
 *
 * <p>After every token's widened row ({@link #scalesOffset}), the layout holds per token two float arrays of one
 * entry per block: the scales d, then d·Σq (for kernels whose weights carry an offset per
 * block, as Q4_K_R's mins), so a kernel can read eight blocks' worth with one vector load.
 */
final class Int16Activations {
    static final int QK = Q8_0Encoding.QK;
    /** Bytes per 32-block in the widened layout. */
    static final long BLOCK = 3 * 16 * 2 + 4;
    private static final ValueLayout.OfShort S = Half.SHORT_LE;
    private static final ValueLayout.OfFloat FL = Half.FLOAT_LE;

    private Int16Activations() {}

    /** Bytes of one token's widened row. */
    static long rowBytes(int cols) {
        return BLOCK * (cols / QK);
    }

    /** Quantizes every token to Q8_0 (reference rounding) and widens it; returns the widened rows. */
    static MemorySegment prepare(Activations x) {
        Q8_0Encoding q8 = Q8_0Encoding.INSTANCE;
        int cols = x.cols();
        long q8Row = q8.byteSize(cols);
        long q8Bytes = (q8Row * x.tokens() + 63) & ~63L;
        int blocks = cols / QK;
        MemorySegment seg = x.reserve(q8, q8Bytes + rowBytes(cols) * x.tokens() + 8L * blocks * x.tokens());
        MemorySegment wide = seg.asSlice(q8Bytes);
        MemorySegment scales = seg.asSlice(q8Bytes + rowBytes(cols) * x.tokens());
        for (int t = 0; t < x.tokens(); t++) {
            long qo = t * q8Row;
            q8.quantize(x.floats(), t * cols, seg, qo, cols);
            long wo = t * rowBytes(cols);
            for (int b = 0; b < cols / QK; b++) {
                long src = qo + (long) b * Q8_0Encoding.BLOCK_BYTES;
                long dst = wo + BLOCK * b;
                int sum = 0;
                for (int j = 0; j < 16; j++) {
                    int lo = seg.get(ValueLayout.JAVA_BYTE, src + 2 + j);
                    int hi = seg.get(ValueLayout.JAVA_BYTE, src + 2 + 16 + j);
                    wide.set(S, dst + 2L * j, (short) lo);
                    wide.set(S, dst + 32 + 2L * j, (short) (hi - 16 * lo));
                    wide.set(S, dst + 64 + 2L * j, (short) (8 * (lo + hi)));
                    sum += lo + hi;
                }
                float d = Vec.scale(seg, src);
                wide.set(FL, dst + 96, d);
                long so = 8L * blocks * t;
                scales.set(FL, so + 4L * b, d);
                scales.set(FL, so + 4L * (blocks + b), d * sum);
            }
        }
        return wide;
    }

    /** Token t's scales (then its d·Σq) start at byte {@code t · scalesBytes(cols)} of {@link #scales}. */
    static long scalesBytes(int cols) {
        return 8L * (cols / QK);
    }

    /**
     * Where, in {@code x.encoded()}, the per-token scales and scaled sums of activations prepared by
     * {@link #prepare} start (an offset, not a slice: a slice is an object per matrix product).
     */
    static long scalesOffset(Activations x) {
        long q8Bytes = (Q8_0Encoding.INSTANCE.byteSize(x.cols()) * x.tokens() + 63) & ~63L;
        return q8Bytes + rowBytes(x.cols()) * x.tokens();
    }

    /** The widened rows of activations prepared by {@link #prepare}. */
    static MemorySegment of(Activations x) {
        long q8Bytes = (Q8_0Encoding.INSTANCE.byteSize(x.cols()) * x.tokens() + 63) & ~63L;
        return x.encoded().asSlice(q8Bytes, rowBytes(x.cols()) * x.tokens());
    }

    /** {@code SW.length()} weight bytes at {@code wo}, zero-extended to 16 bits (low nibble + 16 × high nibble). */
    static ShortVector widened(MemorySegment w, long wo) {
        return (ShortVector) ByteVector.fromMemorySegment(Vec.BW, w, wo, Vec.LE)
                .convertShape(VectorOperators.ZERO_EXTEND_B2S, Vec.SW, 0);
    }

    /** {@code SW.length()} shorts of the widened activations at {@code off}. */
    static ShortVector shorts(MemorySegment a, long off) {
        return ShortVector.fromMemorySegment(Vec.SW, a, off, Vec.LE);
    }

    /**
     * The 16-bit lanes of {@code s} summed in pairs into int lanes: each int lane holds two 16-bit
     * sums; add the high one to the sign-extended low one (shifts: no cross-lane conversion).
     */
    static IntVector pairSums(ShortVector s) {
        IntVector p = s.reinterpretAsInts();
        return p.lanewise(VectorOperators.ASHR, 16)
                .add(p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
    }
}
