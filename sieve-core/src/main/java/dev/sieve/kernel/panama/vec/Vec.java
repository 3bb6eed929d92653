package dev.sieve.kernel.panama.vec;

import dev.sieve.kernel.panama.WidthLoader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The species of this class copy (one copy per width, see {@code WidthLoader}) and the loads and
 * conversions the kernels share. All fields are static final so C2 sees constant species.
 */
final class Vec {
    static final int BITS = chooseBits();
    static final VectorShape SHAPE = VectorShape.forBitSize(BITS);
    static final VectorSpecies<Float> F = VectorSpecies.of(float.class, SHAPE);
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, SHAPE);
    /** Float lanes per vector. */
    static final int N = F.length();
    /** Shorts, one per float lane: a half-width load that widens lane-for-lane into {@link #I}. */
    static final VectorSpecies<Short> SN = VectorSpecies.of(short.class, VectorShape.forBitSize(N * 16));
    /**
     * Byte loads: one byte per float lane, but at least 64 bits (there is no 32-bit byte species),
     * so at 128 bits a load feeds {@link #PARTS} = 2 conversions.
     */
    static final VectorSpecies<Byte> BL = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, N * 8)));
    static final int PARTS = BL.length() / N;
    /**
     * The int16 decode path (see {@link Int16Activations}) works on at most 16 shorts: one Q4_0
     * block's 16 bytes. At 512 bits it therefore runs on 256-bit vectors; its own species:
     */
    static final VectorShape WIDE16 = VectorShape.forBitSize(Math.min(BITS, 256));
    static final VectorSpecies<Short> SW = VectorSpecies.of(short.class, WIDE16);
    static final VectorSpecies<Integer> IW = VectorSpecies.of(int.class, WIDE16);
    static final VectorSpecies<Float> FW = VectorSpecies.of(float.class, WIDE16);
    /** Bytes, one per {@link #SW} lane (64 or 128 bits). */
    static final VectorSpecies<Byte> BW = VectorSpecies.of(byte.class, VectorShape.forBitSize(SW.length() * 8));
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Packed per-block scales read in one load (K-quants). */
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);

    private Vec() {}

    private static int chooseBits() {
        if (Vec.class.getClassLoader() instanceof WidthLoader w) {
            return w.bits();
        }
        return FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }

    /**
     * Whether this class copy sums vector lanes in one fixed order ({@code WidthLoader#exact}).
     * {@code reduceLanes(ADD)} leaves the order to the implementation: its Java fallback
     * (interpreter, C1) adds lane by lane, C2 adds in a tree, so a row's dot product rounds
     * differently before and after C2 compiles the kernel, and a calibrated compression, whose
     * forward pass runs while the JIT warms up, was not reproducible from run to run. The exact
     * copy adds in a tree written out here (lane i + lane i + N/2, then the same on the halves);
     * lane reads, blends, permutes and float adds are exact, the same in every execution mode.
     * The default copy keeps {@code reduceLanes}: the exact sums cost the prompt tiles 8-10%.
     */
    static final boolean EXACT = Vec.class.getClassLoader() instanceof WidthLoader w && w.exact();

    /** Σ lanes of {@code v} (species {@link #F}); in the fixed order when {@link #EXACT}. */
    static float sum(FloatVector v) {
        if (!EXACT) {
            return v.reduceLanes(VectorOperators.ADD);
        }
        return N == 16 ? sum16(v) : N == 8 ? sum8(v) : sum4(v);
    }

    private static float sum4(FloatVector v) {
        return (v.lane(0) + v.lane(2)) + (v.lane(1) + v.lane(3));
    }

    private static float sum8(FloatVector v) {
        return ((v.lane(0) + v.lane(4)) + (v.lane(2) + v.lane(6))) + ((v.lane(1) + v.lane(5)) + (v.lane(3) + v.lane(7)));
    }

    private static float sum16(FloatVector v) {
        return (((v.lane(0) + v.lane(8)) + (v.lane(4) + v.lane(12))) + ((v.lane(2) + v.lane(10)) + (v.lane(6) + v.lane(14))))
                + (((v.lane(1) + v.lane(9)) + (v.lane(5) + v.lane(13))) + ((v.lane(3) + v.lane(11)) + (v.lane(7) + v.lane(15))));
    }

    /** {@link #sum} for species {@link #FW} (the int16 decode path's floats, at most 256 bits). */
    static float sumW(FloatVector v) {
        if (!EXACT) {
            return v.reduceLanes(VectorOperators.ADD);
        }
        return FW.length() == 8 ? sum8(v) : sum4(v);
    }

    /**
     * {@link #sum}, when {@link #EXACT} through {@code b[at .. at + N)}: for kernels that reduce
     * several accumulators. Eight lane reads per sum, two or more sums per kernel, passed C2's
     * budget of inlined bytecode (each {@code lane} call counts its whole switch), so vectors were
     * boxed; a store and N array reads stay small.
     */
    static float sum(FloatVector v, float[] b, int at) {
        if (!EXACT) {
            return v.reduceLanes(VectorOperators.ADD);
        }
        v.intoArray(b, at);
        return N == 16 ? sum16(b, at) : N == 8 ? sum8(b, at) : sum4(b, at);
    }

    /**
     * {@link #sum(FloatVector, float[], int)} in the order {@link #sums8} and {@link #sums4} add each
     * accumulator's lanes (neighbours first: lanes 2i and 2i+1, then pairs of pairs), for kernels that
     * must round exactly as the tile kernels do: which rows of a prompt a 6-row tile, a 4-row tile or a
     * single-row kernel takes depends on how the rows were split between threads.
     */
    static float sumPairs(FloatVector v, float[] b, int at) {
        if (!EXACT) {
            return v.reduceLanes(VectorOperators.ADD);
        }
        v.intoArray(b, at);
        float s = N == 4 ? pairs4(b, at) : pairs4(b, at) + pairs4(b, at + 4);
        return N == 16 ? s + (pairs4(b, at + 8) + pairs4(b, at + 12)) : s;
    }

    private static float pairs4(float[] b, int o) {
        return (b[o] + b[o + 1]) + (b[o + 2] + b[o + 3]);
    }

    /** {@link #sum(FloatVector, float[], int)} for species {@link #FW}. */
    static float sumW(FloatVector v, float[] b, int at) {
        if (!EXACT) {
            return v.reduceLanes(VectorOperators.ADD);
        }
        v.intoArray(b, at);
        return FW.length() == 8 ? sum8(b, at) : sum4(b, at);
    }

    /** The {@code FW.length()} floats at {@code b[at]} summed in {@link #sumW}'s fixed order. */
    static float sumW(float[] b, int at) {
        return FW.length() == 8 ? sum8(b, at) : sum4(b, at);
    }

    private static float sum4(float[] b, int o) {
        return (b[o] + b[o + 2]) + (b[o + 1] + b[o + 3]);
    }

    private static float sum8(float[] b, int o) {
        return ((b[o] + b[o + 4]) + (b[o + 2] + b[o + 6])) + ((b[o + 1] + b[o + 5]) + (b[o + 3] + b[o + 7]));
    }

    private static float sum16(float[] b, int o) {
        return (((b[o] + b[o + 8]) + (b[o + 4] + b[o + 12])) + ((b[o + 2] + b[o + 10]) + (b[o + 6] + b[o + 14])))
                + (((b[o + 1] + b[o + 9]) + (b[o + 5] + b[o + 13])) + ((b[o + 3] + b[o + 11]) + (b[o + 7] + b[o + 15])));
    }

    /**
     * Σ lanes of each of {@code c0..c7} into {@code b[at .. at + 8)} (room for {@link #N} floats
     * from {@code at}), for the tile kernels. When {@link #EXACT}, a transposed reduction (eight
     * {@link #sum}s through the array measured slower in the tiles): each {@link #fold} halves the vectors
     * to reduce and doubles the accumulators per vector; after the third, lane i holds the sum of
     * c_i (at 16 lanes, lanes i and i + 8 still add).
     */
    static void sums8(FloatVector c0, FloatVector c1, FloatVector c2, FloatVector c3, FloatVector c4, FloatVector c5,
            FloatVector c6, FloatVector c7, float[] b, int at) {
        if (!EXACT) {
            b[at] = c0.reduceLanes(VectorOperators.ADD);
            b[at + 1] = c1.reduceLanes(VectorOperators.ADD);
            b[at + 2] = c2.reduceLanes(VectorOperators.ADD);
            b[at + 3] = c3.reduceLanes(VectorOperators.ADD);
            b[at + 4] = c4.reduceLanes(VectorOperators.ADD);
            b[at + 5] = c5.reduceLanes(VectorOperators.ADD);
            b[at + 6] = c6.reduceLanes(VectorOperators.ADD);
            b[at + 7] = c7.reduceLanes(VectorOperators.ADD);
            return;
        }
        if (N == 4) {
            sums4(c0, c1, c2, c3, b, at);
            sums4(c4, c5, c6, c7, b, at + 4);
            return;
        }
        FloatVector r = fold(fold(fold(c0, c1, M1, X1), fold(c2, c3, M1, X1), M2, X2),
                fold(fold(c4, c5, M1, X1), fold(c6, c7, M1, X1), M2, X2), M4, X4);
        if (N == 16) {
            r = r.add(r.rearrange(X8));
        }
        r.intoArray(b, at);
    }

    /** As {@link #sums8} for four accumulators, into {@code b[at .. at + 4)} (exactly those four floats). */
    static void sums4(FloatVector c0, FloatVector c1, FloatVector c2, FloatVector c3, float[] b, int at) {
        if (!EXACT) {
            b[at] = c0.reduceLanes(VectorOperators.ADD);
            b[at + 1] = c1.reduceLanes(VectorOperators.ADD);
            b[at + 2] = c2.reduceLanes(VectorOperators.ADD);
            b[at + 3] = c3.reduceLanes(VectorOperators.ADD);
            return;
        }
        FloatVector r = fold(fold(c0, c1, M1, X1), fold(c2, c3, M1, X1), M2, X2);
        if (N >= 8) {
            r = r.add(r.rearrange(X4));
        }
        if (N == 16) {
            r = r.add(r.rearrange(X8));
        }
        b[at] = r.lane(0);
        b[at + 1] = r.lane(1);
        b[at + 2] = r.lane(2);
        b[at + 3] = r.lane(3);
    }

    /**
     * Lane i: a[i] + a[i ^ h] where bit h of i is clear, b[i] + b[i ^ h] where it is set
     * ({@code m}: the lanes with bit h set, {@code x}: i → i ^ h).
     */
    private static FloatVector fold(FloatVector a, FloatVector b, VectorMask<Float> m, VectorShuffle<Float> x) {
        return a.blend(b, m).add(b.blend(a, m).rearrange(x));
    }

    private static final VectorMask<Float> M1 = bit(1), M2 = bit(2), M4 = bit(4);
    private static final VectorShuffle<Float> X1 = swap(1), X2 = swap(2), X4 = swap(4), X8 = swap(8);

    private static VectorMask<Float> bit(int h) {
        if (h >= N) {
            return null; // never used at this width
        }
        long bits = 0;
        for (int i = 0; i < N; i++) {
            bits |= (i & h) != 0 ? 1L << i : 0;
        }
        return VectorMask.fromLong(F, bits);
    }

    private static VectorShuffle<Float> swap(int h) {
        return h >= N ? null : VectorShuffle.fromOp(F, i -> i ^ h);
    }

    static FloatVector f32(MemorySegment s, long off) {
        return FloatVector.fromMemorySegment(F, s, off, LE);
    }

    /**
     * Whether the one-row decoders read activations from the heap {@code float[]} instead of the
     * prepared segment (same values). Measured per width (docs/performance.md): at 8 lanes (AVX2)
     * the heap loads made Q4_K's decoder 1.4x faster (the segment loads keep their bounds and
     * liveness checks in the unrolled loop); at 16 lanes (AVX-512) they were 5-10% slower.
     */
    static final boolean HEAP_X = N < 16;

    /** Activations {@code i .. i+N} of a token: {@code xf[xi + i..]} or the same floats at {@code a[aOff + 4i..]}. */
    static FloatVector x(float[] xf, int xi, MemorySegment a, long aOff, int i) {
        return HEAP_X ? FloatVector.fromArray(F, xf, xi + i) : f32(a, aOff + 4L * i);
    }

    /** N bytes at {@code off} (well, {@link #BL} of them). */
    static ByteVector bytes(MemorySegment s, long off) {
        return ByteVector.fromMemorySegment(BL, s, off, LE);
    }

    /** Part {@code p} of a byte load, sign-extended to floats. */
    static FloatVector b2f(ByteVector b, int p) {
        return (FloatVector) b.convertShape(VectorOperators.B2F, F, p);
    }

    /** N halves at {@code off}, zero-extended into int lanes. */
    static IntVector halves(MemorySegment s, long off) {
        return (IntVector) ShortVector.fromMemorySegment(SN, s, off, LE)
                .convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
    }

    /** N IEEE halves at {@code off} as floats (exact, including subnormals, infinities and NaN). */
    static FloatVector f16(MemorySegment s, long off) {
        return halfToFloat(halves(s, off));
    }

    /**
     * {@link #f16} into {@code dst[at..at + N)}, written out ({@link #halves}, {@link #halfToFloat}): for
     * kernels that keep the values in an array. No vector leaves this method and it calls none that
     * returns one, so wherever C2 stops inlining (as it did with {@code f16} at a call site it did not
     * count as hot: "callee is too large") nothing is boxed.
     */
    static void f16(MemorySegment s, long off, float[] dst, int at) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(SN, s, off, LE).convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
        IntVector e = h.and(0x7FFF);
        FloatVector v = e.lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(0x1p112f);
        IntVector bits = v.reinterpretAsInts()
                .blend(e.lanewise(VectorOperators.LSHL, 13).or(0x7F800000), e.compare(VectorOperators.GE, 0x7C00));
        bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats().intoArray(dst, at);
    }

    /** N bfloat16 at {@code off} as floats: the stored bits are the top half of the float. */
    static FloatVector bf16(MemorySegment s, long off) {
        return halves(s, off).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * {@code n} IEEE halves at {@code off} to {@code dst[d..d + n)}, exact. A plain loop on purpose:
     * C2 vectorizes it with VCVTPH2PS (one instruction per 16 halves), which the Vector API of JDK 25
     * cannot name; {@link #halfToFloat}'s eight operations ran 0.105 ns a value against this loop's
     * 0.036 (one thread, in L1, bit for bit the same floats). Its vector loop needs a long run: a call
     * per 32 halves ran scalar (F16_S48 tg64 7.0 against 12.5 with the whole slice in one call).
     */
    static void halvesToFloats(MemorySegment s, long off, float[] dst, int d, int n) {
        for (int i = 0; i < n; i++) {
            dst[d + i] = Float.float16ToFloat(s.get(dev.sieve.core.quant.Half.SHORT_LE, off + 2L * i));
        }
    }

    /**
     * Half bits (in the low 16 bits of each lane) to float. JDK 25's Vector API has no half
     * conversion, so: move exponent and mantissa into place and multiply by 2^112, which rebiases
     * normals and turns subnormals (float denormals here) into the exact normal value; Inf/NaN
     * get the all-ones exponent instead. Written with one compare and one blend only, as C2
     * intrinsifies those everywhere (a masked add boxed vectors on AVX2).
     */
    static FloatVector halfToFloat(IntVector h) {
        IntVector e = h.and(0x7FFF);
        FloatVector v = e.lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(0x1p112f);
        IntVector bits = v.reinterpretAsInts()
                .blend(e.lanewise(VectorOperators.LSHL, 13).or(0x7F800000), e.compare(VectorOperators.GE, 0x7C00));
        return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /** Byte offset, within a run of bytes, of the load that holds chunk {@code c} (N values from c). */
    static int loadAt(int c) {
        return c - c % BL.length();
    }

    /** Which conversion part of that load chunk {@code c} is; constant 0 unless N < 8. */
    static int part(int c) {
        return PARTS == 1 ? 0 : (c % BL.length()) / N;
    }

    /**
     * The unsigned bytes for chunk {@code c} (N values from byte {@code c} of the run at {@code
     * off}) in int lanes: nibbles are then split with int AND/shift, as x86 has no byte shifts.
     */
    static IntVector u8(MemorySegment s, long off, int c) {
        return (IntVector) bytes(s, off + loadAt(c)).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, part(c));
    }

    /** Part {@code p} of a byte load, sign-extended to shorts lane for lane with {@link #I}. */
    static ShortVector b2s(ByteVector b, int p) {
        return (ShortVector) b.convertShape(VectorOperators.B2S, SN, p);
    }

    static IntVector s2i(ShortVector s) {
        return (IntVector) s.convertShape(VectorOperators.S2I, I, 0);
    }

    static FloatVector i2f(IntVector v) {
        return (FloatVector) v.convert(VectorOperators.I2F, 0);
    }

    /*
     * Scalar reads for the kernels. They live here, not in core.quant.Half, on purpose: C2 profiles
     * the segment type at each call site inside a helper, and Half's helpers also see heap segments
     * (quantizers, tests); a kernel that inlines a polluted helper gets a type switch or a call in
     * its inner loop, which measured 5x slower for Q6_K. Vec is loaded per width and used by kernels
     * only, so its profiles see only the native segments of weights and activations.
     */

    static byte i8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off);
    }

    static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    /**
     * The f16 scale at {@code off}, as ggml stores block scales. Read through a table of all 65,536
     * halves: the conversion instruction (with the move into a vector register and the broadcast)
     * took four of the two 512-bit ports' operations per block, while a table read is a load C2
     * folds into the broadcast. Q8_0's decoder, one thread, in L2: 14.5 → 20.7 GB/s; out of DRAM
     * 6.6 / 8.8 → 7.6 / 9.4 (docs/performance.md). Block scales cluster in a few exponents, so
     * the rows of the table in use stay in L1.
     */
    static float scale(MemorySegment s, long off) {
        return HALF_TO_FLOAT[s.get(dev.sieve.core.quant.Half.SHORT_LE, off) & 0xFFFF];
    }

    /**
     * {@link #scale} for scales read once per 256 weights or more (a K-quant super-block's d and dmin),
     * by the conversion instruction: with that few lookups the table's lines leave L1 between them, and
     * Q4_K_R's decoder measured 1-5% slower through the table (six of six alternating runs).
     */
    static float superScale(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(dev.sieve.core.quant.Half.SHORT_LE, off));
    }

    /** Every half's float value, indexed by its bits ({@link Float#float16ToFloat}, exact). */
    private static final float[] HALF_TO_FLOAT = new float[1 << 16];

    static {
        for (int h = 0; h < HALF_TO_FLOAT.length; h++) {
            HALF_TO_FLOAT[h] = Float.float16ToFloat((short) h);
        }
    }
}
