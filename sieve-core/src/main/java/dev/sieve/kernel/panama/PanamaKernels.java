package dev.sieve.kernel.panama;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.quant.IndexedSparseEncoding;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q4_0RepackedEncoding;
import dev.sieve.core.quant.Q4_0SlicedEncoding;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.Q8_0SlicedEncoding;
import dev.sieve.core.quant.Q4_KEncoding;
import dev.sieve.core.quant.Q4_KSlicedEncoding;
import dev.sieve.core.quant.Q6_KEncoding;
import dev.sieve.core.quant.Q6_KSlicedEncoding;
import dev.sieve.core.quant.Q4_KRepackedEncoding;
import dev.sieve.core.quant.SlicedBitmapEncoding;
import dev.sieve.core.quant.SlicedTileIndexedEncoding;
import dev.sieve.core.quant.SlicedIndexedEncoding;
import dev.sieve.core.quant.SlicedNMEncoding;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import java.util.concurrent.ConcurrentHashMap;
import jdk.incubator.vector.FloatVector;

/**
 * The Vector API kernels at one width. The arithmetic lives in {@code dev.sieve.kernel.panama.vec},
 * loaded once per width by a {@link WidthLoader} so that every width gets its own constant species
 * (see there); this class only picks the width and forwards.
 */
public final class PanamaKernels implements Kernels {
    private static final ConcurrentHashMap<String, PanamaKernels> CACHE = new ConcurrentHashMap<>();

    private final Kernels impl;
    private final int bits;
    private final boolean int8Activations;

    private final boolean exact;

    private PanamaKernels(Kernels impl, int bits, boolean int8Activations, boolean exact) {
        this.impl = impl;
        this.bits = bits;
        this.int8Activations = int8Activations;
        this.exact = exact;
    }

    /** The kernels at {@code bits} (128, 256 or 512), or at the preferred width when {@code bits <= 0}. */
    public static PanamaKernels create(int bits) {
        return create(bits, false);
    }

    /**
     * As {@link #create(int)}; {@code int8Activations} selects the integer decode path for Q8_0/Q4_0
     * (activations quantized to Q8_0 as ggml does) instead of the default float-activation path.
     * Kept for measurements and tests: the float path was faster here (see package docs).
     */
    public static PanamaKernels create(int bits, boolean int8Activations) {
        return create(bits, int8Activations, false);
    }

    /**
     * As {@link #create(int, boolean)}; {@code exact} selects kernels that sum vector lanes in one
     * fixed order, so a computation gives the same bits before and after C2 compiles it (the
     * default kernels use {@code reduceLanes}, whose order differs between the interpreter and C2).
     * For calibration and evaluation; the prompt tiles lose a few percent.
     */
    public static PanamaKernels create(int bits, boolean int8Activations, boolean exact) {
        int b = bits <= 0 ? FloatVector.SPECIES_PREFERRED.vectorBitSize() : bits;
        if (b != 128 && b != 256 && b != 512) {
            throw new IllegalArgumentException("vector width must be 128, 256 or 512 bits, got " + bits);
        }
        return CACHE.computeIfAbsent(b + (int8Activations ? "i" : "f") + (exact ? "x" : ""), k -> load(b, int8Activations, exact));
    }

    /** A new class copy, not shared and not yet compiled by the JIT (tests of cold-versus-compiled results). */
    static PanamaKernels uncached(int bits, boolean int8Activations, boolean exact) {
        return load(bits <= 0 ? FloatVector.SPECIES_PREFERRED.vectorBitSize() : bits, int8Activations, exact);
    }

    private static PanamaKernels load(int bits, boolean int8, boolean exact) {
        try {
            WidthLoader loader = new WidthLoader(bits, exact, PanamaKernels.class.getClassLoader());
            Class<?> c = Class.forName(WidthLoader.PACKAGE + "VecKernels", true, loader);
            Kernels impl = (Kernels) c.getConstructor(boolean.class).newInstance(int8);
            return new PanamaKernels(impl, bits, int8, exact);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot load the " + bits + "-bit vector kernels", e);
        }
    }

    /** The kernel that multiplies {@code e} at this width (a {@link ScalarFallback} when none is fast). */
    public EncodingKernel kernelFor(WeightEncoding e) {
        return ((KernelTable) impl).kernelFor(e);
    }

    /**
     * Below 512 bits, Q4_K as Q4_K_R and Q4_0 as Q4_0_R: their 16-bit integer decoders read 32 nibble
     * bytes as one vector without widening. DecodeProbe, one thread, AVX2, 5632×2048 / 2048×5632:
     * Q4_K_R 6.3 / 5.5 GB/s against Q4_K's float decoder's 4.35-4.42 / 4.73-4.81; Q4_0_R 28.5-28.9 /
     * 30.0-30.2 GFLOP/s (9.0 / 9.4 GB/s of its 5-bit layout) against Q4_0's 23.6 / 25.0; end to end
     * tinyllama Q4_0 tg64 15.8-16.1 → 22.0-22.2 tokens/s (docs/performance.md, session 20).
     *
     * <p>At 512 bits the 16-row layouts (one row per lane, 16-bit decode two slices a pass): Q4_0 →
     * Q4_0_R16, Q8_0 → Q8_0_R16, Q6_K → Q6_K_R16 (levels as bytes, a larger layout), and Q4_K → Q4_K_R16
     * (docs/performance.md, sessions 26-32; on AMD Zen 4 cores too since session 39, where Q4_K's own
     * float decoder had been kept: Q4_K_M tg64 30.3-32.0 against 18.3-18.8 tokens/s).
     */
    @Override
    public WeightEncoding preferredLayout(WeightEncoding e) {
        return preferredLayout(e, bits, EXPANDS_BYTES);
    }

    /**
     * Whether the CPU expands bytes by a mask in one instruction (AVX-512 VBMI2's VPEXPANDB; without it
     * the Vector API's {@code expand} runs as Java code) and bitmap Q8 and Q4 may take their 16-row layout
     * ({@code -Dsieve.bitmap.sliced=false} keeps the rows, for measurements).
     */
    private static final boolean EXPANDS_BYTES = CpuFlags.has("avx512_vbmi2")
            && Boolean.parseBoolean(System.getProperty("sieve.bitmap.sliced", "true"));

    /** Q8_0 → Q8_0_R16 at 512 bits ({@code -Dsieve.q8.sliced=false} keeps Q8_0's rows, for measurements). */
    private static final boolean SLICED_Q8_0 = Boolean.parseBoolean(System.getProperty("sieve.q8.sliced", "true"));
    /** Q6_K → Q6_K_R16 at 512 bits ({@code -Dsieve.q6.sliced=false} keeps Q6_K's rows: for a model mostly in Q6_K, whose 30% growth would pass the memory budget). */
    private static final boolean SLICED_Q6_K = Boolean.parseBoolean(System.getProperty("sieve.q6.sliced", "true"));

    /**
     * Bitmap Q4 at least this dense is decoded as Q4_0_R16 at 512 bits. The 16-row bitmap Q4 decode costs
     * per position, whatever the density: tinyllama-1.1b shape, tg64 17.4 (50%), 18.7 (70%) and 19.2 (90%
     * sparse) tokens/s against dense Q4_0's 31.3 the same minutes (docs/performance.md, session 38). From
     * 50% Q4_0's bytes are at most 1.38× the bitmap's (4.5 bits a weight against 3.25 and more), so these
     * take Q4_0_R16 even where {@link #Q4_BITMAP_SLICES} keeps the sparser ones' bitmap slices for memory.
     */
    static final double Q4_BITMAP_AS_DENSE = 0.5;

    /**
     * Whether bitmap {@code s} takes {@link SlicedTileIndexedEncoding} at 512 bits: where that layout, whose
     * work is per stored value, holds no more than the dense twin's bytes (Q8_0 or Q4_0) to within {@link
     * #TILE_INDEXED_MEMORY}, counted for randomly pruned rows ({@link SlicedTileIndexedEncoding#meanBlockBytes}:
     * its tiles' padding holds a column byte and a value byte or nibble a slot): bitmap Q8 up to c = 116
     * of 256 (55% sparse and sparser), Q4 up to c = 73 (72%). tinyllama-1.1b shape, tg64 / pp128 against
     * the 16-row bitmap layout: Q8 at 90% 73 / 137 against 27 / 97 tokens/s, at 70% 47 / 108 against 23 /
     * 89; Q4 at 90% 74 / 183 against 25 / 97 (session 40); Q8 at 60% (c = 102, 1.001 of Q8_0's bytes in
     * 16-row slices, 0.949 in units since session 42) 30.8, 25.0 / 98, 92 against 19.6, 16.6 / 95, 87, dense
     * Q8_0 20.1, 17.0 / 94, 84 (session 41). Denser the decode still gains (Q8 at 50%: 32–37 against 20–22,
     * session 42) but the memory grows past the dense twin's (1.125 of it; peak RSS 1427–1436 MiB against
     * 1246–1253) (docs/performance.md, sessions 40–42). {@code
     * -Dsieve.bitmap.indexed=N} takes it for capacities up to N instead (0: never), for measurements.
     */
    static boolean tileIndexed(SparseEncoding s) {
        if (TILE_INDEXED_CAPACITY >= 0) {
            return s.capacity() <= TILE_INDEXED_CAPACITY;
        }
        WeightEncoding twin = s.values() == SparseEncoding.Values.Q4 ? Q4_0Encoding.INSTANCE : Q8_0Encoding.INSTANCE;
        return SlicedTileIndexedEncoding.of(s).meanBlockBytes() <= TILE_INDEXED_MEMORY * twin.byteSize(s.blockSize());
    }

    /**
     * How far past the dense twin's bytes the tile-indexed layout may go: 5%, about the spread of one
     * model's resident memory between runs here (Q8_0 1226–1263 MiB), so that a bitmap Q8 model at 60%
     * sparsity (1.001 of Q8_0's bytes held in 16-row slices, session 41) decodes per stored value.
     */
    static final double TILE_INDEXED_MEMORY = 1.05;

    /**
     * Bitmap Q4 that takes neither Q4_0_R16 (from {@link #Q4_BITMAP_AS_DENSE}) nor the tile-indexed layout
     * (above c = 73) is decoded as Q4_0_R16 as well: its own 16-row bitmap slices decode at 0.56–0.6 of
     * Q4_0's speed at every sparsity (q4-u70, tg64 23.2 against dense Q4_0's ~40 tokens/s; session 38: 18.7
     * against 31.3), so they would make a pruned model slower than its dense twin. {@code
     * -Dsieve.bitmap.q4.slices=true} keeps them (memory first: 2.7 bits a weight at 70% against Q4_0's 4.5).
     */
    private static final boolean Q4_BITMAP_SLICES = Boolean.getBoolean("sieve.bitmap.q4.slices");

    private static final int TILE_INDEXED_CAPACITY = Integer.getInteger("sieve.bitmap.indexed", -1);

    /**
     * {@link #preferredLayout(WeightEncoding)} for this matrix: {@link SlicedTileIndexedEncoding} only where
     * the matrix fits its room ({@link SlicedTileIndexedEncoding#holds}), else the layout the encoding takes
     * without it.
     */
    @Override
    public WeightEncoding preferredLayout(Tensor t) {
        WeightEncoding p = preferredLayout(t.encoding());
        if (p instanceof SlicedTileIndexedEncoding x && t.rows() % x.rowGroup() == 0 && t.cols() % x.blockSize() == 0
                && !x.holds(t.encoding(), t.data(), t.rows(), t.cols())) {
            return withoutTileIndex(t.encoding());
        }
        return p;
    }

    private WeightEncoding withoutTileIndex(WeightEncoding e) {
        return preferredLayout(e, bits, EXPANDS_BYTES, false);
    }

    /** The layout {@code e} takes at {@code bits} on a CPU without VPEXPANDB (bitmap types keep their rows). */
    static WeightEncoding preferredLayout(WeightEncoding e, int bits) {
        return preferredLayout(e, bits, false);
    }

    /** As {@link #preferredLayout(WeightEncoding, int)} on a CPU that expands bytes by a mask in one instruction, or not. */
    static WeightEncoding preferredLayout(WeightEncoding e, int bits, boolean expandsBytes) {
        return preferredLayout(e, bits, expandsBytes, true);
    }

    /**
     * As {@link #preferredLayout(WeightEncoding, int, boolean)}; without {@code tileIndexed} sparse bitmap Q8
     * and Q4 take the layout they have when a matrix does not fit {@link SlicedTileIndexedEncoding} (whose VPERMB,
     * AVX-512 VBMI, every CPU with VBMI2's VPEXPANDB has).
     */
    static WeightEncoding preferredLayout(WeightEncoding e, int bits, boolean expandsBytes, boolean tileIndexed) {
        if (bits == 512 && Q4_0SlicedEncoding.bitmapQ4(e) && e.density() >= Q4_BITMAP_AS_DENSE) {
            return Q4_0SlicedEncoding.INSTANCE; // as Q4_0 with zeros at the unset positions (lossless): see Q4_BITMAP_AS_DENSE
        }
        if (tileIndexed && SlicedTileIndexedEncoding.slices(e) && bits == 512 && expandsBytes
                && tileIndexed((SparseEncoding) e)) {
            return SlicedTileIndexedEncoding.of(e); // sparse bitmap Q8 and Q4: each value beside its column, work per stored value
        }
        if (bits == 512 && Q4_0SlicedEncoding.bitmapQ4(e) && !Q4_BITMAP_SLICES) {
            return Q4_0SlicedEncoding.INSTANCE; // never slower than the dense twin: see Q4_BITMAP_SLICES
        }
        if (SlicedBitmapEncoding.slices(e) && bits == 512 && expandsBytes) {
            return SlicedBitmapEncoding.of(e); // bitmap Q8 (Q4 where asked): 16 rows a vector, each step's values expanded by its mask
        }
        if (e instanceof IndexedSparseEncoding i && bits == 512) {
            return SlicedIndexedEncoding.of(i); // a 16-row slice is one vector of 16 lanes
        }
        if (SlicedNMEncoding.slices(e) && bits == 512) {
            return SlicedNMEncoding.of(e); // 2:4 (every value type) and 4:8 with Q8 or Q4 values, likewise
        }
        if (e instanceof SparseEncoding s && !s.isNM() && !s.isPadded() && bits == 512 && s.blockBytes() % 8 != 0) {
            return s.padded(); // bitmap blocks of odd sizes: aligned, for the decoders' loads (a slightly larger layout)
        }
        if (e instanceof SparseEncoding s && bits == 512) {
            SlicedIndexedEncoding i8 = SlicedIndexedEncoding.of(IndexedSparseEncoding.of(8, s.values()));
            if (i8.repacks(e)) {
                return i8; // 4:8 with BF16 or F16 values: as indexed 8:16, one row per lane (a larger layout)
            }
        }
        if (e == Q4_KEncoding.INSTANCE && bits == 512) {
            return Q4_KSlicedEncoding.INSTANCE;
        }
        if (e == Q4_KEncoding.INSTANCE && bits < 512) {
            return Q4_KRepackedEncoding.INSTANCE;
        }
        if (e == Q4_0Encoding.INSTANCE) {
            return bits < 512 ? Q4_0RepackedEncoding.INSTANCE : Q4_0SlicedEncoding.INSTANCE;
        }
        if (e == Q8_0Encoding.INSTANCE && bits == 512 && SLICED_Q8_0) {
            return Q8_0SlicedEncoding.INSTANCE;
        }
        if (e == Q6_KEncoding.INSTANCE && bits == 512 && SLICED_Q6_K) {
            return Q6_KSlicedEncoding.INSTANCE; // a larger layout: 8.56 bits a weight against 6.56
        }
        return e;
    }

    /**
     * Indexed sparse rows: {@code IndexedSparseKernel} decodes them by the encoding's reference (their
     * fast decoder is the 16-row layout's; a 1.1B Q4_I5 model decoded 1.2-1.6 tokens/s in its rows).
     */
    @Override
    public boolean decodesOnlyByReference(WeightEncoding e) {
        return e instanceof IndexedSparseEncoding;
    }

    public int bits() {
        return bits;
    }

    @Override
    public String name() {
        return "panama-" + bits + (int8Activations ? "-int8" : "") + (exact ? "-exact" : "");
    }

    @Override
    public void prepare(Tensor w, Activations x) {
        impl.prepare(w, x);
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        impl.matmul(w, x, out, outStride, r0, r1);
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return impl.dot(a, aOff, b, bOff, n);
    }

    @Override
    public void dots(float[] q, int qOff, float[] x, int xOff, int stride, int rows, int n, float[] out, int outOff) {
        impl.dots(q, qOff, x, xOff, stride, rows, n, out, outOff);
    }

    @Override
    public float expSum(float[] x, int off, int n, float max) {
        return impl.expSum(x, off, n, max);
    }

    @Override
    public void swiglu(float[] gate, float[] up, int off, int n) {
        impl.swiglu(gate, up, off, n);
    }

    @Override
    public void sparseRows(int[] rowPtr, int[] col, float[] values, float[] xT, int n, float[] yT, int r0, int r1) {
        impl.sparseRows(rowPtr, col, values, xT, n, yT, r0, r1);
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        impl.axpy(a, x, xOff, y, yOff, n);
    }

    @Override
    public void weightedSum(float[] w, int wOff, float[] x, int xOff, int stride, int rows, float[] y, int yOff, int n) {
        impl.weightedSum(w, wOff, x, xOff, stride, rows, y, yOff, n);
    }

    @Override
    public void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps) {
        impl.rmsNorm(out, outOff, x, xOff, w, n, eps);
    }

    @Override
    public void dequantizeInt8(byte[] codes, int cOff, float[] scales, int sOff, int group, float[] out, int outOff, int n) {
        impl.dequantizeInt8(codes, cOff, scales, sOff, group, out, outOff, n);
    }

    @Override
    public void dequantizeUint4(byte[] codes, int cOff, float[] scales, float[] mins, int sOff, int group, float[] out,
            int outOff, int n) {
        impl.dequantizeUint4(codes, cOff, scales, mins, sOff, group, out, outOff, n);
    }

    @Override
    public void channelDotInt8(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out,
            int outOff, int outStride) {
        impl.channelDotInt8(x, xOff, heads, n, codes, cOff, rows, out, outOff, outStride);
    }

    @Override
    public void channelDotUint4(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out,
            int outOff, int outStride) {
        impl.channelDotUint4(x, xOff, heads, n, codes, cOff, rows, out, outOff, outStride);
    }

    @Override
    public String toString() {
        return name();
    }
}
