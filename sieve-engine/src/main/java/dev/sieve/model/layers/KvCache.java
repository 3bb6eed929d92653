package dev.sieve.model.layers;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Kernels;

/**
 * Keys and values of one sequence, per layer and position, in a {@link KvEncoding}. Attention reads
 * them through {@link #dotKey} and {@link #axpyValue}, which dequantize on the fly.
 *
 * <p>Quantized caches also keep the last {@link #residual()} positions written per layer in full
 * precision (KIVI's residual window): the most recent tokens carry the most attention, and this
 * costs a fixed {@code 2 · residual · kvDim} floats per layer regardless of the context. Every
 * position is quantized when written; the window only shadows it while it is recent, so rewinding
 * ({@link #truncate}) never loses data.
 *
 * <p>Quantization is per token in groups of up to 32 values within a head, for keys and values
 * alike (not KIVI's per-channel keys).
 */
public final class KvCache {
    /** Default residual window of quantized caches, in positions. */
    public static final int DEFAULT_RESIDUAL = 32;

    private final KvEncoding encoding;
    private final KvStore keys;
    private final KvStore values;
    private final int layers;
    private final int capacity;
    private final int kvDim;
    private final int residual;
    private final Kernels k;
    private final float[][] recentKeys;   // [layer][slot · kvDim], slot = pos % residual
    private final float[][] recentValues;
    private final int[][] recentPos;      // [layer][slot]: the position a slot holds, or -1
    private int length;

    /** A full-precision (F32) cache. */
    public KvCache(int layers, int capacity, int kvDim) {
        this(layers, capacity, kvDim, kvDim, KvEncoding.F32, 0, KernelProvider.get());
    }

    /**
     * A cache of {@code layers × capacity} positions of {@code kvDim} values (heads of {@code headDim})
     * in {@code encoding}, with a full-precision window of the last {@code residual} positions (ignored
     * for F32). {@code k} computes the full-precision dot products.
     */
    public KvCache(int layers, int capacity, int kvDim, int headDim, KvEncoding encoding, int residual, Kernels k) {
        if (residual < 0) {
            throw new IllegalArgumentException("residual window must not be negative: " + residual);
        }
        if (kvDim % headDim != 0) {
            throw new IllegalArgumentException("kvDim " + kvDim + " is not a multiple of the head " + headDim);
        }
        this.encoding = encoding;
        this.layers = layers;
        this.capacity = capacity;
        this.kvDim = kvDim;
        this.k = k;
        // Groups never straddle heads: 32, or the largest divisor of the head dimension below it.
        int group = gcd(32, headDim);
        this.keys = KvStore.create(encoding, layers, capacity, kvDim, group, k);
        this.values = KvStore.create(encoding, layers, capacity, kvDim, group, k);
        this.residual = encoding == KvEncoding.F32 ? 0 : Math.min(residual, capacity);
        this.recentKeys = new float[layers][this.residual * kvDim];
        this.recentValues = new float[layers][this.residual * kvDim];
        this.recentPos = new int[layers][this.residual];
        for (int[] r : recentPos) {
            java.util.Arrays.fill(r, -1);
        }
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    public KvEncoding encoding() {
        return encoding;
    }

    public int capacity() {
        return capacity;
    }

    public int kvDim() {
        return kvDim;
    }

    /** Positions kept in full precision besides their quantized copy (0 for F32). */
    public int residual() {
        return residual;
    }

    /** Number of positions filled. */
    public int length() {
        return length;
    }

    /** Forgets positions from {@code newLength} on (e.g. to rewind a chat turn). */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate " + length + " positions to " + newLength);
        }
        length = newLength;
        for (int[] r : recentPos) {
            for (int s = 0; s < r.length; s++) {
                if (r[s] >= newLength) {
                    r[s] = -1;
                }
            }
        }
    }

    void extendTo(int newLength) {
        length = Math.max(length, newLength);
    }

    /** Stores the key {@code kSrc[kOff ..]} and value {@code vSrc[vOff ..]} of position {@code pos} in {@code layer}. */
    public void put(int layer, int pos, float[] kSrc, int kOff, float[] vSrc, int vOff) {
        keys.put(layer, pos, kSrc, kOff);
        values.put(layer, pos, vSrc, vOff);
        if (residual > 0) {
            int slot = pos % residual;
            System.arraycopy(kSrc, kOff, recentKeys[layer], slot * kvDim, kvDim);
            System.arraycopy(vSrc, vOff, recentValues[layer], slot * kvDim, kvDim);
            recentPos[layer][slot] = pos;
        }
    }

    /** {@code Σ q[qOff + i] · key[pos][off + i]} for i below {@code n} (one head, {@code off} head-aligned). */
    public float dotKey(float[] q, int qOff, int layer, int pos, int off, int n) {
        if (residual > 0) {
            int slot = pos % residual;
            if (recentPos[layer][slot] == pos) {
                return k.dot(q, qOff, recentKeys[layer], slot * kvDim + off, n);
            }
        }
        return keys.dot(q, qOff, layer, pos, off, n);
    }

    /** {@code y[yOff + i] += a · value[pos][off + i]} for i below {@code n}. */
    public void axpyValue(float a, int layer, int pos, int off, int n, float[] y, int yOff) {
        if (residual > 0) {
            int slot = pos % residual;
            if (recentPos[layer][slot] == pos) {
                k.axpy(a, recentValues[layer], slot * kvDim + off, y, yOff, n);
                return;
            }
        }
        values.axpy(a, layer, pos, off, n, y, yOff);
    }

    /** The stores (for tests). */
    KvStore keyStore() {
        return keys;
    }

    KvStore valueStore() {
        return values;
    }

    /** Bytes each position takes in the (quantized) store, keys and values of all layers. */
    public long bytesPerToken() {
        return (long) layers * (keys.bytesPerPosition() + values.bytesPerPosition());
    }

    /** Bytes held by this cache: the store at full capacity plus the residual window. */
    public long byteSize() {
        return capacity * bytesPerToken() + 2L * layers * residual * kvDim * Float.BYTES
                + (long) layers * residual * Integer.BYTES;
    }
}
