package dev.sieve.model.layers;

import dev.sieve.core.kernel.Kernels;

/**
 * One half of a KV cache (the keys or the values) of every layer, in one {@link KvEncoding}. Each
 * position holds a vector of {@code kvDim} floats; the read operations take a group-aligned slice
 * {@code [off, off + n)} of it (one head) and dequantize on the fly, so the float cache is never
 * materialized.
 */
public abstract sealed class KvStore permits KvStore.F32, KvStore.F16, KvStore.Q8, KvStore.Q4 {
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
            case Q8 -> new Q8(layers, capacity, kvDim, group);
            case Q4 -> new Q4(layers, capacity, kvDim, group);
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
}
