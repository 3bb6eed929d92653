package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Optional;

/**
 * Indexed N:16 sparsity ({@code Q8_I5}, {@code Q4_I8}, ...): in every 16 consecutive weights of a
 * row at most N are stored, each with its 4-bit column index, so that a kernel finds a stored
 * value's activation by a register permute instead of by decoding a bit mask (see {@link
 * SlicedIndexedEncoding}, the 16-row layout its decode kernel reads, made from this one at load).
 * N = 8 holds any 2:4 or 4:8 pattern; N = 5 is 69% sparse, N = 2 87.5%.
 *
 * <p>Block of 32 weights (two halves A = columns 0..15 and B = 16..31), in this order:
 * <pre>
 *   d       f16      the block's scale (Q8: amax / 127, as Q8_0; Q4: max / −8, as Q4_0; none for F16, BF16)
 *   idx[N]  u8       stored pair k: low nibble = column of A's value k, high nibble = column of B's
 *   Q8: a[N] int8, b[N] int8        value = d · q
 *   Q4: v[N] u8 (low = A's q, high = B's q)   value = d · (q − 8)
 *   F16, BF16: a[N], b[N] two bytes each      value as stored
 * </pre>
 * Q8: 2 + 3N bytes per 32 weights (N = 5: 4.25 bits per weight); Q4: 2 + 2N (N = 5: 3.0); F16 and
 * BF16: 5N (N = 8: 10.0; these exist so that 4:8 rows with two-byte values decode per stored value,
 * {@link SlicedIndexedEncoding#repacks}). Quantize
 * writes each half's values in column order, padding a half with fewer non-zeros with stored zeros
 * at its first zero columns, so indices within a half are distinct. Any bytes decode: a value adds
 * to the column its index names (a repeated index adds twice), so decoders need no checks.
 *
 * <p>Activations are F32: the dot product runs on floats.
 */
public final class IndexedSparseEncoding implements WeightEncoding {
    public static final int QK = 32;
    /** Weights per indexed group: each half of a block. */
    public static final int GROUP = 16;
    public static final int MAX_N = GROUP;
    /** Byte offset of the index bytes in a block with a scale (Q8, Q4); F16 and BF16 blocks start with them. */
    public static final int IDX = 2;
    private static final int ID = 2320; // after Q4_0_R's 2307; Q8 N = 1..16, then Q4
    private static final int TWO_BYTE_ID = 2400; // after the 2:4 slices' 2384..2387; F16 N = 1..16, then BF16
    /** The value types, in {@link #encodings()}'s order. */
    private static final SparseEncoding.Values[] VALUES =
            {SparseEncoding.Values.Q8, SparseEncoding.Values.Q4, SparseEncoding.Values.F16, SparseEncoding.Values.BF16};
    private static final IndexedSparseEncoding[][] ALL = new IndexedSparseEncoding[VALUES.length][MAX_N];

    static {
        for (int v = 0; v < VALUES.length; v++) {
            for (int n = 1; n <= MAX_N; n++) {
                ALL[v][n - 1] = new IndexedSparseEncoding(VALUES[v], n, (v < 2 ? ID + v * MAX_N : TWO_BYTE_ID + (v - 2) * MAX_N) + n - 1);
            }
        }
    }

    private final SparseEncoding.Values values;
    private final int n;
    private final int id;
    private final String name;
    private final int blockBytes;
    /** Byte offset of the index bytes: after the scale, if the values have one. */
    private final int idx;

    private IndexedSparseEncoding(SparseEncoding.Values values, int n, int id) {
        this.values = values;
        this.n = n;
        this.id = id;
        this.name = values.name() + "_I" + n;
        this.idx = values.scaled ? IDX : 0;
        this.blockBytes = idx + n + switch (values) { // the index bytes, then A's and B's values
            case Q8 -> 2 * n;
            case Q4 -> n; // one byte holds pair k's two levels
            case F16, BF16 -> 4 * n;
        };
    }

    /** N of every 16 weights stored, values Q8, Q4, F16 or BF16. */
    public static IndexedSparseEncoding of(int n, SparseEncoding.Values values) {
        if (n < 1 || n > MAX_N) {
            throw new IllegalArgumentException("indexed sparsity stores 1..16 of every 16 weights, got " + n);
        }
        return ALL[java.util.Arrays.asList(VALUES).indexOf(values)][n - 1];
    }

    /** This encoding's place in {@link #encodings()}: value type, then N. */
    int ordinal() {
        return java.util.Arrays.asList(VALUES).indexOf(values) * MAX_N + n - 1;
    }

    /** The N for a sparsity: the nearest whole number of 16 to keep (at least 1). */
    public static IndexedSparseEncoding forSparsity(double sparsity, SparseEncoding.Values values) {
        if (!(sparsity >= 0 && sparsity < 1)) {
            throw new IllegalArgumentException("sparsity must be in [0, 1), got " + sparsity);
        }
        return of(Math.max(1, (int) Math.round(GROUP * (1 - sparsity))), values);
    }

    /** Every indexed encoding (Q8, Q4, F16 and BF16, N = 1..16), for kernel registries. */
    public static java.util.List<IndexedSparseEncoding> encodings() {
        return java.util.Arrays.stream(ALL).flatMap(java.util.Arrays::stream).toList();
    }

    /** Whether {@code pattern} names indexed sparsity: "indexed" or "N:16". */
    public static boolean isPattern(String pattern) {
        return pattern.equalsIgnoreCase("indexed") || pattern.matches("\\d+:16");
    }

    /**
     * The encoding for {@code sieve synth}: pattern "indexed" (N nearest to {@code sparsity}) or
     * "N:16" ({@code sparsity} must be 1 − N/16 to within 1/32); values q8, q4, f16 or bf16.
     */
    public static IndexedSparseEncoding forPattern(String pattern, double sparsity, String values) {
        SparseEncoding.Values v = switch (values.toLowerCase(Locale.ROOT)) {
            case "q8" -> SparseEncoding.Values.Q8;
            case "q4" -> SparseEncoding.Values.Q4;
            case "f16" -> SparseEncoding.Values.F16;
            case "bf16" -> SparseEncoding.Values.BF16;
            default -> throw new IllegalArgumentException("indexed sparsity stores q8, q4, f16 or bf16 values, got " + values);
        };
        if (pattern.equalsIgnoreCase("indexed")) {
            return forSparsity(sparsity, v);
        }
        if (!isPattern(pattern)) {
            throw new IllegalArgumentException("indexed pattern must be 'indexed' or N:16, got " + pattern);
        }
        int keep = Integer.parseInt(pattern.substring(0, pattern.indexOf(':')));
        IndexedSparseEncoding e = of(keep, v);
        if (Math.abs(sparsity - (1 - e.density())) > 1.0 / 32) {
            throw new IllegalArgumentException(pattern + " is " + (1 - e.density()) + " sparse, got --sparsity " + sparsity);
        }
        return e;
    }

    static Optional<WeightEncoding> byGgmlType(int id) {
        int i = id - ID, t = id - TWO_BYTE_ID;
        return i >= 0 && i < 2 * MAX_N ? Optional.of(ALL[i / MAX_N][i % MAX_N])
                : t >= 0 && t < 2 * MAX_N ? Optional.of(ALL[2 + t / MAX_N][t % MAX_N]) : Optional.empty();
    }

    static Optional<WeightEncoding> byName(String upper) {
        for (IndexedSparseEncoding[] row : ALL) {
            for (IndexedSparseEncoding e : row) {
                if (e.name.equals(upper.toUpperCase(Locale.ROOT))) {
                    return Optional.of(e);
                }
            }
        }
        return Optional.empty();
    }

    /** Stored values per half block. */
    public int perGroup() {
        return n;
    }

    public SparseEncoding.Values values() {
        return values;
    }

    /** Byte offset of the index bytes ({@link #IDX} with a scale, 0 without). */
    public int indexAt() {
        return idx;
    }

    /** Byte offset of the Q8 and two-byte A values (B's follow after N values), or of the Q4 value bytes. */
    public int valuesAt() {
        return idx + n;
    }

    /** Whether each block starts with an f16 scale (Q8, Q4). */
    public boolean scaled() {
        return values.scaled;
    }

    @Override public String name() { return name; }
    @Override public int ggmlType() { return id; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return blockBytes; }
    @Override public double density() { return (double) n / GROUP; }
    @Override public boolean canQuantize() { return true; }
    @Override public WeightEncoding activationEncoding() { return F32Encoding.INSTANCE; }

    /** Value k of half h (0 = A, 1 = B) of the block at {@code o}, before the scale. */
    float level(MemorySegment s, long o, int h, int k) {
        long a = o + idx + n;
        return switch (values) {
            case Q8 -> Half.i8(s, a + (long) h * n + k);
            case Q4 -> {
                int v = Half.u8(s, a + k);
                yield (h == 0 ? v & 15 : v >>> 4) - 8;
            }
            case F16 -> Half.f16(s, a + 2L * (h * n + k));
            case BF16 -> Half.bf16(s, a + 2L * (h * n + k));
        };
    }

    /** The block's scale: its f16 d, or 1 for values stored as they are. */
    float scale(MemorySegment s, long o) {
        return values.scaled ? Half.f16(s, o) : 1f;
    }

    /**
     * One 4:8 block of this value type ({@code nm}, at {@code in[io..]}) as this encoding's block at
     * {@code out[oo..]}, for N = 8: the same scale, and each half's stored values (value r of the
     * block at the r-th set position, as the 4:8 reference decodes them) in column order with their
     * columns. A valid 4:8 block has eight in each half, so it is the same weights; a block that breaks
     * the pattern keeps a half's first eight and pads a half with fewer with zeros at free columns.
     */
    void fromFourOfEight(SparseEncoding nm, byte[] in, int io, byte[] out, int oo) {
        if (n != 8 || nm != SparseEncoding.nm(4, 8, values)) {
            throw new IllegalArgumentException(name + " holds 4:8 blocks of its own values only, not " + nm.name());
        }
        if (values.scaled) {
            out[oo] = in[io];
            out[oo + 1] = in[io + 1];
        }
        int m = io + nm.masksAt();
        int mask = (in[m] & 0xFF) | (in[m + 1] & 0xFF) << 8 | (in[m + 2] & 0xFF) << 16 | (in[m + 3] & 0xFF) << 24;
        // The set bits one at a time (value r at the r-th), none past the capacity; per half its count
        // and used columns in locals (a walk over all 32 positions with arrays per block took ~5 s of
        // a 1.1B model's relayout; docs/performance.md, session 35).
        int v = io + nm.valuesAt(), cap = nm.capacity();
        int count0 = 0, count1 = 0, used0 = 0, used1 = 0;
        for (int bits = mask, r = 0; bits != 0 && r < cap; bits &= bits - 1, r++) {
            int p = Integer.numberOfTrailingZeros(bits), c = p % GROUP;
            if (p < GROUP ? count0 >= n : count1 >= n) {
                continue;
            }
            int q = switch (values) {
                case Q8 -> in[v + r];
                case Q4 -> ((in[v + r % 8] & 0xFF) >>> (r < 8 ? 0 : 4)) & 15;
                case F16, BF16 -> (in[v + 2 * r] & 0xFF) | (in[v + 2 * r + 1] & 0xFF) << 8;
            };
            if (p < GROUP) {
                put(out, oo, 0, count0++, c, q);
                used0 |= 1 << c;
            } else {
                put(out, oo, 1, count1++, c, q);
                used1 |= 1 << c;
            }
        }
        int zero = values == SparseEncoding.Values.Q4 ? 8 : 0;
        for (int c = 0; count0 < n; c++) { // a zero at each free column (distinct columns, as quantize pads)
            if ((used0 >>> c & 1) == 0) {
                put(out, oo, 0, count0++, c, zero);
            }
        }
        for (int c = 0; count1 < n; c++) {
            if ((used1 >>> c & 1) == 0) {
                put(out, oo, 1, count1++, c, zero);
            }
        }
    }

    /** Stores value k of half h (raw: Q8's int8, Q4's unsigned q, or the two-byte value's bits) at column c of the block at {@code out[oo..]}. */
    private void put(byte[] out, int oo, int h, int k, int c, int q) {
        int ix = oo + idx + k;
        out[ix] = (byte) (h == 0 ? (out[ix] & 0xF0) | c : (out[ix] & 0x0F) | c << 4);
        int vx = oo + idx + n;
        switch (values) {
            case Q8 -> out[vx + h * n + k] = (byte) q;
            case Q4 -> out[vx + k] = (byte) (h == 0 ? (out[vx + k] & 0xF0) | q : (out[vx + k] & 0x0F) | q << 4);
            case F16, BF16 -> {
                out[vx + 2 * (h * n + k)] = (byte) q;
                out[vx + 2 * (h * n + k) + 1] = (byte) (q >>> 8);
            }
        }
    }

    /** Column (0..15) within half h of stored value k of the block at {@code o}. */
    int column(MemorySegment s, long o, int h, int k) {
        int i = Half.u8(s, o + idx + k);
        return h == 0 ? i & 15 : i >>> 4;
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / QK; b++) {
            long o = srcOffset + (long) b * blockBytes;
            int out = dstOffset + b * QK;
            java.util.Arrays.fill(dst, out, out + QK, 0f);
            float d = scale(src, o);
            for (int h = 0; h < 2; h++) {
                for (int k = 0; k < n; k++) {
                    dst[out + GROUP * h + column(src, o, h, k)] += d * level(src, o, h, k);
                }
            }
        }
    }

    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int count) {
        float sum = 0;
        for (int b = 0; b < count / QK; b++) {
            long o = wOffset + (long) b * blockBytes;
            long x = aOffset + 4L * b * QK;
            float s = 0;
            for (int k = 0; k < n; k++) { // pair k: A's value, then B's (the order SlicedIndexedEncoding.dotRow adds in)
                s += level(w, o, 0, k) * a.get(Half.FLOAT_LE, x + 4L * column(w, o, 0, k))
                        + level(w, o, 1, k) * a.get(Half.FLOAT_LE, x + 4L * (GROUP + column(w, o, 1, k)));
            }
            sum += s * scale(w, o);
        }
        return sum;
    }

    /** Keeps the N largest magnitudes of every 16 (ties: the lower column), zeroes the rest. */
    @Override
    public void prune(float[] x, int off, int count) {
        for (int g = 0; g < count / GROUP; g++) {
            int base = off + g * GROUP;
            boolean[] keep = keep(x, base);
            for (int i = 0; i < GROUP; i++) {
                if (!keep[i]) {
                    x[base + i] = 0f;
                }
            }
        }
    }

    private boolean[] keep(float[] x, int base) {
        boolean[] keep = new boolean[GROUP];
        for (int k = 0; k < n; k++) {
            int best = -1;
            for (int i = 0; i < GROUP; i++) {
                if (!keep[i] && (best < 0 || Math.abs(x[base + i]) > Math.abs(x[base + best]))) {
                    best = i;
                }
            }
            keep[best] = true;
        }
        return keep;
    }

    /**
     * Packs values that already hold zeros at the pruned positions ({@link #prune}); rejects a half
     * with more than N non-zeros, pads one with fewer by storing zeros at its first zero columns.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        int[][] cols = new int[2][n];
        for (int b = 0; b < count / QK; b++) {
            int base = srcOffset + b * QK;
            long o = dstOffset + (long) b * blockBytes;
            float amax = 0, max = 0;
            for (int h = 0; h < 2; h++) {
                int g0 = base + GROUP * h;
                int nz = 0;
                for (int i = 0; i < GROUP; i++) {
                    nz += src[g0 + i] != 0f ? 1 : 0;
                }
                if (nz > n) {
                    throw new IllegalArgumentException(name + " stores " + n + " of every " + GROUP
                            + " weights, but the group at column " + (g0 - srcOffset) + " has " + nz
                            + " non-zeros (prune first)");
                }
                int pad = n - nz, k = 0;
                for (int i = 0; i < GROUP; i++) {
                    if (src[g0 + i] != 0f || pad-- > 0) {
                        cols[h][k++] = i;
                        float v = src[g0 + i];
                        if (Math.abs(v) > amax) {
                            amax = Math.abs(v);
                            max = v;
                        }
                    }
                }
            }
            // Q8 follows Q8_0 (amax / 127, round half away), Q4 follows Q4_0 (max / −8); F16 and
            // BF16 store each value rounded to nearest even, as the dense types do.
            float d = values == SparseEncoding.Values.Q8 ? amax / 127f : max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            if (values.scaled) {
                Half.putF16(dst, o, d);
            }
            long vo = o + idx + n;
            for (int k = 0; k < n; k++) {
                dst.set(ValueLayout.JAVA_BYTE, o + idx + k, (byte) (cols[0][k] | cols[1][k] << 4));
                float va = src[base + cols[0][k]], vb = src[base + GROUP + cols[1][k]];
                switch (values) {
                    case Q8 -> {
                        dst.set(ValueLayout.JAVA_BYTE, vo + k, (byte) QuantMath.roundAway(va * id));
                        dst.set(ValueLayout.JAVA_BYTE, vo + n + k, (byte) QuantMath.roundAway(vb * id));
                    }
                    case Q4 -> {
                        int qa = Math.min(15, (int) (va * id + 8.5f)), qb = Math.min(15, (int) (vb * id + 8.5f));
                        dst.set(ValueLayout.JAVA_BYTE, vo + k, (byte) (qa | qb << 4));
                    }
                    case F16 -> {
                        Half.putF16(dst, vo + 2L * k, va);
                        Half.putF16(dst, vo + 2L * (n + k), vb);
                    }
                    case BF16 -> {
                        dst.set(Half.SHORT_LE, vo + 2L * k, Half.toBf16(va));
                        dst.set(Half.SHORT_LE, vo + 2L * (n + k), Half.toBf16(vb));
                    }
                }
            }
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
