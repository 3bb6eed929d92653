package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.I;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Every {@link SparseEncoding} (N:M and bitmap, F16/BF16/Q8/Q4 values) against float activations.
 * The stored values are never expanded for decode: the <em>activations</em> are brought into the
 * order of the stored values instead, so each stored value is converted once and every multiply
 * is a full vector of stored values (see docs/performance.md, "Sparse decoding", for the variants
 * measured on AVX2, where {@code expand}, {@code compress} and {@code VectorMask.fromLong} are not
 * intrinsified and boxed every vector).
 *
 * <ul>
 *   <li><b>N:M at 8 lanes</b> (a valid block has exactly 4 set bits per byte of its mask): per 16
 *       positions, the low byte of the mask picks 4 activations of the first 8 into lanes 0–3 and
 *       the high byte 4 of the next 8 into lanes 4–7 (two {@code vpermd} from 256-entry tables and
 *       one blend), then one FMA against 8 stored values. No stores, no data-dependent offsets.
 *   <li><b>Bitmap with Q8 values at 16 lanes, where AVX-512 VBMI2 makes byte {@code expand} one
 *       instruction</b> ({@link #EXPAND}): the exception to the rule above. Per 64-weight tile
 *       one VPEXPANDB puts the tile's stored bytes at their positions (zeros elsewhere), and the
 *       tile is multiplied as a dense one: byte k of each 32-bit lane, sign-extended by two
 *       shifts, against activations laid out once per token so that vector k of a tile holds
 *       positions 4i + k ({@link #strided}): no widening across lanes, no per-chunk bookkeeping.
 *       Per position it costs less than the compaction below and than dense Q8_0's decoder
 *       (5632 × 2048, one thread: 1.25 ms against the compaction's 1.87 and Q8_0's 1.54; the loader
 *       gives bitmap Q8 and Q4 matrices of whole 16-row slices the 16-row layout instead, {@link
 *       SlicedBitmapKernel}: 1.3–1.5× this path's decode). Q4 up
 *       to 128 stored of 256 takes the same path from each block's levels unpacked into signed
 *       bytes ({@link #q4Levels}); BF16 expands 32 halves at a time (VPEXPANDW), each 32-bit lane
 *       two floats by a shift and a mask ({@link #rowExpandBF16}); F16 converts a block's halves
 *       first (C2's VCVTPH2PS loop), then expands floats 16 at a time ({@link #rowExpandF16}).
 *   <li><b>Everything else</b> (bitmap at every width, N:M at 4 and 16 lanes): per row, the
 *       activations are compacted into a per-thread buffer (the whole row before its dot, so the
 *       dot's loads never wait on the overlapping stores), N positions at a time ({@code vpermd}
 *       by a table indexed by the N mask bits for N ≤ 8, {@code compress} at 16 lanes, which is
 *       VPCOMPRESSPS on AVX-512), each chunk stored at the running value slot and multiplied by
 *       its tile's scale; then a dot product of the packed values with the buffer, full vectors
 *       plus one tail masked by a per-encoding constant. Value r meets the r-th set bit, exactly
 *       as the reference decodes, for any mask.
 * </ul>
 *
 * <p>Decode reads the activations from the heap {@code float[]} ({@link #matmul}). Prompts of at
 * least {@link #SPARSE_PROMPT_TOKENS} tokens on encodings at most {@link #SPARSE_PROMPT_DENSITY}
 * dense multiply the stored values only, tokens in the lanes ({@link #prompt}); other prompts use
 * {@link FloatPathKernel}'s tiles, fed by {@link #decode}: N:M at 8 lanes spreads each vector of
 * values over its 16 positions in registers, everything else converts a chunk's values once into
 * a buffer, then expands them to their positions N at a time by a table (N ≤ 8) or {@code expand}
 * (16 lanes). Blocks are fixed-size, so a chunk finds its first block directly. The row split and
 * threading are {@link FloatPathKernel}'s and {@code Linear}'s, shared with the dense kernels.
 */
final class SparseKernel extends FloatPathKernel {
    private static final ValueLayout.OfLong LONG_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final int LANES = (1 << N) - 1;
    private static final int BITMAP = SparseEncoding.BITMAP_BLOCK;
    /** Bytes a vector load may read past a block's last value (N halves, or a 16-byte load). */
    private static final int SLACK = 2 * 16 * 4;
    /** Whether per-chunk permutes come from tables (N ≤ 8: 2^N entries) or from compress/expand. */
    private static final boolean TABLE = N <= 8;

    /** CMP[b·N + j]: position of the j-th set bit of b (0 past the count) — compress by table. */
    private static final int[] CMP = new int[TABLE ? N << N : 0];
    /** The same positions moved to lanes N/2.. (the N:M path's upper half). */
    private static final int[] CMP_HI = new int[TABLE ? N << N : 0];
    /** EXP[b·N + i]: rank of bit i among b's set bits; KEEP: −1 where bit i is set — expand by table. */
    private static final int[] EXP = new int[TABLE ? N << N : 0];
    private static final int[] KEEP = new int[TABLE ? N << N : 0];
    /** EXP with source lanes N/2.. (the N:M decode's second 4 values of a vector). */
    private static final int[] EXP_HI = new int[TABLE ? N << N : 0];
    /** PREFIX[n·N + i] = −1 for i &lt; n: keeps the first n lanes of a tail. */
    private static final int[] PREFIX = new int[(N + 1) * N];
    /** Lanes N/2.. : where the N:M path takes the second half of the picked activations. */
    private static final VectorMask<Integer> UPPER = I.indexInRange(-N / 2, N / 2);

    static {
        for (int b = 0; TABLE && b < 1 << N; b++) {
            for (int i = 0, r = 0; i < N; i++) {
                if ((b >>> i & 1) != 0) {
                    CMP[b * N + r] = i;
                    if (r < N / 2) {
                        CMP_HI[b * N + N / 2 + r] = i;
                    }
                    EXP_HI[b * N + i] = N / 2 + r;
                    EXP[b * N + i] = r++;
                    KEEP[b * N + i] = -1;
                }
            }
        }
        for (int n = 0; n <= N; n++) {
            Arrays.fill(PREFIX, n * N, n * N + n, -1);
        }
    }

    /** Per-thread buffers: compacted activations of one row (grown to the widest row seen), converted values of one block. */
    private static final class Buffers {
        float[] xc = new float[4096 + 2 * N];
        float[] vals = new float[KC + 2 * N];

        float[] compacted(int slots) {
            if (xc.length < slots + 2 * N) {
                xc = new float[slots + 2 * N];
            }
            return xc;
        }

        float[] values(int slots) {
            if (vals.length < slots + 2 * N) {
                vals = new float[slots + 2 * N];
            }
            return vals;
        }

        float[] xs = new float[0];
        /** One Q4 block's levels (at most 128) and the 64-byte loads' reach past them. */
        final byte[] levels = new byte[2 * 64 + 64];

        float[] strided(int cols) {
            if (xs.length < cols) {
                xs = new float[cols];
            }
            return xs;
        }
    }

    private static final ThreadLocal<Buffers> BUF = ThreadLocal.withInitial(Buffers::new);

    private final SparseEncoding e;
    private final SparseEncoding.Values values;
    private final int bs;
    private final long bb;
    private final int tiles;
    private final int tileBits;
    private final int masksAt;
    private final int valuesAt;
    private final boolean scaled;
    private final int cap;
    /** Whether prompts of {@link #SPARSE_PROMPT_TOKENS} or more take {@link #prompt} rather than the dense tiles. */
    private final boolean sparsePrompt;
    /** N:M with 8 lanes: the register path. */
    private final boolean nm8;
    /** Bitmap at 16 lanes on VBMI2 (Q4 up to 128 of 256): decode by expand ({@link #rowExpandQ8}, {@link #rowExpandBF16}, {@link #rowExpandF16}). */
    private final boolean expand;
    /** Values in full vectors (F16/BF16/Q8), and the tail's lane count. */
    private final int full;
    private final int tail;
    /** Q4: values 0..h in low nibbles, h..cap in high nibbles; full vector steps and the tail's lanes. */
    private final int h;
    private final int q4Full;
    private final int tailLo;
    private final int tailHi;

    SparseKernel(SparseEncoding e) {
        super(e);
        this.e = e;
        this.values = e.values();
        this.bs = e.blockSize();
        this.bb = e.blockBytes();
        this.tiles = e.tiles();
        this.tileBits = e.tileBits();
        this.masksAt = e.masksAt();
        this.valuesAt = e.valuesAt();
        this.scaled = values == SparseEncoding.Values.Q8 || values == SparseEncoding.Values.Q4;
        this.cap = e.capacity();
        this.nm8 = N == 8 && e.isNM();
        // Q4 only up to 128 stored of 256 (50% and sparser): one 64-byte load holds a block's packed levels.
        this.expand = EXPAND && !e.isNM() && (values != SparseEncoding.Values.Q4 || cap <= 128);
        this.sparsePrompt = e.density() <= SPARSE_PROMPT_DENSITY;
        this.full = cap - cap % N;
        this.tail = cap % N;
        this.h = cap / 2;
        this.q4Full = h - h % N;
        this.tailLo = h - q4Full;
        this.tailHi = Math.min(N, cap - h - q4Full);
    }

    private long mask(MemorySegment w, long blk, int t) {
        long o = blk + masksAt + (long) t * (tileBits / 8);
        return tileBits == 64 ? w.get(LONG_LE, o) : w.get(Half.INT_LE, o) & 0xFFFF_FFFFL;
    }

    private float scale(MemorySegment w, long blk, int t) {
        return scaled ? Vec.scale(w, blk + 2L * t) : 1f;
    }

    /**
     * Whether bitmap Q8 decode expands each tile's bytes ({@link #rowExpandQ8}): 16 lanes and a CPU
     * with AVX-512 VBMI2 (without it C2 has no VPEXPANDB and {@code expand} falls back to Java).
     * System property {@code sieve.sparse.expand=false} turns it off, for measurements.
     */
    static final boolean EXPAND = N == 16 && dev.sieve.kernel.panama.CpuFlags.has("avx512_vbmi2")
            && Boolean.parseBoolean(System.getProperty("sieve.sparse.expand", "true"));
    private static final jdk.incubator.vector.VectorSpecies<Byte> B64 = jdk.incubator.vector.ByteVector.SPECIES_512;

    /**
     * One token's activations ({@code x[xo..xo + cols)}) reordered for {@link #rowExpandQ8}: in each
     * 64-column tile, vector k (floats 16k..16k + 15) holds columns 4i + k, the positions whose weights
     * are byte k of the expanded tile's 32-bit lanes.
     */
    static void strided(float[] x, int xo, int cols, float[] xs) {
        for (int t = 0; t < cols; t += 64) {
            for (int k = 0; k < 4; k++) {
                for (int i = 0; i < 16; i++) {
                    xs[t + 16 * k + i] = x[xo + t + 4 * i + k];
                }
            }
        }
    }

    /**
     * Row {@code o} of a bitmap Q8 matrix times the {@link #strided} activations: per tile, its stored
     * bytes expanded to their 64 positions by the tile's mask (VPEXPANDB), then four sign-extending
     * shift pairs, conversions and FMAs, and the tile's scale. A tile's 64-byte load may read past its
     * block (up to 64 bytes; the caller's {@code safe} bound leaves {@link #SLACK}); set bits past the
     * block's capacity are dropped from the mask, as the reference gives them zero.
     */
    private float rowExpandQ8(MemorySegment w, long o, int nb, float[] xs, byte[] levels) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long blk = o + bb * b, v = blk + valuesAt;
            MemorySegment src = w;
            if (levels != null) { // Q4: the block's levels as signed bytes, in value order
                q4Levels(w, v, levels);
                // A segment over the array per block, not one kept: C2 does away with this one, and one
                // kept in the buffers (stores through it too) made Q4_B128 decode 20% slower (tg64 12.2,
                // 11.8 against 15.0, 15.9, alternating).
                src = MemorySegment.ofArray(levels);
                v = 0;
            }
            int left = cap; // values not yet met: set bits past the capacity decode to zero
            for (int t = 0; t < 4; t++) {
                long m = w.get(LONG_LE, blk + masksAt + 8L * t);
                int pc = Long.bitCount(m);
                if (pc > left) { // never in a valid block: keep the tile's first `left` set bits (PDEP)
                    m = Long.expand((1L << left) - 1, m);
                    pc = left;
                }
                left -= pc;
                IntVector u = jdk.incubator.vector.ByteVector.fromMemorySegment(B64, src, v, Vec.LE)
                        .expand(VectorMask.fromLong(B64, m)).reinterpretAsInts();
                v += pc;
                int xo = BITMAP * b + 64 * t;
                FloatVector p = Vec.i2f(u.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24))
                        .mul(FloatVector.fromArray(F, xs, xo));
                p = Vec.i2f(u.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 24)).fma(FloatVector.fromArray(F, xs, xo + 16), p);
                p = Vec.i2f(u.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 24)).fma(FloatVector.fromArray(F, xs, xo + 32), p);
                p = Vec.i2f(u.lanewise(VectorOperators.ASHR, 24)).fma(FloatVector.fromArray(F, xs, xo + 48), p);
                acc = p.fma(FloatVector.broadcast(F, Vec.scale(w, blk + 2L * t)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    private static final jdk.incubator.vector.VectorSpecies<Short> S32 = jdk.incubator.vector.ShortVector.SPECIES_512;

    /**
     * A Q4 bitmap block's levels (q − 8, so that an expanded zero is a zero weight) as signed bytes in
     * value order: the low nibbles of its first h = cap/2 bytes, then the high nibbles (one 64-byte
     * load: capacities up to 128, {@link #expand}), into {@code levels[0..cap)}.
     */
    private void q4Levels(MemorySegment w, long v, byte[] levels) {
        jdk.incubator.vector.ByteVector q = jdk.incubator.vector.ByteVector.fromMemorySegment(B64, w, v, Vec.LE);
        q.and((byte) 15).sub((byte) 8).intoArray(levels, 0);
        q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).intoArray(levels, h);
    }

    /** As {@link #strided} for two-byte values: in each 32 columns, the even ones first, then the odd ones. */
    static void strided2(float[] x, int xo, int cols, float[] xs) {
        for (int t = 0; t < cols; t += 32) {
            for (int i = 0; i < 16; i++) {
                xs[t + i] = x[xo + t + 2 * i];
                xs[t + 16 + i] = x[xo + t + 2 * i + 1];
            }
        }
    }

    /**
     * Row {@code o} of a bitmap BF16 matrix times the {@link #strided2} activations: per 32 positions
     * the stored halves expanded to their places (VPEXPANDW), then each 32-bit lane's low half
     * (shifted up) and high half (masked) are the even and odd positions' floats.
     */
    private float rowExpandBF16(MemorySegment w, long o, int nb, float[] xs) {
        FloatVector acc = FloatVector.zero(F), acc2 = acc;
        for (int b = 0; b < nb; b++) {
            long blk = o + bb * b, v = blk + valuesAt;
            int left = cap;
            for (int t = 0; t < 4; t++) {
                long m = w.get(LONG_LE, blk + masksAt + 8L * t);
                int pc = Long.bitCount(m);
                if (pc > left) { // never in a valid block: keep the tile's first `left` set bits
                    m = Long.expand((1L << left) - 1, m);
                }
                left -= Long.bitCount(m);
                int xo = BITMAP * b + 64 * t;
                IntVector u = jdk.incubator.vector.ShortVector.fromMemorySegment(S32, w, v, Vec.LE)
                        .expand(VectorMask.fromLong(S32, m & 0xFFFF_FFFFL)).reinterpretAsInts();
                v += 2L * Long.bitCount(m & 0xFFFF_FFFFL);
                acc = u.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, xs, xo), acc);
                acc2 = u.and(0xFFFF0000).reinterpretAsFloats().fma(FloatVector.fromArray(F, xs, xo + 16), acc2);
                u = jdk.incubator.vector.ShortVector.fromMemorySegment(S32, w, v, Vec.LE)
                        .expand(VectorMask.fromLong(S32, m >>> 32)).reinterpretAsInts();
                v += 2L * Long.bitCount(m >>> 32);
                acc = u.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, xs, xo + 32), acc);
                acc2 = u.and(0xFFFF0000).reinterpretAsFloats().fma(FloatVector.fromArray(F, xs, xo + 48), acc2);
            }
        }
        return acc.add(acc2).reduceLanes(VectorOperators.ADD);
    }

    /**
     * Row {@code o} of a bitmap F16 matrix times the activations at {@code x[xo..]}: each block's
     * stored halves converted to floats first ({@link Vec#halvesToFloats}, C2's VCVTPH2PS loop), then
     * spread to their positions 16 at a time (VEXPANDPS by the mask's 16 bits) and multiplied.
     */
    private float rowExpandF16(MemorySegment w, long o, float[] x, int xo, int nb, float[] buf) {
        FloatVector acc = FloatVector.zero(F), acc2 = acc;
        for (int b = 0; b < nb; b++) {
            long blk = o + bb * b;
            Vec.halvesToFloats(w, blk + valuesAt, buf, 0, cap);
            int r = 0;
            for (int t = 0; t < 4; t++) {
                long m = w.get(LONG_LE, blk + masksAt + 8L * t);
                int pc = Long.bitCount(m);
                if (pc > cap - r) { // never in a valid block: keep the tile's first cap − r set bits
                    m = Long.expand((1L << (cap - r)) - 1, m);
                }
                int x0 = xo + BITMAP * b + 64 * t;
                for (int c = 0; c < 64; c += 32) {
                    long lo = (m >>> c) & 0xFFFF, hi = (m >>> (c + 16)) & 0xFFFF;
                    acc = FloatVector.fromArray(F, buf, r).expand(VectorMask.fromLong(F, lo)).fma(FloatVector.fromArray(F, x, x0 + c), acc);
                    r += Long.bitCount(lo);
                    acc2 = FloatVector.fromArray(F, buf, r).expand(VectorMask.fromLong(F, hi)).fma(FloatVector.fromArray(F, x, x0 + c + 16), acc2);
                    r += Long.bitCount(hi);
                }
            }
        }
        return acc.add(acc2).reduceLanes(VectorOperators.ADD);
    }

    // ---- conversions of stored values (each one its own small method, so C2 inlines them) ----

    private static FloatVector q8(MemorySegment w, long off) {
        return Vec.b2f(Vec.bytes(w, off), 0);
    }

    /** N bytes from {@code off}, zero-extended into int lanes (Q4: two nibbles each). */
    private static IntVector u8(MemorySegment w, long off) {
        return (IntVector) Vec.bytes(w, off).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    private static FloatVector lo(IntVector u) {
        return (FloatVector) u.and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
    }

    private static FloatVector hi(IntVector u) {
        return (FloatVector) u.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0);
    }

    private static FloatVector keepFirst(FloatVector v, int n) {
        return v.reinterpretAsInts().and(IntVector.fromArray(I, PREFIX, n * N)).reinterpretAsFloats();
    }

    // ---- decode: 1–3 tokens, two rows at a time ----

    /**
     * Decode (fewer than {@link #TILE_TOKENS} tokens) reads the activations from the float array
     * itself: the compaction's data-dependent loads from a {@code MemorySegment} parameter kept
     * their bounds and liveness checks and ran 1.4× slower (measured). Prompts take the tiles.
     */
    @Override
    boolean panels(int tokens) {
        return !(sparsePrompt && tokens >= SPARSE_PROMPT_TOKENS) && super.panels(tokens);
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        if (sparsePrompt && x.tokens() >= SPARSE_PROMPT_TOKENS && x.encoding() == F32Encoding.INSTANCE) {
            prompt(w, x, out, outStride, r0, r1);
            return;
        }
        if (x.tokens() >= TILE_TOKENS || x.encoding() != F32Encoding.INSTANCE) {
            super.matmul(w, x, out, outStride, r0, r1);
            return;
        }
        MemorySegment ws = w.data();
        long rb = w.rowBytes();
        int cols = x.cols();
        int nb = cols / bs;
        float[] xf = x.floats();
        if (expand) {
            Buffers buf = BUF.get();
            float[] xs = buf.strided(cols), vals = buf.values(cap + N);
            for (int t = 0; t < x.tokens(); t++) {
                switch (values) { // the activations in the order of the expanded values' lanes (F16: as they are)
                    case Q8, Q4 -> strided(xf, t * cols, cols, xs);
                    case BF16 -> strided2(xf, t * cols, cols, xs);
                    case F16 -> { }
                }
                for (int r = r0; r < r1; r++) {
                    long o = r * rb;
                    // The tensor's last rows: vector loads could run off the segment, so take the reference.
                    out[t * outStride + r] = o + nb * bb + SLACK > ws.byteSize() ? e.dotQuantized(ws, o, x.encoded(), 4L * t * cols, cols)
                            : switch (values) {
                                case Q8 -> rowExpandQ8(ws, o, nb, xs, null);
                                case Q4 -> rowExpandQ8(ws, o, nb, xs, buf.levels);
                                case BF16 -> rowExpandBF16(ws, o, nb, xs);
                                case F16 -> rowExpandF16(ws, o, xf, t * cols, nb, vals);
                            };
                }
            }
            return;
        }
        float[] xc = BUF.get().compacted(nb * cap + bs); // + bs: a last block with too many bits
        for (int r = r0; r < r1; r++) {
            long o = r * rb;
            boolean safe = o + nb * bb + SLACK <= ws.byteSize();
            for (int t = 0; t < x.tokens(); t++) {
                // The tensor's last rows: vector loads could run off the segment, so take the reference.
                out[t * outStride + r] = safe ? row(ws, o, xf, t * cols, nb, xc)
                        : e.dotQuantized(ws, o, x.encoded(), 4L * t * cols, cols);
            }
        }
    }

    /** Row {@code o}'s product with the activations at {@code x[xo..]}. */
    private float row(MemorySegment w, long o, float[] x, int xo, int nb, float[] xc) {
        if (nm8) {
            return switch (values) {
                case Q8 -> nmQ8(w, o, x, xo, nb);
                case Q4 -> nmQ4(w, o, x, xo, nb);
                case F16 -> nmF16(w, o, x, xo, nb);
                case BF16 -> nmBF16(w, o, x, xo, nb);
            };
        }
        // The whole row is compacted before its dot: the dot's loads then find the compaction's
        // overlapping stores long retired (no store-to-load forwarding stalls).
        if (bs == BITMAP) {
            compactBitmap(w, o, x, xo, nb, xc);
        } else {
            compactNM(w, o, x, xo, nb, xc);
        }
        return switch (values) {
            case Q8 -> dotQ8(w, o, nb, xc);
            case Q4 -> dotQ4(w, o, nb, xc);
            case F16 -> dotF16(w, o, nb, xc);
            case BF16 -> dotBF16(w, o, nb, xc);
        };
    }

    /**
     * The activations at the row's set bits, in value order and times their tile's scale, into
     * {@code xc}: block b's value r meets slot {@code b·cap + r}. Slots a short block leaves are
     * zeroed. Constant loop bounds (4 tiles of 64), so C2 unrolls the chunks of a tile.
     */
    private void compactBitmap(MemorySegment w, long o, float[] x, int x0, int nb, float[] xc) {
        for (int b = 0; b < nb; b++) {
            long blk = o + bb * b;
            int xo = x0 + BITMAP * b;
            int r = b * cap, end = r + cap;
            for (int t = 0; t < 4; t++) {
                long m = w.get(LONG_LE, blk + masksAt + 8L * t);
                int xt = xo + 64 * t;
                FloatVector d = FloatVector.broadcast(F, scale(w, blk, t));
                for (int c = 0; c < 64; c += N) {
                    int bits = (int) (m >>> c) & LANES;
                    compress(FloatVector.fromArray(F, x, xt + c), bits).mul(d).intoArray(xc, r);
                    r += Integer.bitCount(bits);
                }
            }
            if (r < end) {
                Arrays.fill(xc, r, end, 0f); // a block with fewer bits than values: the rest meet zeros
            }
        }
    }

    /** As {@link #compactBitmap} for N:M blocks (one 32-bit tile), at the widths without the register path. */
    private void compactNM(MemorySegment w, long o, float[] x, int x0, int nb, float[] xc) {
        for (int b = 0; b < nb; b++) {
            long blk = o + bb * b;
            int xo = x0 + 32 * b;
            int r = b * cap, end = r + cap;
            long m = mask(w, blk, 0);
            FloatVector d = FloatVector.broadcast(F, scale(w, blk, 0));
            for (int c = 0; c < 32; c += N) {
                int bits = (int) (m >>> c) & LANES;
                compress(FloatVector.fromArray(F, x, xo + c), bits).mul(d).intoArray(xc, r);
                r += Integer.bitCount(bits);
            }
            if (r < end) {
                Arrays.fill(xc, r, end, 0f);
            }
        }
    }

    /** {@code x}'s lanes at the set bits of {@code bits}, moved to the front (the rest don't care). */
    private static FloatVector compress(FloatVector x, int bits) {
        if (!TABLE) {
            return x.compress(VectorMask.fromLong(F, bits));
        }
        return IntVector.fromArray(I, CMP, bits * N).selectFrom(x.reinterpretAsInts()).reinterpretAsFloats();
    }

    // The row's stored values dotted with its compacted activations, block by block: full vectors,
    // then one tail whose lanes past the capacity are zeroed (they hold the next block's bytes).

    private float dotQ8(MemorySegment w, long o, int nb, float[] xc) {
        FloatVector p = FloatVector.zero(F), q = p;
        for (int b = 0; b < nb; b++) {
            long v = o + bb * b + valuesAt;
            int x0 = b * cap;
            int j = 0;
            for (; j < full; j += N) {
                p = q8(w, v + j).fma(FloatVector.fromArray(F, xc, x0 + j), p);
            }
            if (tail > 0) {
                q = keepFirst(q8(w, v + j), tail).fma(FloatVector.fromArray(F, xc, x0 + j), q);
            }
        }
        return Vec.sum(p.add(q));
    }

    private float dotF16(MemorySegment w, long o, int nb, float[] xc) {
        FloatVector p = FloatVector.zero(F), q = p;
        for (int b = 0; b < nb; b++) {
            long v = o + bb * b + valuesAt;
            int x0 = b * cap;
            int j = 0;
            for (; j < full; j += N) {
                p = Vec.f16(w, v + 2L * j).fma(FloatVector.fromArray(F, xc, x0 + j), p);
            }
            if (tail > 0) {
                // Past the last value lie the next block's masks, which may read as NaN: zero them.
                q = keepFirst(Vec.f16(w, v + 2L * j), tail).fma(FloatVector.fromArray(F, xc, x0 + j), q);
            }
        }
        return Vec.sum(p.add(q));
    }

    private float dotBF16(MemorySegment w, long o, int nb, float[] xc) {
        FloatVector p = FloatVector.zero(F), q = p;
        for (int b = 0; b < nb; b++) {
            long v = o + bb * b + valuesAt;
            int x0 = b * cap;
            int j = 0;
            for (; j < full; j += N) {
                p = Vec.bf16(w, v + 2L * j).fma(FloatVector.fromArray(F, xc, x0 + j), p);
            }
            if (tail > 0) {
                q = keepFirst(Vec.bf16(w, v + 2L * j), tail).fma(FloatVector.fromArray(F, xc, x0 + j), q);
            }
        }
        return Vec.sum(p.add(q));
    }

    /** Q4: byte j holds value j (low nibble, j &lt; h) and value h + j (high nibble). */
    private float dotQ4(MemorySegment w, long o, int nb, float[] xc) {
        FloatVector p = FloatVector.zero(F), q = p;
        for (int b = 0; b < nb; b++) {
            long v = o + bb * b + valuesAt;
            int x0 = b * cap, x1 = x0 + h;
            int j = 0;
            for (; j < q4Full; j += N) {
                IntVector u = u8(w, v + j);
                p = lo(u).fma(FloatVector.fromArray(F, xc, x0 + j), p);
                q = hi(u).fma(FloatVector.fromArray(F, xc, x1 + j), q);
            }
            if (tailHi > 0) {
                IntVector u = u8(w, v + j);
                p = keepFirst(lo(u), tailLo).fma(FloatVector.fromArray(F, xc, x0 + j), p);
                q = keepFirst(hi(u), tailHi).fma(FloatVector.fromArray(F, xc, x1 + j), q);
            }
        }
        return Vec.sum(p.add(q));
    }

    // ---- N:M at 8 lanes: activations picked in registers ----

    /**
     * The 8 activations (of the 16 at {@code xo}) at the set bits of {@code m}'s low 16 bits: the
     * low byte's 4 into lanes 0–3, the high byte's 4 into lanes 4–7.
     */
    private static FloatVector pick(float[] x, int xo, int m) {
        IntVector x0 = FloatVector.fromArray(F, x, xo).reinterpretAsInts();
        IntVector x1 = FloatVector.fromArray(F, x, xo + N).reinterpretAsInts();
        IntVector p0 = IntVector.fromArray(I, CMP, (m & 0xFF) * N).selectFrom(x0);
        IntVector p1 = IntVector.fromArray(I, CMP_HI, ((m >>> 8) & 0xFF) * N).selectFrom(x1);
        return p0.blend(p1, UPPER).reinterpretAsFloats();
    }

    private int nmMask(MemorySegment w, long blk) {
        return w.get(Half.INT_LE, blk + masksAt);
    }

    // One row per method: two rows' worth of picks exceeded C2's NodeCountInliningCutoff, which
    // left pick() and the scale calls out of line (and, for F16/Q4, boxed every vector).

    private float nmQ8(MemorySegment w, long o, float[] x, int x0, int nb) {
        FloatVector s = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long blk = o + bb * b;
            int xo = x0 + 32 * b;
            int m = nmMask(w, blk);
            FloatVector p = q8(w, blk + valuesAt).mul(pick(x, xo, m));
            p = q8(w, blk + valuesAt + 8).fma(pick(x, xo + 16, m >>> 16), p);
            s = p.fma(FloatVector.broadcast(F, Vec.scale(w, blk)), s);
        }
        return Vec.sum(s);
    }

    private float nmQ4(MemorySegment w, long o, float[] x, int x0, int nb) {
        FloatVector s = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long blk = o + bb * b;
            int xo = x0 + 32 * b;
            int m = nmMask(w, blk);
            IntVector u = u8(w, blk + valuesAt); // values 0–7 in the low nibbles, 8–15 in the high
            FloatVector p = lo(u).mul(pick(x, xo, m));
            p = hi(u).fma(pick(x, xo + 16, m >>> 16), p);
            s = p.fma(FloatVector.broadcast(F, Vec.scale(w, blk)), s);
        }
        return Vec.sum(s);
    }

    /** Half a block per step: one half-to-float and one pick per iteration keep C2 under its node cutoff. */
    private float nmF16(MemorySegment w, long o, float[] x, int x0, int nb) {
        FloatVector s = FloatVector.zero(F);
        for (int hb = 0; hb < 2 * nb; hb++) {
            long blk = o + bb * (hb >> 1);
            int half = hb & 1;
            s = Vec.f16(w, blk + valuesAt + 16 * half).fma(pick(x, x0 + 16 * hb, nmMask(w, blk) >>> (16 * half)), s);
        }
        return Vec.sum(s);
    }

    /** Half a block per step: one half-to-float and one pick per iteration keep C2 under its node cutoff. */
    private float nmBF16(MemorySegment w, long o, float[] x, int x0, int nb) {
        FloatVector s = FloatVector.zero(F);
        for (int hb = 0; hb < 2 * nb; hb++) {
            long blk = o + bb * (hb >> 1);
            int half = hb & 1;
            s = Vec.bf16(w, blk + valuesAt + 16 * half).fma(pick(x, x0 + 16 * hb, nmMask(w, blk) >>> (16 * half)), s);
        }
        return Vec.sum(s);
    }

    // ---- prompts of many tokens: stored values only, tokens in the lanes ----

    /**
     * From this many tokens on (one full token block), prompts of sparse enough encodings multiply
     * the stored values only ({@link #prompt}) instead of running the dense tiles over the zeros: at
     * 16 tokens (half a block) the tiles were faster (12.2 against 14.0 ms, Q8_B77 5632 × 2048), at 32
     * the stored values (14.4 against 19.3 ms).
     */
    static final int SPARSE_PROMPT_TOKENS = 4 * N;
    /**
     * Up to this density. Against the 6 × 4 tiles the stored values were even at 50% and 1.2-1.4x
     * faster at 30%; against {@link Panels} (session 27, pp128 at 2 threads) they are 0.77x at 30%
     * (Q8_B77 88-90 against 113-114 tokens/s, Q4 88 against 116-119) and 1.4x at 10% (164-167
     * against 115-117): even near 20% (docs/performance.md). System property {@code
     * sieve.sparse.promptDensity}, for measurements.
     */
    static final double SPARSE_PROMPT_DENSITY = Double.parseDouble(System.getProperty("sieve.sparse.promptDensity", "0.2"));
    /** Tokens per block of {@link #rows2x4}: four vectors, so two rows × four vectors = 8 independent FMA chains. */
    private static final int TB = 4 * N;
    /** Columns per pass over a row chunk: their activations of one token block stay in L1 (32 KiB at 8 lanes). */
    private static final int COL_BLOCK = 256;
    /** Tokens per pass of {@link #prompt}: eight token blocks (256 at 8 lanes). */
    private static final int GROUP_TOKENS = 8 * TB;
    /** Bytes of decoded entries (column offset and scaled value) kept per row chunk: in L2 beside the activations. */
    private static final int CHUNK_BYTES = 96 * 1024;

    /** Per-thread buffers of {@link #prompt}. */
    private static final class Prompt {
        float[] xT = new float[0];
        int[] idx = new int[0];
        float[] val = new float[0];
        float[] acc = new float[0];
        final float[] dense = new float[BITMAP];

        void size(int xs, int entries, int accs) {
            if (acc.length < accs) {
                acc = new float[accs];
            }
            if (xT.length < xs) {
                xT = new float[xs];
            }
            if (idx.length < entries + 16) { // + 16: entries() may write that far past the last
                idx = new int[entries + 16];
                val = new float[entries + 16];
            }
        }
    }

    private static final ThreadLocal<Prompt> PROMPT = ThreadLocal.withInitial(Prompt::new);

    /**
     * A prompt's product touching only the stored values. The activations are transposed once per
     * call into blocks of {@link #TB} tokens (column c's tokens consecutive, see {@link #transpose}),
     * so a stored value w at column c meets N tokens in one FMA: {@code acc[t..t+N) += w · x[c][t..t+N)}.
     * Rows go by chunks: each row is decoded once into (column offset, scaled value) entries by
     * walking its masks; then, per token block and per 256 columns (whose activations stay in L1),
     * the chunk's rows pass over their entries two at a time. Work is proportional to the stored
     * values: at 70% sparsity a prompt does 30% of the dense FLOPs, though each FMA needs its own
     * activation load (the dense tiles reuse one for two rows), so the gain is 1.2-1.4x, not 3.3x.
     * Each output is one lane's chain of FMAs in entry order: the same in every execution mode.
     */
    private void prompt(Tensor w, Activations x, float[] out, int os, int r0, int r1) {
        int tokens = x.tokens();
        // Tokens by groups, so the transposed activations stay small (a 2048-token prompt over 5632
        // columns would need 46 MB a thread); the rows' entries are decoded again per group.
        for (int g0 = 0; g0 < tokens; g0 += GROUP_TOKENS) {
            promptGroup(w, x, g0, Math.min(GROUP_TOKENS, tokens - g0), out, os, r0, r1);
        }
    }

    /** {@link #prompt} for tokens {@code [g0, g0 + tokens)}. */
    private void promptGroup(Tensor w, Activations x, int g0, int tokens, float[] out, int os, int r0, int r1) {
        MemorySegment ws = w.data();
        long rb = w.rowBytes();
        int cols = x.cols(), nb = cols / bs;
        int tp = (tokens + N - 1) / N * N;
        int perRow = nb * cap;
        int chunk = Math.max(2, Math.min(64, CHUNK_BYTES / (8 * perRow)) & ~1);
        Prompt p = PROMPT.get();
        p.size((tp + TB - 1) / TB * TB * cols, chunk * perRow, chunk * TB);
        float[] xT = p.xT, val = p.val, acc = p.acc;
        int[] idx = p.idx;
        // Each thread transposes the whole group for itself (128 tokens: 0.2-0.45 ms over 2048 columns,
        // 0.5-0.9 over 5632, 1-4% of a thread's share of the product); one shared copy would need a
        // hand-off between the threads.
        transpose(x.floats(), g0 * cols, tokens, cols, xT, tp);
        float[] vals = BUF.get().values(perRow);
        int perBlock = COL_BLOCK / bs * cap; // entries of a row per column block (the last may have fewer)
        for (int c0 = r0; c0 < r1; c0 += chunk) {
            int c1 = Math.min(r1, c0 + chunk), rows = c1 - c0;
            for (int r = c0; r < c1; r++) {
                entries(ws, r * rb, nb, vals, p.dense, idx, val, (r - c0) * perRow);
            }
            for (int t0 = 0; t0 < tp; t0 += TB) {
                int width = Math.min(TB, tp - t0);
                int xb = t0 * cols; // token block t0 / TB: columns × TB floats
                Arrays.fill(acc, 0, rows * TB, 0f);
                for (int k0 = 0; k0 < perRow; k0 += perBlock) {
                    int n = Math.min(perBlock, perRow - k0);
                    for (int i = 0; i < rows; i += 2) {
                        int i2 = Math.min(i + 1, rows - 1); // an odd last row is taken twice
                        int e0 = i * perRow + k0, e1 = i2 * perRow + k0;
                        if (width == TB) {
                            rows2x4(idx, val, e0, e1, n, xT, xb, acc, i * TB, i2 * TB);
                        } else {
                            for (int v = 0; v < width; v += N) {
                                rows2x1(idx, val, e0, e1, n, xT, xb + v, acc, i * TB + v, i2 * TB + v);
                            }
                        }
                    }
                }
                int m = Math.min(width, tokens - t0);
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < m; j++) {
                        out[(g0 + t0 + j) * os + c0 + i] = acc[i * TB + j];
                    }
                }
            }
        }
    }

    /**
     * The activations by token blocks of {@link #TB}: token {@code t = t0 + l} of column c at {@code
     * xT[t0·cols + c·TB + l]}, so the columns of one block lie together (a block of 256 columns is
     * 32 KiB at 8 lanes: L1), token t read from {@code x[from + t·cols..]}; tokens past {@code tokens}
     * up to {@code tp} are zero.
     */
    private static void transpose(float[] x, int from, int tokens, int cols, float[] xT, int tp) {
        // 16 columns at a time: each token's 16 reads are contiguous, and the 16 × TB floats they
        // fill stay in L1 while the block's tokens pass (3.2 ns a float element by element with
        // t % TB per element; 0.8-1.7 ns so).
        for (int t0 = 0; t0 < tp; t0 += TB) {
            int base = t0 * cols, n = Math.min(TB, tp - t0);
            for (int c0 = 0; c0 < cols; c0 += 16) {
                int c1 = Math.min(cols, c0 + 16);
                for (int l = 0; l < n; l++) {
                    int t = t0 + l;
                    int row = from + t * cols;
                    for (int c = c0; c < c1; c++) {
                        xT[base + c * TB + l] = t < tokens ? x[row + c] : 0f;
                    }
                }
            }
        }
    }

    /**
     * The row at {@code o} as {@code nb·cap} entries from {@code at}: entry i's activation offset
     * {@code idx[i] = column · TB} and its value times its tile's scale; value r of a block meets its
     * r-th set bit, as the reference decodes (set bits past the capacity are zero, so they are
     * skipped; a block with fewer bits than values pads with zero entries).
     */
    private void entries(MemorySegment w, long o, int nb, float[] vals, float[] dense, int[] idx, float[] val, int at) {
        int k = at;
        if (o + nb * bb + SLACK > w.byteSize()) {
            // The tensor's last rows: vector loads could run off the segment, so take the reference.
            for (int b = 0; b < nb; b++) {
                e.dequantize(w, o + bb * b, dense, 0, bs);
                int end = k + cap;
                for (int i = 0; i < bs && k < end; i++) {
                    if (dense[i] != 0f) {
                        idx[k] = (b * bs + i) * TB;
                        val[k++] = dense[i];
                    }
                }
                for (; k < end; k++) {
                    idx[k] = 0;
                    val[k] = 0f;
                }
            }
            return;
        }
        for (int b = 0; b < nb; b++) {
            unpack(w, o + bb * b + valuesAt, vals, b * cap);
        }
        for (int b = 0; b < nb; b++) {
            long blk = o + bb * b;
            int r = b * cap, end = r + cap;
            for (int t = 0; t < tiles && r < end; t++) {
                long m = mask(w, blk, t);
                float d = scale(w, blk, t);
                int base = (b * bs + t * tileBits) * TB;
                int n = Long.bitCount(m);
                if (COMPRESS && n <= end - r) { // else (bits past the capacity) bit by bit below
                    spreadEntries(m, base, idx, k);
                    for (int j = 0; j < n; j += N) {
                        FloatVector.fromArray(F, vals, r + j).mul(d).intoArray(val, k + j);
                    }
                    k += n;
                    r += n;
                    continue;
                }
                for (; m != 0 && r < end; m &= m - 1, r++) {
                    idx[k] = base + Long.numberOfTrailingZeros(m) * TB;
                    val[k++] = vals[r] * d;
                }
            }
            for (; r < end; r++) {
                idx[k] = 0;
                val[k++] = 0f;
            }
        }
    }

    /**
     * Whether {@link #entries} turns masks into offsets 16 bits at a time with a compress (VPCOMPRESSD
     * at 16 lanes) rather than bit by bit; not below 16 lanes, where the compress is no instruction.
     */
    private static final boolean COMPRESS = N == 16;
    /** {0, TB, 2·TB, …}: the offsets of 16 consecutive columns in a transposed token block. */
    private static final int[] COLUMN_OFFSETS = new int[16];

    static {
        for (int i = 0; i < 16; i++) {
            COLUMN_OFFSETS[i] = i * TB;
        }
    }

    /**
     * The offsets {@code base + column·TB} of {@code m}'s set bits, in order, from {@code idx[at]};
     * may write up to 16 slots past the last (callers leave that slack, and the next writes overwrite it).
     */
    private static void spreadEntries(long m, int base, int[] idx, int at) {
        IntVector cols = IntVector.fromArray(I, COLUMN_OFFSETS, 0);
        for (int c = 0; m != 0; c += 16, m >>>= 16) {
            int bits = (int) m & 0xFFFF;
            if (bits != 0) {
                cols.add(base + c * TB).compress(VectorMask.fromLong(I, bits)).intoArray(idx, at);
                at += Integer.bitCount(bits);
            }
        }
    }

    /**
     * Two rows' entries (from {@code e0}, {@code e1}; {@code n} each) times the {@link #TB} tokens of the
     * block at {@code xT[xb..]}, added to {@code acc[a0..a0 + TB)} and {@code acc[a1..)}. The same
     * tokens-in-lanes FMA as {@code VecKernels.sparseRows} (CSR outliers), kept apart: here two rows share
     * each pass (eight FMA chains, against one row's four there) over token blocks, not a row-major CSR.
     */
    private static void rows2x4(int[] idx, float[] val, int e0, int e1, int n, float[] xT, int xb, float[] acc,
            int a0, int a1) {
        FloatVector p0 = FloatVector.fromArray(F, acc, a0), p1 = FloatVector.fromArray(F, acc, a0 + N);
        FloatVector p2 = FloatVector.fromArray(F, acc, a0 + 2 * N), p3 = FloatVector.fromArray(F, acc, a0 + 3 * N);
        FloatVector q0 = FloatVector.fromArray(F, acc, a1), q1 = FloatVector.fromArray(F, acc, a1 + N);
        FloatVector q2 = FloatVector.fromArray(F, acc, a1 + 2 * N), q3 = FloatVector.fromArray(F, acc, a1 + 3 * N);
        for (int k = 0; k < n; k++) {
            int i = xb + idx[e0 + k], j = xb + idx[e1 + k];
            FloatVector v = FloatVector.broadcast(F, val[e0 + k]);
            FloatVector u = FloatVector.broadcast(F, val[e1 + k]);
            p0 = FloatVector.fromArray(F, xT, i).fma(v, p0);
            p1 = FloatVector.fromArray(F, xT, i + N).fma(v, p1);
            p2 = FloatVector.fromArray(F, xT, i + 2 * N).fma(v, p2);
            p3 = FloatVector.fromArray(F, xT, i + 3 * N).fma(v, p3);
            q0 = FloatVector.fromArray(F, xT, j).fma(u, q0);
            q1 = FloatVector.fromArray(F, xT, j + N).fma(u, q1);
            q2 = FloatVector.fromArray(F, xT, j + 2 * N).fma(u, q2);
            q3 = FloatVector.fromArray(F, xT, j + 3 * N).fma(u, q3);
        }
        p0.intoArray(acc, a0);
        p1.intoArray(acc, a0 + N);
        p2.intoArray(acc, a0 + 2 * N);
        p3.intoArray(acc, a0 + 3 * N);
        q0.intoArray(acc, a1);
        q1.intoArray(acc, a1 + N);
        q2.intoArray(acc, a1 + 2 * N);
        q3.intoArray(acc, a1 + 3 * N);
    }

    /** As {@link #rows2x4} for the N tokens at {@code xT[xb..]} (lanes of a last, narrower block). */
    private static void rows2x1(int[] idx, float[] val, int e0, int e1, int n, float[] xT, int xb, float[] acc,
            int a0, int a1) {
        FloatVector p = FloatVector.fromArray(F, acc, a0), q = FloatVector.fromArray(F, acc, a1);
        for (int k = 0; k < n; k++) {
            p = FloatVector.fromArray(F, xT, xb + idx[e0 + k]).fma(FloatVector.broadcast(F, val[e0 + k]), p);
            q = FloatVector.fromArray(F, xT, xb + idx[e1 + k]).fma(FloatVector.broadcast(F, val[e1 + k]), q);
        }
        p.intoArray(acc, a0);
        q.intoArray(acc, a1);
    }

    // ---- prompts: decode a chunk of a row into the float tile ----

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        long first = rowOff + bb * (k0 / bs);
        if (first + bb * (kc / bs) + SLACK > w.byteSize()) {
            e.dequantize(w, first, dst, dstOff, kc);
            return;
        }
        if (nm8) {
            switch (values) {
                case Q8 -> decodeNMQ8(w, first, kc / bs, dst, dstOff);
                case Q4 -> decodeNMQ4(w, first, kc / bs, dst, dstOff);
                case F16 -> decodeNMF16(w, first, kc / bs, dst, dstOff);
                case BF16 -> decodeNMBF16(w, first, kc / bs, dst, dstOff);
            }
            return;
        }
        decodePacked(w, first, kc / bs, dst, dstOff);
    }

    /**
     * Any block at any width, in two passes so that no vector crosses a call C2 may leave out of
     * line (the F16 conversion inlined into one loop with the spreading boxed every vector): the
     * chunk's values converted into a buffer (block b's value r at {@code b·cap + r}), then
     * spread N positions at a time.
     */
    private void decodePacked(MemorySegment w, long first, int nblk, float[] dst, int dstOff) {
        float[] vals = BUF.get().values(nblk * cap);
        for (int b = 0; b < nblk; b++) {
            unpack(w, first + bb * b + valuesAt, vals, b * cap);
        }
        spreadPacked(w, first, nblk, vals, dst, dstOff);
    }

    private void spreadPacked(MemorySegment w, long first, int nblk, float[] vals, float[] dst, int dstOff) {
        for (int b = 0; b < nblk; b++) {
            long blk = first + bb * b;
            int out = dstOff + b * bs;
            int bits = 0;
            for (int t = 0; t < tiles; t++) {
                bits += Long.bitCount(mask(w, blk, t));
            }
            if (bits > cap) {
                // More set bits than values: those past the capacity decode to zero (reference).
                e.dequantize(w, blk, dst, out, bs);
                continue;
            }
            int r = b * cap;
            for (int t = 0; t < tiles; t++) {
                long m = mask(w, blk, t);
                FloatVector d = FloatVector.broadcast(F, scale(w, blk, t));
                for (int c = 0; c < tileBits; c += N) {
                    int mc = (int) (m >>> c) & LANES;
                    expand(FloatVector.fromArray(F, vals, r), mc).mul(d).intoArray(dst, out + t * tileBits + c);
                    r += Integer.bitCount(mc);
                }
            }
        }
    }

    // N:M at 8 lanes: each vector of 8 values spreads over 16 positions, its lanes 0–3 under the
    // first mask byte and lanes 4–7 under the second; no buffer, no data-dependent offsets.

    private static void spread(FloatVector v, int m, float[] dst, int o) {
        int b0 = m & 0xFF, b1 = (m >>> 8) & 0xFF;
        IntVector vi = v.reinterpretAsInts();
        IntVector.fromArray(I, EXP, b0 * N).selectFrom(vi).and(IntVector.fromArray(I, KEEP, b0 * N))
                .reinterpretAsFloats().intoArray(dst, o);
        IntVector.fromArray(I, EXP_HI, b1 * N).selectFrom(vi).and(IntVector.fromArray(I, KEEP, b1 * N))
                .reinterpretAsFloats().intoArray(dst, o + N);
    }

    private void decodeNMQ8(MemorySegment w, long first, int nblk, float[] dst, int o) {
        for (int b = 0; b < nblk; b++) {
            long blk = first + bb * b;
            int m = nmMask(w, blk);
            float d = Vec.scale(w, blk);
            spread(q8(w, blk + valuesAt).mul(d), m, dst, o + 32 * b);
            spread(q8(w, blk + valuesAt + 8).mul(d), m >>> 16, dst, o + 32 * b + 16);
        }
    }

    private void decodeNMQ4(MemorySegment w, long first, int nblk, float[] dst, int o) {
        for (int b = 0; b < nblk; b++) {
            long blk = first + bb * b;
            int m = nmMask(w, blk);
            float d = Vec.scale(w, blk);
            IntVector u = u8(w, blk + valuesAt);
            spread(lo(u).mul(d), m, dst, o + 32 * b);
            spread(hi(u).mul(d), m >>> 16, dst, o + 32 * b + 16);
        }
    }

    private void decodeNMF16(MemorySegment w, long first, int nblk, float[] dst, int o) {
        for (int hb = 0; hb < 2 * nblk; hb++) {
            long blk = first + bb * (hb >> 1);
            int half = hb & 1;
            spread(Vec.f16(w, blk + valuesAt + 16 * half), nmMask(w, blk) >>> (16 * half), dst, o + 16 * hb);
        }
    }

    private void decodeNMBF16(MemorySegment w, long first, int nblk, float[] dst, int o) {
        for (int hb = 0; hb < 2 * nblk; hb++) {
            long blk = first + bb * (hb >> 1);
            int half = hb & 1;
            spread(Vec.bf16(w, blk + valuesAt + 16 * half), nmMask(w, blk) >>> (16 * half), dst, o + 16 * hb);
        }
    }

    /**
     * The block's values as floats, unscaled, into {@code vals[at, at + cap)} (lanes past it: don't
     * care). One method per value type: all four in one body passed C2's node cutoff and boxed.
     */
    private void unpack(MemorySegment w, long v, float[] vals, int at) {
        switch (values) {
            case Q8 -> unpackQ8(w, v, vals, at);
            case Q4 -> unpackQ4(w, v, vals, at);
            case F16 -> unpackF16(w, v, vals, at);
            case BF16 -> unpackBF16(w, v, vals, at);
        }
    }

    private void unpackQ8(MemorySegment w, long v, float[] vals, int at) {
        for (int j = 0; j < cap; j += N) {
            q8(w, v + j).intoArray(vals, at + j);
        }
    }

    private void unpackF16(MemorySegment w, long v, float[] vals, int at) {
        for (int j = 0; j < cap; j += N) {
            Vec.f16(w, v + 2L * j).intoArray(vals, at + j);
        }
    }

    private void unpackBF16(MemorySegment w, long v, float[] vals, int at) {
        for (int j = 0; j < cap; j += N) {
            Vec.bf16(w, v + 2L * j).intoArray(vals, at + j);
        }
    }

    private void unpackQ4(MemorySegment w, long v, float[] vals, int at) {
        // Low nibbles first: their last store spills into [h, ..), which the high ones then fill.
        for (int j = 0; j < h; j += N) {
            lo(u8(w, v + j)).intoArray(vals, at + j);
        }
        for (int j = 0; j < cap - h; j += N) {
            hi(u8(w, v + j)).intoArray(vals, at + h + j);
        }
    }

    /** {@code v}'s first lanes placed at the set bits of {@code bits}, zeros elsewhere. */
    private static FloatVector expand(FloatVector v, int bits) {
        if (!TABLE) {
            return v.expand(VectorMask.fromLong(F, bits));
        }
        int o = bits * N;
        return IntVector.fromArray(I, EXP, o).selectFrom(v.reinterpretAsInts())
                .and(IntVector.fromArray(I, KEEP, o)).reinterpretAsFloats();
    }

    @Override
    public String toString() {
        return "sparse " + e.name() + " " + F32Encoding.INSTANCE.name() + " activations";
    }
}
