package dev.sieve.model.layers;

import dev.sieve.core.kernel.Kernels;

/**
 * One half of a KV cache (the keys or the values) of every layer, in one {@link KvEncoding}. Each
 * position holds a vector of {@code kvDim} floats; the read operations take a group-aligned slice
 * {@code [off, off + n)} of it (one head) and dequantize on the fly, so the float cache is never
 * materialized.
 */
public abstract sealed class KvStore permits KvStore.F32, KvStore.F16, KvStore.Q8, KvStore.Q4, KvStore.Channel, KvStore.Sparse {
    final int capacity;
    final int kvDim;
    final int group;

    KvStore(int capacity, int kvDim, int group) {
        if (group < 1 || kvDim % group != 0) {
            throw new IllegalArgumentException("group " + group + " must divide kvDim " + kvDim);
        }
        this.capacity = capacity;
        this.kvDim = kvDim;
        this.group = group;
    }

    /** A store for {@code layers × capacity} positions of {@code kvDim} values in groups of {@code group}. */
    public static KvStore create(KvEncoding e, int layers, int capacity, int kvDim, int group, Kernels k) {
        return switch (e) {
            case F32 -> new F32(layers, capacity, kvDim, k);
            case F16 -> new F16(layers, capacity, kvDim, group);
            case Q8, Q8C -> new Q8(layers, capacity, kvDim, group);
            case Q4, Q4C -> new Q4(layers, capacity, kvDim, group);
            case S50, S70 -> new Sparse(layers, capacity, kvDim, group, e.sparseKeep(group));
        };
    }

    /**
     * The key store of {@code e}: per channel over groups of {@code span} consecutive positions for the
     * KIVI encodings, else as {@link #create}.
     */
    public static KvStore createKeys(KvEncoding e, int layers, int capacity, int kvDim, int group, int span, Kernels k) {
        return switch (e) {
            case Q8C -> new Channel(8, layers, capacity, kvDim, span);
            case Q4C -> new Channel(4, layers, capacity, kvDim, span);
            default -> create(e, layers, capacity, kvDim, group, k);
        };
    }

    /** Encodes {@code src[srcOff .. srcOff + kvDim)} as position {@code pos} of {@code layer}. */
    public abstract void put(int layer, int pos, float[] src, int srcOff);

    /** {@code Σ q[qOff + i] · x[i]} over the slice {@code [off, off + n)} of position {@code pos}. */
    public abstract float dot(float[] q, int qOff, int layer, int pos, int off, int n);

    /** {@code y[yOff + i] += a · x[i]} over the slice {@code [off, off + n)} of position {@code pos}. */
    public abstract void axpy(float a, int layer, int pos, int off, int n, float[] y, int yOff);

    /** Decodes the whole vector of position {@code pos} into {@code dst[dstOff ..]} (for tests and tools). */
    public void get(int layer, int pos, float[] dst, int dstOff) {
        java.util.Arrays.fill(dst, dstOff, dstOff + kvDim, 0f);
        axpy(1f, layer, pos, 0, kvDim, dst, dstOff);
    }

    /** Bytes one position of one layer takes, codes and scales together. */
    public abstract long bytesPerPosition();

    /**
     * Decodes the slice {@code [off, off + n)} (group-aligned) of rows {@code [row, row + count)} into
     * {@code dst[r · n + i]}, through {@code k}'s dequantization kernels.
     */
    public abstract void decodeRows(int layer, int row, int count, int off, int n, float[] dst, Kernels k);

    /** The floats of {@code layer} when the store keeps them as they are (F32), so reads need no copy; else null. */
    public float[] floats(int layer) {
        return null;
    }

    /** Copies positions {@code [src, src + count)} to {@code [dst, dst + count)} in every layer, codes and scales alike. */
    public abstract void copy(int src, int dst, int count);

    static final class F32 extends KvStore {
        private final float[][] data;
        private final Kernels k;

        F32(int layers, int capacity, int kvDim, Kernels k) {
            super(capacity, kvDim, 1);
            this.k = k;
            data = new float[layers][Math.multiplyExact(capacity, kvDim)];
        }

        @Override
        public void put(int layer, int pos, float[] src, int srcOff) {
            System.arraycopy(src, srcOff, data[layer], pos * kvDim, kvDim);
        }

        @Override
        public float dot(float[] q, int qOff, int layer, int pos, int off, int n) {
            return k.dot(q, qOff, data[layer], pos * kvDim + off, n);
        }

        @Override
        public void axpy(float a, int layer, int pos, int off, int n, float[] y, int yOff) {
            k.axpy(a, data[layer], pos * kvDim + off, y, yOff, n);
        }

        @Override
        public long bytesPerPosition() {
            return (long) kvDim * Float.BYTES;
        }

        @Override
        public float[] floats(int layer) {
            return data[layer];
        }

        @Override
        public void decodeRows(int layer, int row, int count, int off, int n, float[] dst, Kernels k) {
            for (int r = 0; r < count; r++) {
                System.arraycopy(data[layer], (row + r) * kvDim + off, dst, r * n, n);
            }
        }

        @Override
        public void copy(int src, int dst, int count) {
            for (float[] d : data) {
                System.arraycopy(d, src * kvDim, d, dst * kvDim, count * kvDim);
            }
        }
    }

    static final class F16 extends KvStore {
        private final short[][] data;

        F16(int layers, int capacity, int kvDim, int group) {
            super(capacity, kvDim, group);
            data = new short[layers][Math.multiplyExact(capacity, kvDim)];
        }

        @Override
        public void put(int layer, int pos, float[] src, int srcOff) {
            short[] d = data[layer];
            int b = pos * kvDim;
            for (int i = 0; i < kvDim; i++) {
                d[b + i] = Float.floatToFloat16(src[srcOff + i]);
            }
        }

        @Override
        public float dot(float[] q, int qOff, int layer, int pos, int off, int n) {
            short[] d = data[layer];
            int b = pos * kvDim + off;
            float s = 0f;
            for (int i = 0; i < n; i++) {
                s += q[qOff + i] * Float.float16ToFloat(d[b + i]);
            }
            return s;
        }

        @Override
        public void axpy(float a, int layer, int pos, int off, int n, float[] y, int yOff) {
            short[] d = data[layer];
            int b = pos * kvDim + off;
            for (int i = 0; i < n; i++) {
                y[yOff + i] += a * Float.float16ToFloat(d[b + i]);
            }
        }

        @Override
        public long bytesPerPosition() {
            return (long) kvDim * Short.BYTES;
        }

        @Override
        public void decodeRows(int layer, int row, int count, int off, int n, float[] dst, Kernels k) {
            short[] d = data[layer];
            for (int r = 0; r < count; r++) {
                int b = (row + r) * kvDim + off;
                for (int i = 0; i < n; i++) {
                    dst[r * n + i] = Float.float16ToFloat(d[b + i]);
                }
            }
        }

        @Override
        public void copy(int src, int dst, int count) {
            for (short[] d : data) {
                System.arraycopy(d, src * kvDim, d, dst * kvDim, count * kvDim);
            }
        }
    }

    /** Symmetric 8-bit: x ≈ scale · code, code ∈ [-127, 127], scale = max|x| / 127 per group. */
    static final class Q8 extends KvStore {
        private final byte[][] codes;
        private final float[][] scales;

        Q8(int layers, int capacity, int kvDim, int group) {
            super(capacity, kvDim, group);
            codes = new byte[layers][Math.multiplyExact(capacity, kvDim)];
            scales = new float[layers][Math.multiplyExact(capacity, kvDim / group)];
        }

        @Override
        public void put(int layer, int pos, float[] src, int srcOff) {
            byte[] c = codes[layer];
            float[] sc = scales[layer];
            int b = pos * kvDim;
            for (int g = 0; g < kvDim; g += group) {
                float amax = 0f;
                for (int i = 0; i < group; i++) {
                    amax = Math.max(amax, Math.abs(src[srcOff + g + i]));
                }
                float scale = amax / 127f;
                float inv = scale > 0f ? 1f / scale : 0f;
                for (int i = 0; i < group; i++) {
                    c[b + g + i] = (byte) Math.round(src[srcOff + g + i] * inv);
                }
                sc[(b + g) / group] = scale;
            }
        }

        @Override
        public float dot(float[] q, int qOff, int layer, int pos, int off, int n) {
            byte[] c = codes[layer];
            float[] sc = scales[layer];
            int b = pos * kvDim + off;
            float s = 0f;
            for (int g = 0; g < n; g += group) {
                // Integer codes times the query inside the group, one scale multiply per group.
                float acc = 0f;
                for (int i = 0; i < group; i++) {
                    acc += q[qOff + g + i] * c[b + g + i];
                }
                s += acc * sc[(b + g) / group];
            }
            return s;
        }

        @Override
        public void axpy(float a, int layer, int pos, int off, int n, float[] y, int yOff) {
            byte[] c = codes[layer];
            float[] sc = scales[layer];
            int b = pos * kvDim + off;
            for (int g = 0; g < n; g += group) {
                float as = a * sc[(b + g) / group];
                for (int i = 0; i < group; i++) {
                    y[yOff + g + i] += as * c[b + g + i];
                }
            }
        }

        @Override
        public long bytesPerPosition() {
            return kvDim + (long) (kvDim / group) * Float.BYTES;
        }

        @Override
        public void decodeRows(int layer, int row, int count, int off, int n, float[] dst, Kernels k) {
            for (int r = 0; r < count; r++) {
                int b = (row + r) * kvDim + off;
                k.dequantizeInt8(codes[layer], b, scales[layer], b / group, group, dst, r * n, n);
            }
        }

        @Override
        public void copy(int src, int dst, int count) {
            int g = kvDim / group;
            for (int l = 0; l < codes.length; l++) {
                System.arraycopy(codes[l], src * kvDim, codes[l], dst * kvDim, count * kvDim);
                System.arraycopy(scales[l], src * g, scales[l], dst * g, count * g);
            }
        }
    }

    /**
     * Asymmetric 4-bit: x ≈ min + scale · code, code ∈ [0, 15], scale = (max − min) / 15 per group;
     * two codes per byte: byte j of a group holds element j in its low nibble and element j + group/2
     * in its high nibble (as ggml's Q4_0), so a vector of bytes unpacks into two runs of neighbours.
     * The minimum keeps skewed groups (keys have channels with large offsets) from wasting half the range.
     */
    static final class Q4 extends KvStore {
        private final byte[][] codes;
        private final float[][] scales;
        private final float[][] mins;

        Q4(int layers, int capacity, int kvDim, int group) {
            super(capacity, kvDim, group);
            if (group % 2 != 0) {
                throw new IllegalArgumentException("4-bit groups pack two codes a byte; group " + group + " is odd");
            }
            codes = new byte[layers][Math.multiplyExact(capacity, kvDim / 2)];
            scales = new float[layers][Math.multiplyExact(capacity, kvDim / group)];
            mins = new float[layers][Math.multiplyExact(capacity, kvDim / group)];
        }

        @Override
        public void put(int layer, int pos, float[] src, int srcOff) {
            byte[] c = codes[layer];
            int b = pos * kvDim;
            for (int g = 0; g < kvDim; g += group) {
                float lo = Float.POSITIVE_INFINITY;
                float hi = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < group; i++) {
                    float x = src[srcOff + g + i];
                    lo = Math.min(lo, x);
                    hi = Math.max(hi, x);
                }
                float scale = (hi - lo) / 15f;
                float inv = scale > 0f ? 1f / scale : 0f;
                int half = group / 2;
                for (int j = 0; j < half; j++) {
                    int c0 = Math.min(15, Math.max(0, Math.round((src[srcOff + g + j] - lo) * inv)));
                    int c1 = Math.min(15, Math.max(0, Math.round((src[srcOff + g + half + j] - lo) * inv)));
                    c[(b + g) / 2 + j] = (byte) (c0 | c1 << 4);
                }
                scales[layer][(b + g) / group] = scale;
                mins[layer][(b + g) / group] = lo;
            }
        }

        @Override
        public float dot(float[] q, int qOff, int layer, int pos, int off, int n) {
            byte[] c = codes[layer];
            int b = pos * kvDim + off;
            float s = 0f;
            for (int g = 0; g < n; g += group) {
                // Σ q·(min + scale·code) = scale·Σ q·code + min·Σ q.
                float acc = 0f;
                float qs = 0f;
                int half = group / 2;
                for (int j = 0; j < half; j++) {
                    int bb = c[(b + g) / 2 + j];
                    float q0 = q[qOff + g + j];
                    float q1 = q[qOff + g + half + j];
                    acc += q0 * (bb & 15) + q1 * ((bb >> 4) & 15);
                    qs += q0 + q1;
                }
                int gi = (b + g) / group;
                s += acc * scales[layer][gi] + qs * mins[layer][gi];
            }
            return s;
        }

        @Override
        public void axpy(float a, int layer, int pos, int off, int n, float[] y, int yOff) {
            byte[] c = codes[layer];
            int b = pos * kvDim + off;
            for (int g = 0; g < n; g += group) {
                int gi = (b + g) / group;
                float as = a * scales[layer][gi];
                float am = a * mins[layer][gi];
                int half = group / 2;
                for (int j = 0; j < half; j++) {
                    int bb = c[(b + g) / 2 + j];
                    y[yOff + g + j] += am + as * (bb & 15);
                    y[yOff + g + half + j] += am + as * ((bb >> 4) & 15);
                }
            }
        }

        @Override
        public long bytesPerPosition() {
            return kvDim / 2 + (long) (kvDim / group) * 2 * Float.BYTES;
        }

        @Override
        public void decodeRows(int layer, int row, int count, int off, int n, float[] dst, Kernels k) {
            for (int r = 0; r < count; r++) {
                int b = (row + r) * kvDim + off;
                k.dequantizeUint4(codes[layer], b / 2, scales[layer], mins[layer], b / group, group, dst, r * n, n);
            }
        }

        @Override
        public void copy(int src, int dst, int count) {
            int g = kvDim / group;
            int h = kvDim / 2;
            for (int l = 0; l < codes.length; l++) {
                System.arraycopy(codes[l], src * h, codes[l], dst * h, count * h);
                System.arraycopy(scales[l], src * g, scales[l], dst * g, count * g);
                System.arraycopy(mins[l], src * g, mins[l], dst * g, count * g);
            }
        }
    }

    /**
     * Keys quantized per channel (KIVI, KVQuant): positions form groups of {@code span} consecutive
     * rows, and within a group every channel has its own scale (8-bit: symmetric, code ∈ [-127, 127];
     * 4-bit: asymmetric with a minimum, code ∈ [0, 15]), so channels with large offsets or outliers —
     * which keys have and values do not — keep their own range. A group is written whole, by
     * {@link #putGroup}, once its last position is known ({@link KvCache} holds the open group in its
     * full-precision window meanwhile).
     *
     * <p>Codes are channel-major within a group: channel c's codes of the group's rows are consecutive
     * (4-bit: byte j holds row j low and row j + span/2 high), so attention scores all rows of a group
     * from the codes with the scales folded into the query ({@link #scoreGroup}).
     */
    static final class Channel extends KvStore {
        final int bits;
        final int span;
        private final byte[][] codes;   // [layer][group · kvDim · span · bits/8]
        private final float[][] scales; // [layer][group · kvDim + c]
        private final float[][] mins;   // 4-bit only

        Channel(int bits, int layers, int capacity, int kvDim, int span) {
            super(capacity, kvDim, 1);
            if (bits != 4 && bits != 8) {
                throw new IllegalArgumentException("per-channel keys take 4 or 8 bits, not " + bits);
            }
            if (span < 2 || span % 2 != 0) {
                throw new IllegalArgumentException("a key group of " + span + " positions must be even");
            }
            this.bits = bits;
            this.span = span;
            int groups = (capacity + span - 1) / span; // the last group may reach past the capacity
            codes = new byte[layers][Math.multiplyExact(groups * span, kvDim) / (8 / bits)];
            scales = new float[layers][Math.multiplyExact(groups, kvDim)];
            mins = bits == 4 ? new float[layers][groups * kvDim] : null;
        }

        /** Bytes of codes per channel and group. */
        private int channelBytes() {
            return span * bits / 8;
        }

        /** Index of the code byte of channel c at row {@code row}, and whether it is the high nibble (4-bit). */
        private int codeIndex(int row, int c) {
            int g = row / span;
            int j = row % span;
            return (g * kvDim + c) * channelBytes() + (bits == 8 ? j : j % (span / 2));
        }

        private float decode(int layer, int row, int c) {
            int si = row / span * kvDim + c;
            int b = codes[layer][codeIndex(row, c)];
            if (bits == 8) {
                return b * scales[layer][si];
            }
            int code = row % span < span / 2 ? b & 15 : (b >> 4) & 15;
            return Math.fma((float) code, scales[layer][si], mins[layer][si]);
        }

        @Override
        public void put(int layer, int pos, float[] src, int srcOff) {
            throw new IllegalStateException("per-channel keys are written a group of " + span + " positions at a time");
        }

        /** Quantizes rows {@code [row0, row0 + span)} ({@code row0} group-aligned) from {@code src[r · kvDim + c]}. */
        void putGroup(int layer, int row0, float[] src) {
            if (row0 % span != 0) {
                throw new IllegalArgumentException("row " + row0 + " does not start a group of " + span);
            }
            int g = row0 / span;
            byte[] cd = codes[layer];
            int cb = channelBytes();
            int half = span / 2;
            for (int c = 0; c < kvDim; c++) {
                int base = (g * kvDim + c) * cb;
                if (bits == 8) {
                    float amax = 0f;
                    for (int r = 0; r < span; r++) {
                        amax = Math.max(amax, Math.abs(src[r * kvDim + c]));
                    }
                    float scale = amax / 127f;
                    float inv = scale > 0f ? 1f / scale : 0f;
                    for (int r = 0; r < span; r++) {
                        cd[base + r] = (byte) Math.round(src[r * kvDim + c] * inv);
                    }
                    scales[layer][g * kvDim + c] = scale;
                } else {
                    float lo = Float.POSITIVE_INFINITY;
                    float hi = Float.NEGATIVE_INFINITY;
                    for (int r = 0; r < span; r++) {
                        lo = Math.min(lo, src[r * kvDim + c]);
                        hi = Math.max(hi, src[r * kvDim + c]);
                    }
                    float scale = (hi - lo) / 15f;
                    float inv = scale > 0f ? 1f / scale : 0f;
                    for (int j = 0; j < half; j++) {
                        int c0 = Math.min(15, Math.max(0, Math.round((src[j * kvDim + c] - lo) * inv)));
                        int c1 = Math.min(15, Math.max(0, Math.round((src[(j + half) * kvDim + c] - lo) * inv)));
                        cd[base + j] = (byte) (c0 | c1 << 4);
                    }
                    scales[layer][g * kvDim + c] = scale;
                    mins[layer][g * kvDim + c] = lo;
                }
            }
        }

        /**
         * {@code out[outOff + h·outStride + r] = q_h · key[row0 + r][off ..off + n)} for the {@code heads}
         * query slices {@code q[qOff + h·n ..]} and the whole group at {@code row0}, from the codes:
         * {@code Σ_c q_c·(min_c + scale_c·code_c) = Σ_c (q_c·scale_c)·code_c + Σ_c q_c·min_c}, so the
         * scales are folded into a scaled copy of the queries ({@code tmp}, at least {@code heads · n}).
         */
        void scoreGroup(int layer, int row0, float[] q, int qOff, int heads, int off, int n, float[] out, int outOff,
                int outStride, float[] tmp, Kernels k) {
            int si = row0 / span * kvDim + off;
            float[] sc = scales[layer];
            for (int h = 0; h < heads; h++) {
                for (int c = 0; c < n; c++) {
                    tmp[h * n + c] = q[qOff + h * n + c] * sc[si + c];
                }
            }
            int cOff = (row0 / span * kvDim + off) * channelBytes();
            if (bits == 8) {
                k.channelDotInt8(tmp, 0, heads, n, codes[layer], cOff, span, out, outOff, outStride);
                return;
            }
            k.channelDotUint4(tmp, 0, heads, n, codes[layer], cOff, span, out, outOff, outStride);
            for (int h = 0; h < heads; h++) {
                float base = k.dot(q, qOff + h * n, mins[layer], si, n);
                int o = outOff + h * outStride;
                for (int r = 0; r < span; r++) {
                    out[o + r] += base;
                }
            }
        }

        @Override
        public float dot(float[] q, int qOff, int layer, int pos, int off, int n) {
            float s = 0f;
            for (int i = 0; i < n; i++) {
                s += q[qOff + i] * decode(layer, pos, off + i);
            }
            return s;
        }

        @Override
        public void axpy(float a, int layer, int pos, int off, int n, float[] y, int yOff) {
            for (int i = 0; i < n; i++) {
                y[yOff + i] += a * decode(layer, pos, off + i);
            }
        }

        @Override
        public long bytesPerPosition() {
            // Codes, plus each group's per-channel scales (and minimums) spread over its positions.
            return (long) kvDim * bits / 8 + (long) kvDim * Float.BYTES * (bits == 4 ? 2 : 1) / span;
        }

        @Override
        public void decodeRows(int layer, int row, int count, int off, int n, float[] dst, Kernels k) {
            for (int r = 0; r < count; r++) {
                for (int i = 0; i < n; i++) {
                    dst[r * n + i] = decode(layer, row + r, off + i);
                }
            }
        }

        @Override
        public void copy(int src, int dst, int count) {
            if (src % span != 0 || dst % span != 0 || count % span != 0) {
                throw new IllegalArgumentException("per-channel keys copy whole groups of " + span + " positions");
            }
            int perGroup = kvDim * channelBytes();
            int gs = src / span;
            int gd = dst / span;
            int gn = count / span;
            for (int l = 0; l < codes.length; l++) {
                System.arraycopy(codes[l], gs * perGroup, codes[l], gd * perGroup, gn * perGroup);
                System.arraycopy(scales[l], gs * kvDim, scales[l], gd * kvDim, gn * kvDim);
                if (mins != null) {
                    System.arraycopy(mins[l], gs * kvDim, mins[l], gd * kvDim, gn * kvDim);
                }
            }
        }
    }

    /**
     * Per-token magnitude sparsity (Mustafar) in the bitmap layout of the sparse weight encodings
     * ({@code docs/formats.md}): per position, each group of {@code group} values keeps exactly its
     * {@code keep} largest magnitudes (ties: the lower index), recorded as a bitmask (bit i = value i)
     * and stored as IEEE halves in position order, value r at the r-th set bit; the others read as 0.
     * A fixed count per group keeps every position the same size, so rows stay addressable.
     */
    static final class Sparse extends KvStore {
        final int keep;
        private final int[][] masks;    // [layer][pos · kvDim/group + g]
        private final short[][] values; // [layer][(pos · kvDim/group + g) · keep + r]

        Sparse(int layers, int capacity, int kvDim, int group, int keep) {
            super(capacity, kvDim, group);
            if (group > 32 || keep < 1 || keep > group) {
                throw new IllegalArgumentException("a sparse group of " + group + " cannot keep " + keep);
            }
            this.keep = keep;
            int groups = Math.multiplyExact(capacity, kvDim / group);
            masks = new int[layers][groups];
            values = new short[layers][Math.multiplyExact(groups, keep)];
        }

        @Override
        public void put(int layer, int pos, float[] src, int srcOff) {
            int gs = kvDim / group;
            for (int g = 0; g < gs; g++) {
                int base = srcOff + g * group;
                int mask = 0;
                for (int r = 0; r < keep; r++) { // selection of the largest remaining, `keep` times (group ≤ 32)
                    int best = -1;
                    for (int i = 0; i < group; i++) {
                        if ((mask >>> i & 1) == 0 && (best < 0 || Math.abs(src[base + i]) > Math.abs(src[base + best]))) {
                            best = i;
                        }
                    }
                    mask |= 1 << best;
                }
                int gi = pos * gs + g;
                masks[layer][gi] = mask;
                int r = 0;
                for (int bits = mask; bits != 0; bits &= bits - 1) {
                    values[layer][gi * keep + r++] = Float.floatToFloat16(src[base + Integer.numberOfTrailingZeros(bits)]);
                }
            }
        }

        /** Decodes groups {@code [off, off + n)} of position {@code pos} into {@code dst[dstOff ..]}, zeros included. */
        private void decodeInto(int layer, int pos, int off, int n, float[] dst, int dstOff) {
            int gs = kvDim / group;
            for (int g = off / group; g < (off + n) / group; g++) {
                int gi = pos * gs + g;
                int o = dstOff + g * group - off;
                java.util.Arrays.fill(dst, o, o + group, 0f);
                int r = 0;
                for (int bits = masks[layer][gi]; bits != 0; bits &= bits - 1) {
                    dst[o + Integer.numberOfTrailingZeros(bits)] = Float.float16ToFloat(values[layer][gi * keep + r++]);
                }
            }
        }

        @Override
        public float dot(float[] q, int qOff, int layer, int pos, int off, int n) {
            int gs = kvDim / group;
            float s = 0f;
            for (int g = off / group; g < (off + n) / group; g++) {
                int gi = pos * gs + g;
                int qb = qOff + g * group - off;
                int r = 0;
                for (int bits = masks[layer][gi]; bits != 0; bits &= bits - 1) {
                    s += q[qb + Integer.numberOfTrailingZeros(bits)] * Float.float16ToFloat(values[layer][gi * keep + r++]);
                }
            }
            return s;
        }

        @Override
        public void axpy(float a, int layer, int pos, int off, int n, float[] y, int yOff) {
            int gs = kvDim / group;
            for (int g = off / group; g < (off + n) / group; g++) {
                int gi = pos * gs + g;
                int yb = yOff + g * group - off;
                int r = 0;
                for (int bits = masks[layer][gi]; bits != 0; bits &= bits - 1) {
                    y[yb + Integer.numberOfTrailingZeros(bits)] += a * Float.float16ToFloat(values[layer][gi * keep + r++]);
                }
            }
        }

        @Override
        public long bytesPerPosition() {
            return (long) (kvDim / group) * (Integer.BYTES + keep * Short.BYTES);
        }

        @Override
        public void decodeRows(int layer, int row, int count, int off, int n, float[] dst, Kernels k) {
            for (int r = 0; r < count; r++) {
                decodeInto(layer, row + r, off, n, dst, r * n);
            }
        }

        @Override
        public void copy(int src, int dst, int count) {
            int gs = kvDim / group;
            for (int l = 0; l < masks.length; l++) {
                System.arraycopy(masks[l], src * gs, masks[l], dst * gs, count * gs);
                System.arraycopy(values[l], src * gs * keep, values[l], dst * gs * keep, count * gs * keep);
            }
        }
    }
}
