package dev.sieve.model.layers;

/**
 * Keys and values of one sequence, per layer, contiguous by position: the entry of position
 * {@code p} in layer {@code l} starts at {@code p · kvDim} of {@link #keys(int)} and {@link
 * #values(int)}. Positions below {@link #length()} are valid.
 */
public final class KvCache {
    private final float[][] keys;
    private final float[][] values;
    private final int capacity;
    private final int kvDim;
    private int length;

    public KvCache(int layers, int capacity, int kvDim) {
        this.capacity = capacity;
        this.kvDim = kvDim;
        this.keys = new float[layers][Math.multiplyExact(capacity, kvDim)];
        this.values = new float[layers][Math.multiplyExact(capacity, kvDim)];
    }

    public int capacity() {
        return capacity;
    }

    public int kvDim() {
        return kvDim;
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
    }

    void extendTo(int newLength) {
        length = Math.max(length, newLength);
    }

    public float[] keys(int layer) {
        return keys[layer];
    }

    public float[] values(int layer) {
        return values[layer];
    }

    /** Bytes held by this cache. */
    public long byteSize() {
        return 2L * keys.length * keys[0].length * Float.BYTES;
    }
}
