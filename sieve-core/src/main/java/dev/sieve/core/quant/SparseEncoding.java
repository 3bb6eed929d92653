package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/**
 * Sparse weights: per block a bit mask of the stored positions and the stored values packed in
 * position order. Two patterns share this layout (see docs/formats.md, "Sparse encodings"):
 *
 * <ul>
 *   <li><b>N:M</b> ({@code Q8_S24}, {@code Q4_S48}, ...): blocks of 32 weights, one 32-bit mask with
 *       exactly N bits in each group of M, so every block stores 16 values. The mask is the in-group
 *       index: 4 bits per 2:4 group (as many as two 2-bit indices) and 8 bits per 4:8 group (fewer
 *       than four 3-bit indices).
 *   <li><b>Bitmap</b> ({@code Q8_B77}: 77 of 256 stored): blocks of 256 weights made of four 64-weight
 *       tiles, four 64-bit masks and exactly {@code c} stored values per block, anywhere in it
 *       ("balanced" unstructured sparsity). Fixed-size blocks keep the block contract of {@link
 *       WeightEncoding}: every row has the same byte size, blocks are independent, and a kernel finds
 *       tile t's values by popcounting the masks before it.
 * </ul>
 *
 * <p>Block layout, in this order: the f16 scales (one per tile; Q8 and Q4 values only), the masks
 * (little-endian, bit i = position i of the tile), then the {@code capacity} values: F16/BF16 as
 * 2 bytes, Q8 as int8 (value = scale · q), Q4 as nibbles (value = scale · (q − 8), value j &lt;
 * capacity/2 in the low nibble of byte j, value j ≥ capacity/2 in the high nibble of byte
 * j − capacity/2, as in Q4_0). A valid block has exactly {@code capacity} mask bits (N per group
 * for N:M); quantize pads with stored zeros at the first unset positions. Decoders give value r to
 * the r-th set bit and treat set bits past the capacity as zero, so any bytes decode (the 8-lane
 * N:M kernel also assumes 4 set bits per mask byte, which every valid 2:4 and 4:8 mask has; see
 * docs/formats.md). Bitmap types exist for every value type, Q4 included: the kernels walk a
 * block's masks in order, so a tile whose values start mid-byte costs nothing.
 *
 * <p>Each bitmap type has an in-memory twin with its blocks padded ({@link #padded()}, {@code Q8_B77_P}),
 * which the loader makes at 512 bits for blocks whose size is not a multiple of 8 bytes.
 *
 * <p>Activations are F32: the dot product runs on floats, so there is no activation rounding.
 */
public final class SparseEncoding implements WeightEncoding {

    /** How the stored values are kept. */
    public enum Values {
        F16(false), BF16(false), Q8(true), Q4(true);

        final boolean scaled;

        Values(boolean scaled) {
            this.scaled = scaled;
        }

        /** Bytes taken by {@code count} values. */
        public int bytes(int count) {
            return switch (this) {
                case F16, BF16 -> 2 * count;
                case Q8 -> count;
                case Q4 -> count / 2;
            };
        }
    }

    /** Bitmap blocks: 256 weights in four 64-weight tiles. */
    public static final int BITMAP_BLOCK = 256;
    private static final int NM_ID = 1024;
    private static final int BITMAP_ID = 1280;
    private static final Values[] BITMAP_VALUES = {Values.F16, Values.BF16, Values.Q8, Values.Q4};

    private static final SparseEncoding[] NM = new SparseEncoding[8];
    private static final SparseEncoding[][] BITMAP = new SparseEncoding[BITMAP_VALUES.length][BITMAP_BLOCK];
    /** In-memory layouts of the bitmap types with their blocks padded ({@link #padded()}): ids from here. */
    private static final int PADDED_ID = 2464; // after the two-byte indexed slices' 2432 + 2 · 16
    private static final SparseEncoding[][] PADDED = new SparseEncoding[BITMAP_VALUES.length][BITMAP_BLOCK];

    static {
        for (Values v : Values.values()) {
            NM[v.ordinal()] = new SparseEncoding(v.name() + "_S24", NM_ID + v.ordinal(), v, 32, 1, 32, 16, 2, 4, false);
            NM[4 + v.ordinal()] = new SparseEncoding(v.name() + "_S48", NM_ID + 4 + v.ordinal(), v, 32, 1, 32, 16, 4, 8, false);
        }
        for (int i = 0; i < BITMAP_VALUES.length; i++) {
            for (int c = 1; c <= BITMAP_BLOCK; c++) {
                BITMAP[i][c - 1] = new SparseEncoding(BITMAP_VALUES[i].name() + "_B" + c,
                        BITMAP_ID + i * BITMAP_BLOCK + c - 1, BITMAP_VALUES[i], BITMAP_BLOCK, 4, 64, c, c, BITMAP_BLOCK, false);
                PADDED[i][c - 1] = new SparseEncoding(BITMAP_VALUES[i].name() + "_B" + c + "_P",
                        PADDED_ID + i * BITMAP_BLOCK + c - 1, BITMAP_VALUES[i], BITMAP_BLOCK, 4, 64, c, c, BITMAP_BLOCK, true);
            }
        }
    }

    private final String name;
    private final int id;
    private final Values values;
    private final int blockSize;
    private final int tiles;
    private final int tileBits;
    private final int capacity;
    private final int groupN;
    private final int groupM;
    private final int masksAt;
    private final int valuesAt;
    private final int blockBytes;
    /** The bytes of a block's fields; {@link #blockBytes} adds the padding of a {@link #padded()} layout. */
    private final int fieldBytes;
    private final boolean isPadded;

    private SparseEncoding(String name, int id, Values values, int blockSize, int tiles, int tileBits, int capacity,
            int groupN, int groupM, boolean padded) {
        this.name = name;
        this.id = id;
        this.values = values;
        this.blockSize = blockSize;
        this.tiles = tiles;
        this.tileBits = tileBits;
        this.capacity = capacity;
        this.groupN = groupN;
        this.groupM = groupM;
        this.masksAt = values.scaled ? 2 * tiles : 0;
        this.valuesAt = masksAt + tiles * tileBits / 8;
        this.fieldBytes = valuesAt + values.bytes(capacity) + (values == Values.Q4 ? capacity % 2 : 0);
        this.isPadded = padded;
        // Padded: to whole 64-byte lines where that adds at most an eighth, else to 8 bytes.
        int lines = (fieldBytes + 63) / 64 * 64;
        this.blockBytes = !padded ? fieldBytes : 8 * lines <= 9 * fieldBytes ? lines : (fieldBytes + 7) / 8 * 8;
    }

    /**
     * This bitmap type's in-memory layout with each block padded ({@code Q8_B77_P}: 117 bytes to 128),
     * never written to a file: the decode kernels' loads of masks, scales and values start at
     * aligned offsets. At 512 bits the loader makes odd-sized bitmap blocks this layout
     * ({@code ModelLoader.relayout}): misaligned, Q8_B77 decoded a 5632 × 2048 matrix in 1.51 ms, 8-byte
     * aligned in 1.19, padded to 128 bytes in 1.04 (one thread; docs/performance.md, session 29).
     */
    public SparseEncoding padded() {
        if (isNM()) {
            throw new UnsupportedOperationException(name + " is N:M: only bitmap types have a padded layout");
        }
        return isPadded ? this : PADDED[Arrays.asList(BITMAP_VALUES).indexOf(values)][capacity - 1];
    }

    /** Whether this is a {@link #padded()} layout. */
    public boolean isPadded() {
        return isPadded;
    }

    /** A padded layout is made from its unpadded type, block by block. */
    @Override
    public boolean repacks(WeightEncoding from) {
        return isPadded && from instanceof SparseEncoding s && !s.isPadded && !s.isNM() && s.padded() == this;
    }

    @Override
    public void repack(WeightEncoding from, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long n) {
        if (!repacks(from)) {
            throw new IllegalArgumentException(name + " is made from " + name.substring(0, name.length() - 2) + ", not " + from.name());
        }
        long blocks = n / blockSize;
        for (long b = 0; b < blocks; b++) {
            long o = dstOffset + b * blockBytes;
            MemorySegment.copy(src, srcOffset + b * fieldBytes, dst, o, fieldBytes);
            dst.asSlice(o + fieldBytes, blockBytes - fieldBytes).fill((byte) 0);
        }
    }

    /** N:M sparsity, {@code n:m} one of 2:4 and 4:8. */
    public static SparseEncoding nm(int n, int m, Values v) {
        if (n * 2 != m || (m != 4 && m != 8)) {
            throw new IllegalArgumentException("N:M sparsity is 2:4 or 4:8, got " + n + ":" + m);
        }
        return NM[(m == 8 ? 4 : 0) + v.ordinal()];
    }

    /** Bitmap sparsity storing {@code capacity} of every 256 weights (F16, BF16, Q8 or Q4 values). */
    public static SparseEncoding bitmap(Values v, int capacity) {
        int i = Arrays.asList(BITMAP_VALUES).indexOf(v);
        if (i < 0) {
            throw new IllegalArgumentException("bitmap sparsity stores F16, BF16, Q8 or Q4 values, not " + v);
        }
        if (capacity < 1 || capacity > BITMAP_BLOCK) {
            throw new IllegalArgumentException("bitmap capacity must be 1.." + BITMAP_BLOCK + ", got " + capacity);
        }
        return BITMAP[i][capacity - 1];
    }

    /** The bitmap encoding whose capacity holds a fraction {@code 1 − sparsity} of the weights. */
    public static SparseEncoding bitmapForSparsity(Values v, double sparsity) {
        if (!(sparsity >= 0 && sparsity < 1)) {
            throw new IllegalArgumentException("sparsity must be in [0, 1), got " + sparsity);
        }
        return bitmap(v, Math.max(1, (int) Math.round(BITMAP_BLOCK * (1 - sparsity))));
    }

    /**
     * The encoding for {@code sieve synth}: {@code pattern} "unstructured" (bitmap, any sparsity),
     * "2:4" or "4:8" (sparsity 0.5); {@code values} f16, bf16, q8 or q4.
     */
    public static SparseEncoding forPattern(String pattern, double sparsity, String values) {
        Values v;
        try {
            v = Values.valueOf(values.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException("values must be f16, bf16, q8 or q4, got " + values);
        }
        return switch (pattern.toLowerCase(Locale.ROOT)) {
            case "unstructured", "bitmap" -> bitmapForSparsity(v, sparsity);
            case "2:4", "4:8" -> {
                if (Math.abs(sparsity - 0.5) > 1e-9) {
                    throw new IllegalArgumentException(pattern + " sparsity is 0.5, got " + sparsity);
                }
                yield nm(pattern.charAt(0) - '0', pattern.charAt(2) - '0', v);
            }
            default -> throw new IllegalArgumentException("pattern must be unstructured, 2:4 or 4:8, got " + pattern);
        };
    }

    /** The dense encoding storing the same values: F16, BF16, Q8_0 or Q4_0. */
    public static String denseTwin(Values v) {
        return switch (v) {
            case F16 -> "F16";
            case BF16 -> "BF16";
            case Q8 -> "Q8_0";
            case Q4 -> "Q4_0";
        };
    }

    /** Every N:M encoding. */
    public static java.util.List<SparseEncoding> nmEncodings() {
        return java.util.List.of(NM);
    }

    /** Every bitmap encoding (all capacities of all value types), for kernel registries. */
    public static java.util.List<SparseEncoding> bitmapEncodings() {
        return Arrays.stream(BITMAP).flatMap(Arrays::stream).toList();
    }

    /** Every padded bitmap layout ({@link #padded()}), for kernel registries. */
    public static java.util.List<SparseEncoding> paddedBitmapEncodings() {
        return Arrays.stream(PADDED).flatMap(Arrays::stream).toList();
    }

    static Optional<WeightEncoding> byGgmlType(int id) {
        if (id >= NM_ID && id < NM_ID + NM.length) {
            return Optional.of(NM[id - NM_ID]);
        }
        int b = id - BITMAP_ID;
        if (b >= 0 && b < BITMAP.length * BITMAP_BLOCK) {
            return Optional.of(BITMAP[b / BITMAP_BLOCK][b % BITMAP_BLOCK]);
        }
        int p = id - PADDED_ID;
        if (p >= 0 && p < PADDED.length * BITMAP_BLOCK) {
            return Optional.of(PADDED[p / BITMAP_BLOCK][p % BITMAP_BLOCK]);
        }
        return Optional.empty();
    }

    static Optional<WeightEncoding> byName(String name) {
        String n = name.toUpperCase(Locale.ROOT);
        for (SparseEncoding e : NM) {
            if (e.name.equals(n)) {
                return Optional.of(e);
            }
        }
        for (int i = 0; i < BITMAP_VALUES.length; i++) {
            String p = BITMAP_VALUES[i].name() + "_B";
            boolean pad = n.endsWith("_P");
            String m = pad ? n.substring(0, n.length() - 2) : n;
            if (m.startsWith(p) && m.length() > p.length() && m.substring(p.length()).chars().allMatch(Character::isDigit)
                    && m.length() - p.length() <= 3) {
                int c = Integer.parseInt(m.substring(p.length()));
                if (c >= 1 && c <= BITMAP_BLOCK) {
                    return Optional.of((pad ? PADDED : BITMAP)[i][c - 1]);
                }
            }
        }
        return Optional.empty();
    }

    @Override public String name() { return name; }
    @Override public int ggmlType() { return id; }
    @Override public int blockSize() { return blockSize; }
    @Override public int blockBytes() { return blockBytes; }
    @Override public boolean canQuantize() { return true; }
    @Override public WeightEncoding activationEncoding() { return F32Encoding.INSTANCE; }
    @Override public double density() { return (double) capacity / blockSize; }

    public Values values() { return values; }
    /** Tiles per block (one mask and one scale each). */
    public int tiles() { return tiles; }
    /** Weights per tile: 32 (N:M) or 64 (bitmap). */
    public int tileBits() { return tileBits; }
    /** Stored values per block. */
    public int capacity() { return capacity; }
    /** Byte offset of the masks in a block (after the scales, if any). */
    public int masksAt() { return masksAt; }
    /** Byte offset of the values in a block. */
    public int valuesAt() { return valuesAt; }
    /** Whether this is N:M (groups of 4 or 8) rather than bitmap (one group per block). */
    public boolean isNM() { return groupM < blockSize; }

    /** N:M's M, the positions of a group (4 or 8); a bitmap block's size for the bitmap types. */
    public int groupSize() { return groupM; }

    /** The mask of tile t of the block at {@code blk}. */
    long mask(MemorySegment s, long blk, int t) {
        long o = blk + masksAt + (long) t * (tileBits / 8);
        return tileBits == 64 ? s.get(LONG_LE, o) : s.get(Half.INT_LE, o) & 0xFFFF_FFFFL;
    }

    private static final ValueLayout.OfLong LONG_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Stored value r of the block at {@code blk}, unscaled for Q8/Q4. */
    private float raw(MemorySegment s, long blk, int r) {
        long v = blk + valuesAt;
        return switch (values) {
            case F16 -> Half.f16(s, v + 2L * r);
            case BF16 -> Half.bf16(s, v + 2L * r);
            case Q8 -> Half.i8(s, v + r);
            case Q4 -> {
                int half = capacity / 2;
                int b = Half.u8(s, v + (r < half ? r : r - half));
                yield (r < half ? b & 0x0F : b >>> 4) - 8;
            }
        };
    }

    private float scale(MemorySegment s, long blk, int t) {
        return values.scaled ? Half.f16(s, blk + 2L * t) : 1f;
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / blockSize; b++) {
            long blk = srcOffset + (long) b * blockBytes;
            int out = dstOffset + b * blockSize;
            int r = 0;
            for (int t = 0; t < tiles; t++) {
                long m = mask(src, blk, t);
                float d = scale(src, blk, t);
                for (int i = 0; i < tileBits; i++) {
                    float v = 0;
                    if ((m >>> i & 1) != 0) {
                        v = r < capacity ? raw(src, blk, r) * d : 0f;
                        r++;
                    }
                    dst[out + t * tileBits + i] = v;
                }
            }
        }
    }

    /**
     * Zeroes all but the {@code N} largest magnitudes of each group (N:M) or the {@code capacity}
     * largest of each block (bitmap); ties keep the earlier position.
     */
    @Override
    public void prune(float[] x, int off, int n) {
        float[] abs = new float[groupM];
        for (int g = 0; g < n / groupM; g++) {
            int base = off + g * groupM;
            for (int i = 0; i < groupM; i++) {
                abs[i] = Math.abs(x[base + i]);
            }
            Arrays.sort(abs);
            float thr = abs[groupM - groupN];
            int above = 0;
            for (int i = 0; i < groupM; i++) {
                above += Math.abs(x[base + i]) > thr ? 1 : 0;
            }
            int ties = groupN - above; // how many values equal to the threshold survive
            for (int i = 0; i < groupM; i++) {
                float a = Math.abs(x[base + i]);
                if (a < thr || (a == thr && ties-- <= 0)) {
                    x[base + i] = 0f;
                }
            }
        }
    }

    /**
     * Packs {@code n} values that already hold zeros at the pruned positions. Rejects a group with
     * more non-zeros than the pattern allows; pads groups with fewer by storing zeros.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int n) {
        float[] vals = new float[capacity];
        int[] tileOf = new int[capacity];
        for (int b = 0; b < n / blockSize; b++) {
            int base = srcOffset + b * blockSize;
            long blk = dstOffset + (long) b * blockBytes;
            long[] masks = new long[tiles];
            for (int g = 0; g < blockSize / groupM; g++) {
                int g0 = g * groupM;
                int nz = 0;
                for (int i = 0; i < groupM; i++) {
                    nz += src[base + g0 + i] != 0f ? 1 : 0;
                }
                if (nz > groupN) {
                    throw new IllegalArgumentException(name + " stores " + groupN + " of every " + groupM
                            + " weights, but the group at column " + (base - srcOffset + g0) + " has " + nz
                            + " non-zeros (prune first)");
                }
                int pad = groupN - nz; // stored zeros at the first zero positions keep the count exact
                for (int i = 0; i < groupM; i++) {
                    int p = g0 + i;
                    if (src[base + p] != 0f || pad-- > 0) {
                        masks[p / tileBits] |= 1L << (p % tileBits);
                    }
                }
            }
            int r = 0;
            for (int t = 0; t < tiles; t++) {
                for (int i = 0; i < tileBits; i++) {
                    if ((masks[t] >>> i & 1) != 0) {
                        vals[r] = src[base + t * tileBits + i];
                        tileOf[r++] = t;
                    }
                }
                long mo = blk + masksAt + (long) t * (tileBits / 8);
                if (tileBits == 64) {
                    dst.set(LONG_LE, mo, masks[t]);
                } else {
                    dst.set(Half.INT_LE, mo, (int) masks[t]);
                }
            }
            putValues(vals, tileOf, dst, blk);
        }
    }

    private void putValues(float[] vals, int[] tileOf, MemorySegment dst, long blk) {
        long v = blk + valuesAt;
        switch (values) {
            case F16 -> {
                for (int r = 0; r < capacity; r++) {
                    Half.putF16(dst, v + 2L * r, vals[r]);
                }
            }
            case BF16 -> {
                for (int r = 0; r < capacity; r++) {
                    dst.set(Half.SHORT_LE, v + 2L * r, Half.toBf16(vals[r]));
                }
            }
            case Q8, Q4 -> {
                int half = capacity / 2;
                if (values == Values.Q4) {
                    dst.asSlice(v, values.bytes(capacity)).fill((byte) 0);
                }
                for (int t = 0; t < tiles; t++) {
                    // Q8 follows Q8_0 (amax / 127, round half away), Q4 follows Q4_0 (max / −8).
                    float amax = 0, max = 0;
                    for (int r = 0; r < capacity; r++) {
                        if (tileOf[r] == t && Math.abs(vals[r]) > amax) {
                            amax = Math.abs(vals[r]);
                            max = vals[r];
                        }
                    }
                    float d = values == Values.Q8 ? amax / 127f : max / -8f;
                    float id = d != 0 ? 1f / d : 0f;
                    Half.putF16(dst, blk + 2L * t, d);
                    for (int r = 0; r < capacity; r++) {
                        if (tileOf[r] != t) {
                            continue;
                        }
                        if (values == Values.Q8) {
                            dst.set(ValueLayout.JAVA_BYTE, v + r, (byte) QuantMath.roundAway(vals[r] * id));
                        } else {
                            int q = Math.min(15, (int) (vals[r] * id + 8.5f));
                            long at = v + (r < half ? r : r - half);
                            int old = Half.u8(dst, at);
                            dst.set(ValueLayout.JAVA_BYTE, at, (byte) (r < half ? old | q : old | (q << 4)));
                        }
                    }
                }
            }
        }
    }

    /** Float activations: the dot of the decoded weights with {@code a}, visiting stored positions only. */
    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / blockSize; b++) {
            long blk = wOffset + (long) b * blockBytes;
            int r = 0;
            for (int t = 0; t < tiles; t++) {
                long m = mask(w, blk, t);
                float d = scale(w, blk, t);
                for (; m != 0 && r < capacity; m &= m - 1, r++) {
                    int p = b * blockSize + t * tileBits + Long.numberOfTrailingZeros(m);
                    sum += raw(w, blk, r) * d * a.get(Half.FLOAT_LE, aOffset + 4L * p);
                }
                r += Long.bitCount(m); // bits past the capacity decode to zero but still count
            }
        }
        return sum;
    }

    @Override
    public String toString() {
        return name;
    }
}
