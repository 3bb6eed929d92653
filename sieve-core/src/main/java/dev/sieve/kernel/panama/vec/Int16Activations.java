package dev.sieve.kernel.panama.vec;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q8_0Encoding;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * Q8_0 activations (quantized exactly as the reference quantizes them, ggml's {@code vec_dot_type}
 * for the 32-blocks) laid out for the kernels that multiply in 16-bit lanes. The Vector API has no
 * byte dot product (VPMADDUBSW/VPDPBUSD), so those kernels multiply shorts; each layout does the
 * per-token work once so the per-row work is as small as possible. Three layouts, one per way the
 * weights are read:
 *
 * <ul>
 *   <li>{@link #prepare}, Q4_0 read a block at a time (its 16 bytes zero-extended to shorts):
 * <pre>
 * per block of 32 (100 bytes):
 *   a[16]  short  q[j]                         (pairs with the low nibbles, weights j)
 *   b[16]  short  q[16+j] - 16·q[j]  (mod 2^16) (pairs with the whole byte's high nibble)
 *   k[16]  short  8·(q[j] + q[16+j])           (the -8 offset of Q4_0, folded in)
 *   d      float  the block's f16 scale
 * </pre>
 * With the weight byte u = lo + 16·hi (zero-extended), u·a + hi·b − k = (lo−8)·q[j] + (hi−8)·q[16+j]
 * modulo 2^16, and the true value is at most 2·8·127 in magnitude, so the wrapped 16-bit lane is
 * exact: no masking of the low nibble and no subtraction of 8 per weight row.
 *   <li>{@link #prepareQuads}, 32 nibble bytes (two blocks) read as 16 lanes of four nibbles
 *       (Q4_0_R, Q4_K_R), the same idea over four nibbles, plus per-token scales.
 *   <li>{@link #prepareEvenOdd}, Q8_0 weights read as 16 lanes of two bytes.
 * </ul>
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
        MemorySegment seg = x.reserve(q8, q8Bytes + rowBytes(cols) * x.tokens());
        MemorySegment wide = seg.asSlice(q8Bytes);
        for (int t = 0; t < x.tokens(); t++) {
            long qo = t * q8Row;
            q8.quantize(x.floats(), t * cols, seg, qo, cols);
            long wo = t * rowBytes(cols);
            for (int b = 0; b < cols / QK; b++) {
                long src = qo + (long) b * Q8_0Encoding.BLOCK_BYTES;
                long dst = wo + BLOCK * b;
                for (int j = 0; j < 16; j++) {
                    int lo = seg.get(ValueLayout.JAVA_BYTE, src + 2 + j);
                    int hi = seg.get(ValueLayout.JAVA_BYTE, src + 2 + 16 + j);
                    wide.set(S, dst + 2L * j, (short) lo);
                    wide.set(S, dst + 32 + 2L * j, (short) (hi - 16 * lo));
                    wide.set(S, dst + 64 + 2L * j, (short) (8 * (lo + hi)));
                }
                wide.set(FL, dst + 96, Vec.scale(seg, src));
            }
        }
        return wide;
    }

    /** Bytes per 32-block in the even/odd layout of {@link #prepareEvenOdd}. */
    static final long EVEN_ODD_BLOCK = 2 * 16 * 2 + 4;

    /** Bytes of one token's row in the even/odd layout. */
    static long evenOddRowBytes(int cols) {
        return EVEN_ODD_BLOCK * (cols / QK);
    }

    /** Where, in {@code x.encoded()}, the even/odd rows of {@link #prepareEvenOdd} start. */
    static long evenOddOffset(Activations x) {
        return (Q8_0Encoding.INSTANCE.byteSize(x.cols()) * x.tokens() + 63) & ~63L;
    }

    /**
     * Quantizes every token to Q8_0 (reference rounding) and lays each block out for Q8_0 weights
     * read as 16-bit pairs of bytes: per block of 32 (68 bytes), {@code e[16]} short q[2j], {@code
     * o[16]} short q[2j+1], then the f16 scale as a float. A weight short u (bytes 2j, 2j+1) then
     * pairs as ((u << 8) >> 8)·e[j] + (u >> 8)·o[j].
     */
    static void prepareEvenOdd(Activations x) {
        Q8_0Encoding q8 = Q8_0Encoding.INSTANCE;
        int cols = x.cols();
        long q8Row = q8.byteSize(cols);
        long at = evenOddOffset(x);
        MemorySegment seg = x.reserve(q8, at + evenOddRowBytes(cols) * x.tokens());
        for (int t = 0; t < x.tokens(); t++) {
            long qo = t * q8Row;
            q8.quantize(x.floats(), t * cols, seg, qo, cols);
            for (int b = 0; b < cols / QK; b++) {
                long src = qo + (long) b * Q8_0Encoding.BLOCK_BYTES;
                long dst = at + evenOddRowBytes(cols) * t + EVEN_ODD_BLOCK * b;
                for (int j = 0; j < 16; j++) {
                    seg.set(S, dst + 2L * j, seg.get(ValueLayout.JAVA_BYTE, src + 2 + 2 * j));
                    seg.set(S, dst + 32 + 2L * j, seg.get(ValueLayout.JAVA_BYTE, src + 3 + 2 * j));
                }
                seg.set(FL, dst + 64, Vec.scale(seg, src));
            }
        }
    }

    /** Bytes per 64 weights (two 32-blocks) in the four-nibble layout of {@link #prepareQuads}. */
    static final long QUAD_PAIR = 5 * 16 * 2;

    /** Bytes of one token's row in the four-nibble layout. */
    static long quadRowBytes(int cols) {
        return QUAD_PAIR * (cols / (2 * QK));
    }

    /** Where, in {@code x.encoded()}, the rows of {@link #prepareQuads} start. */
    static long quadOffset(Activations x) {
        return evenOddOffset(x);
    }

    /** Where token 0's scales start, after every token's row; token t's at + t · {@link #scalesBytes}. */
    static long quadScalesOffset(Activations x) {
        return quadOffset(x) + quadRowBytes(x.cols()) * x.tokens();
    }

    /**
     * Quantizes every token to Q8_0 (reference rounding) and lays it out for weights read as 16-bit
     * lanes of four nibbles (Q4_0_R: per 64 weights, blocks A and B's 16 Q4_0 bytes each; lane j
     * holds bytes 2j', 2j'+1 of block j / 8, j' = j mod 8, so its nibbles, low to high, are weights
     * 2j', 2j'+16, 2j'+1, 2j'+17 of that block). Per 64 weights (160 bytes) five arrays of 16
     * shorts: with a0..a3 the activations those four nibbles pair with,
     * <pre>
     *   c0 = a0,  c1 = a1 − 16·a0,  c2 = a2 − 16·a1,  c3 = a3 − 16·a2  (mod 2^16),  k = 8·(a0 + a1 + a2 + a3)
     * </pre>
     * so that u·c0 + (u>>>4)·c1 + (u>>>8)·c2 + (u>>>12)·c3 − k = Σ (n_f − 8)·a_f modulo 2^16 for the
     * lane u = n0 + 16·n1 + 256·n2 + 4096·n3, and the true value (at most 4·8·127) fits; weights
     * without the −8 (Q4_K_R's levels) leave k out (at most 4·15·127). Then, after every token's row,
     * each token's scales as {@link #prepare} lays them out: d per block (a pair of blocks = one
     * 8-byte load), then d·Σq per block ({@link #scalesBytes} per token).
     */
    static void prepareQuads(Activations x) {
        Q8_0Encoding q8 = Q8_0Encoding.INSTANCE;
        int cols = x.cols(), blocks = cols / QK;
        long q8Row = q8.byteSize(cols);
        long at = quadOffset(x), sc = quadScalesOffset(x);
        MemorySegment seg = x.reserve(q8, sc + scalesBytes(cols) * x.tokens());
        for (int t = 0; t < x.tokens(); t++) {
            long qo = t * q8Row;
            q8.quantize(x.floats(), t * cols, seg, qo, cols);
            for (int p = 0; p < blocks / 2; p++) {
                long dst = at + quadRowBytes(cols) * t + QUAD_PAIR * p;
                for (int j = 0; j < 16; j++) {
                    long src = qo + (long) (2 * p + j / 8) * Q8_0Encoding.BLOCK_BYTES + 2 + 2 * (j % 8);
                    int a0 = seg.get(ValueLayout.JAVA_BYTE, src), a1 = seg.get(ValueLayout.JAVA_BYTE, src + 16);
                    int a2 = seg.get(ValueLayout.JAVA_BYTE, src + 1), a3 = seg.get(ValueLayout.JAVA_BYTE, src + 17);
                    seg.set(S, dst + 2L * j, (short) a0);
                    seg.set(S, dst + 32 + 2L * j, (short) (a1 - 16 * a0));
                    seg.set(S, dst + 64 + 2L * j, (short) (a2 - 16 * a1));
                    seg.set(S, dst + 96 + 2L * j, (short) (a3 - 16 * a2));
                    seg.set(S, dst + 128 + 2L * j, (short) (8 * (a0 + a1 + a2 + a3)));
                }
            }
            for (int b = 0; b < blocks; b++) {
                long src = qo + (long) b * Q8_0Encoding.BLOCK_BYTES;
                int sum = 0;
                for (int j = 0; j < QK; j++) {
                    sum += seg.get(ValueLayout.JAVA_BYTE, src + 2 + j);
                }
                float d = Vec.scale(seg, src);
                seg.set(FL, sc + scalesBytes(cols) * t + 4L * b, d);
                seg.set(FL, sc + scalesBytes(cols) * t + 4L * (blocks + b), d * sum);
            }
        }
    }

    /**
     * For {@link #prepareQuads}' layout: Σ_f n_f·a_f per lane of {@code u} (16 lanes of four nibbles
     * at 256 bits), modulo 2^16, without the −8 term k (at {@code off + 128}).
     */
    static ShortVector quadProducts(ShortVector u, MemorySegment a, long off) {
        return u.mul(shorts(a, off))
                .add(u.lanewise(VectorOperators.LSHR, 4).mul(shorts(a, off + 32)))
                .add(u.lanewise(VectorOperators.LSHR, 8).mul(shorts(a, off + 64)))
                .add(u.lanewise(VectorOperators.LSHR, 12).mul(shorts(a, off + 96)));
    }

    /** (A, B, …) → A in the low four lanes, B in the high four (FW has at most 8 lanes). */
    private static final VectorShuffle<Float> HALVES = VectorShuffle.fromOp(Vec.FW, i -> (i / 4) % 2);

    /**
     * The scale of each int lane of {@link #pairSums} over 32 nibble bytes of two blocks A and B,
     * from {@code d} = (A's, B's, …): at 256 bits A's in the low four lanes and B's in the high four;
     * at 128 bits (two chunks of 16 bytes, {@code c} = 0 or 8) A's for the first chunk, B's for the second.
     */
    static FloatVector halves(FloatVector d, int c) {
        if (Vec.SW.length() == 16) {
            return d.rearrange(HALVES);
        }
        return FloatVector.broadcast(Vec.FW, d.lane(c == 0 ? 0 : 1));
    }

    /** Bytes of one token's scales in {@link #prepareQuads}' layout: d per block, then d·Σq per block. */
    static long scalesBytes(int cols) {
        return 8L * (cols / QK);
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
