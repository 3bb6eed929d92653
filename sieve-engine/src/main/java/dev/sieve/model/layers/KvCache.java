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
 *
 * <p>A cache is either contiguous (its own stores, position p at row p) or <em>paged</em>: a view of
 * a {@link KvPool} through a block table, position p at row {@code table[p / B] · B + p % B} of the
 * pool's stores. Paged caches hold their blocks by reference count: {@link #fork} shares all of
 * them, and {@link #reserve} copies a shared block before the first write into it (copy-on-write),
 * so sequences with a common prefix share its memory and never see each other's writes.
 */
public final class KvCache {
    /** Default residual window of quantized caches, in positions. */
    public static final int DEFAULT_RESIDUAL = 32;
    /** Positions per group of per-channel (KIVI) keys in a contiguous cache; paged ones use gcd(this, B). */
    public static final int KEY_SPAN = 32;

    private final KvEncoding encoding;
    private final KvStore keys;
    private final KvStore values;
    private final KvStore.Channel channelKeys; // the keys when quantized per channel (KIVI), else null
    private final float[] groupScratch;        // one key group as floats, gathered to be quantized
    private final int layers;
    private final int capacity;
    private final int kvDim;
    private final int residual;
    private final Kernels k;
    private final float[][] recentKeys;   // [layer][slot · kvDim], slot = pos % residual
    private final float[][] recentValues;
    private final int[][] recentPos;      // [layer][slot]: the position a slot holds, or -1
    private int length;
    private float[] attention; // accumulated attention per position (H2O), or null when not tracked
    // Paged caches only: the pool whose stores hold the data, and the block of each B positions (-1: none).
    private final KvPool pool;
    private final int blockTokens;
    private final int[] table;

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
        this(layers, capacity, kvDim, headDim, encoding, residual, k, null);
    }

    /** A paged view of {@code pool} holding no block yet. */
    KvCache(KvPool pool, int capacity, int residual) {
        this(pool.layers(), capacity, pool.kvDim(), pool.headDim(), pool.encoding(), residual, pool.kernels(), pool);
    }

    private KvCache(int layers, int capacity, int kvDim, int headDim, KvEncoding encoding, int residual, Kernels k,
            KvPool pool) {
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
        this.pool = pool;
        if (pool == null) {
            this.keys = KvStore.createKeys(encoding, layers, capacity, kvDim, group, KEY_SPAN, k);
            this.values = KvStore.create(encoding, layers, capacity, kvDim, group, k);
            this.blockTokens = 0;
            this.table = null;
        } else {
            this.keys = pool.keys();
            this.values = pool.values();
            this.blockTokens = pool.blockTokens();
            this.table = new int[(capacity + blockTokens - 1) / blockTokens];
            java.util.Arrays.fill(table, -1);
        }
        this.channelKeys = keys instanceof KvStore.Channel ch ? ch : null;
        // Per-channel keys: the window also holds the open key group until it is complete, so it
        // spans at least one group.
        int span = channelKeys != null ? channelKeys.span : 0;
        this.groupScratch = new float[span * kvDim];
        this.residual = encoding == KvEncoding.F32 ? 0 : Math.max(Math.min(residual, capacity), span);
        this.recentKeys = new float[layers][this.residual * kvDim];
        this.recentValues = new float[layers][this.residual * kvDim];
        this.recentPos = new int[layers][this.residual];
        for (int[] r : recentPos) {
            java.util.Arrays.fill(r, -1);
        }
    }

    static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /** The row of the stores that holds position {@code pos}. */
    private int row(int pos) {
        if (table == null) {
            return pos;
        }
        int b = table[pos / blockTokens];
        if (b < 0) {
            throw new IllegalStateException("position " + pos + " has no block (reserve it first)");
        }
        return b * blockTokens + pos % blockTokens;
    }

    /** Whether this cache is a view of a {@link KvPool}. */
    public boolean paged() {
        return pool != null;
    }

    /**
     * Makes positions {@code [0, tokens)} writable from {@link #length()} on: takes a block from the
     * pool for every position range without one, and replaces every block that is shared and will be
     * written by a private copy. Either all of that succeeds, or nothing changes and the answer is
     * false (the pool has too few free blocks). A contiguous cache answers whether {@code tokens} fits.
     */
    public boolean reserve(int tokens) {
        if (tokens > capacity) {
            throw new IllegalArgumentException(tokens + " tokens exceed the capacity of " + capacity);
        }
        if (table == null) {
            return true;
        }
        int need = blocksToReserve(tokens);
        if (need == 0) {
            return true;
        }
        if (need > pool.freeBlocks()) {
            return false;
        }
        int last = (tokens + blockTokens - 1) / blockTokens;
        for (int i = 0; i < last; i++) {
            if (table[i] < 0) {
                table[i] = pool.take();
            } else if ((i + 1) * blockTokens > length && pool.refCount(table[i]) > 1) {
                int copy = pool.take();
                pool.copyBlock(table[i], copy);
                pool.release(table[i]);
                table[i] = copy;
            }
        }
        return true;
    }

    /** The free blocks {@link #reserve reserve(tokens)} would take (0 for a contiguous cache). */
    public int blocksToReserve(int tokens) {
        if (table == null) {
            return 0;
        }
        int last = (tokens + blockTokens - 1) / blockTokens;
        int need = 0;
        for (int i = 0; i < last; i++) {
            if (table[i] < 0 || (i + 1) * blockTokens > length && pool.refCount(table[i]) > 1) {
                need++;
            }
        }
        return need;
    }

    /**
     * A second paged cache over the same blocks and positions (each block's reference count goes up
     * by one); later writes of either copy shared blocks first. The residual window is copied.
     */
    public KvCache fork() {
        requirePaged();
        KvCache f = new KvCache(pool, capacity, residual);
        for (int i = 0; i < table.length && table[i] >= 0; i++) {
            pool.retain(table[i]);
            f.table[i] = table[i];
        }
        f.length = length;
        for (int l = 0; l < layers; l++) {
            System.arraycopy(recentKeys[l], 0, f.recentKeys[l], 0, recentKeys[l].length);
            System.arraycopy(recentValues[l], 0, f.recentValues[l], 0, recentValues[l].length);
            System.arraycopy(recentPos[l], 0, f.recentPos[l], 0, recentPos[l].length);
        }
        return f;
    }

    /**
     * Starts an empty paged cache with {@code blocks} (filled blocks of another sequence with the
     * same tokens, e.g. a cached prompt prefix) as its first positions: each is retained, and the
     * length becomes {@code blocks.length · B}.
     */
    public void adopt(int[] blocks) {
        requirePaged();
        if (length != 0 || table[0] >= 0) {
            throw new IllegalStateException("only an empty cache adopts a prefix");
        }
        if (blocks.length > table.length) {
            throw new IllegalArgumentException(blocks.length + " blocks exceed the capacity of " + capacity);
        }
        for (int i = 0; i < blocks.length; i++) {
            pool.retain(blocks[i]);
            table[i] = blocks[i];
        }
        length = blocks.length * blockTokens;
    }

    /** Returns every block to the pool (a paged cache) and empties the cache. */
    public void release() {
        truncate(0);
    }

    /** The block holding positions {@code [i · B, (i + 1) · B)}, or -1 (paged caches). */
    public int block(int i) {
        requirePaged();
        return table[i];
    }

    /** Blocks held (paged caches; 0 for a contiguous one). */
    public int blocksHeld() {
        if (table == null) {
            return 0;
        }
        int n = 0;
        while (n < table.length && table[n] >= 0) {
            n++;
        }
        return n;
    }

    private void requirePaged() {
        if (pool == null) {
            throw new IllegalStateException("a contiguous cache has no blocks");
        }
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

    /**
     * Forgets positions from {@code newLength} on (e.g. to rewind a chat turn); a paged cache returns
     * the blocks that no longer hold a position, including blocks reserved beyond the length.
     */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate " + length + " positions to " + newLength);
        }
        length = newLength;
        if (table != null) {
            for (int i = (newLength + blockTokens - 1) / blockTokens; i < table.length && table[i] >= 0; i++) {
                pool.release(table[i]);
                table[i] = -1;
            }
        }
        for (int[] r : recentPos) {
            for (int s = 0; s < r.length; s++) {
                if (r[s] >= newLength) {
                    r[s] = -1;
                }
            }
        }
        if (attention != null) {
            java.util.Arrays.fill(attention, newLength, attention.length, 0f);
        }
    }

    /**
     * Turns on (or off, clearing it) the accumulation of the attention each position receives, summed
     * over layers, heads and queries ({@link #addAttention}); H2O's heavy hitters are the positions with
     * the most.
     */
    public void trackAttention(boolean on) {
        attention = on ? new float[capacity] : null;
    }

    public boolean tracksAttention() {
        return attention != null;
    }

    /**
     * Adds {@code weight · probs[off + p]} to the attention of positions {@code p < count} (one query
     * head's softmax, unnormalized with its normalizer's inverse as {@code weight}). Attention threads
     * call this concurrently.
     */
    public synchronized void addAttention(float[] probs, int off, int count, float weight) {
        float[] a = attention;
        for (int p = 0; p < count; p++) {
            a[p] += probs[off + p] * weight;
        }
    }

    /** The attention position {@code pos} has accumulated (0 when not tracked). */
    public float attention(int pos) {
        return attention == null ? 0f : attention[pos];
    }

    /** Moves the accumulated attention of positions {@code keep[i]} (ascending) to {@code i}, for i below {@code count}. */
    void compactAttention(int[] keep, int count) {
        if (attention == null) {
            return;
        }
        for (int i = 0; i < count; i++) {
            attention[i] = attention[keep[i]];
        }
        java.util.Arrays.fill(attention, count, attention.length, 0f);
    }

    /** Counts positions up to {@code newLength} as filled, once every layer's keys and values are {@link #put} there. */
    public void extendTo(int newLength) {
        if (newLength > capacity) {
            throw new IllegalArgumentException(newLength + " positions exceed the capacity of " + capacity);
        }
        length = Math.max(length, newLength);
    }

    /** Stores the key {@code kSrc[kOff ..]} and value {@code vSrc[vOff ..]} of position {@code pos} in {@code layer}. */
    public void put(int layer, int pos, float[] kSrc, int kOff, float[] vSrc, int vOff) {
        int row = row(pos);
        if (pool != null && pool.refCount(row / blockTokens) != 1) {
            throw new IllegalStateException("position " + pos + " lies in a shared block (reserve it first)");
        }
        if (channelKeys == null) {
            keys.put(layer, row, kSrc, kOff);
        }
        values.put(layer, row, vSrc, vOff);
        if (residual > 0) {
            int slot = pos % residual;
            System.arraycopy(kSrc, kOff, recentKeys[layer], slot * kvDim, kvDim);
            System.arraycopy(vSrc, vOff, recentValues[layer], slot * kvDim, kvDim);
            recentPos[layer][slot] = pos;
        }
        if (channelKeys != null && (pos + 1) % channelKeys.span == 0) {
            quantizeKeyGroup(layer, pos + 1 - channelKeys.span);
        }
    }

    /**
     * Quantizes the key group starting at {@code p0} per channel, now that its last position is
     * written. Positions are written in order, so the group's positions are in the window unless they
     * precede a rewind ({@link #truncate} into a finished group) and have dropped out of it; those are
     * taken from the group's previous codes (quantized a second time).
     */
    private void quantizeKeyGroup(int layer, int p0) {
        int span = channelKeys.span;
        for (int r = 0; r < span; r++) {
            int p = p0 + r;
            int slot = p % residual;
            if (recentPos[layer][slot] == p) {
                System.arraycopy(recentKeys[layer], slot * kvDim, groupScratch, r * kvDim, kvDim);
            } else {
                channelKeys.get(layer, row(p), groupScratch, r * kvDim);
            }
        }
        channelKeys.putGroup(layer, row(p0), groupScratch);
    }

    /** Whether position {@code pos} of {@code layer} is served from the full-precision window. */
    private boolean recent(int layer, int pos) {
        return residual > 0 && recentPos[layer][pos % residual] == pos;
    }

    /**
     * Raw scores {@code s[sOff + h·sStride + r] = q_h · key[pos + r][off .. off + n)} of the {@code heads}
     * query slices {@code q[qOff + h·n ..]} (one GQA group) for positions {@code [pos, pos + count)},
     * {@code count ≤ contiguous(pos)}. Per-channel key groups that lie wholly in the range and outside
     * the full-precision window are scored from their codes directly ({@link KvStore.Channel#scoreGroup});
     * everything else is read as floats ({@link #readKeys}) and dotted.
     */
    public void keyScores(int layer, int pos, int count, int off, int n, float[] q, int qOff, int heads, float[] s,
            int sOff, int sStride, Rows rows) {
        int end = pos + count;
        int p = pos;
        while (p < end) {
            if (channelKeys != null) {
                int span = channelKeys.span;
                if (p % span == 0 && p + span <= end && !anyRecent(layer, p, span)) {
                    if (rows.tmp.length < heads * n) {
                        rows.tmp = new float[heads * n];
                    }
                    channelKeys.scoreGroup(layer, row(p), q, qOff, heads, off, n, s, sOff + p - pos, sStride,
                            rows.tmp, k);
                    p += span;
                    continue;
                }
            }
            // Floats up to the next group boundary (or the end).
            int m = channelKeys == null ? end - p : Math.min(end - p, channelKeys.span - p % channelKeys.span);
            readKeys(layer, p, m, off, n, rows);
            float[] d = rows.data();
            for (int h = 0; h < heads; h++) {
                k.dots(q, qOff + h * n, d, rows.offset(), rows.stride(), m, n, s, sOff + h * sStride + p - pos);
            }
            p += m;
        }
    }

    private boolean anyRecent(int layer, int p0, int count) {
        for (int p = p0; p < p0 + count; p++) {
            if (recent(layer, p)) {
                return true;
            }
        }
        return false;
    }

    /** {@code Σ q[qOff + i] · key[pos][off + i]} for i below {@code n} (one head, {@code off} head-aligned). */
    public float dotKey(float[] q, int qOff, int layer, int pos, int off, int n) {
        if (residual > 0) {
            int slot = pos % residual;
            if (recentPos[layer][slot] == pos) {
                return k.dot(q, qOff, recentKeys[layer], slot * kvDim + off, n);
            }
        }
        return keys.dot(q, qOff, layer, row(pos), off, n);
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
        values.axpy(a, layer, row(pos), off, n, y, yOff);
    }

    /**
     * Where a read of stored rows lies, as floats: row r at {@code data()[offset() + r · stride()]}.
     * Full-precision stores are read in place; quantized ones are decoded into the reader's own
     * scratch (one per attention thread, grown once), so a block of positions is dequantized once
     * for all query heads that share its key/value head.
     */
    public static final class Rows {
        private float[] data;
        private int offset;
        private int stride;
        private float[] scratch = new float[0];
        private float[] tmp = new float[0];

        public float[] data() {
            return data;
        }

        public int offset() {
            return offset;
        }

        public int stride() {
            return stride;
        }
    }

    /** Positions from {@code pos} on that lie in consecutive rows of the store (to the end of its block when paged). */
    public int contiguous(int pos) {
        return table == null ? capacity - pos : blockTokens - pos % blockTokens;
    }

    /**
     * Reads the keys of positions {@code [pos, pos + count)}, slice {@code [off, off + n)} (one head),
     * into {@code out}; {@code count} must not exceed {@link #contiguous contiguous(pos)}.
     */
    public void readKeys(int layer, int pos, int count, int off, int n, Rows out) {
        read(keys, recentKeys, layer, pos, count, off, n, out);
    }

    /** As {@link #readKeys}, for the values. */
    public void readValues(int layer, int pos, int count, int off, int n, Rows out) {
        read(values, recentValues, layer, pos, count, off, n, out);
    }

    private void read(KvStore store, float[][] recent, int layer, int pos, int count, int off, int n, Rows out) {
        if (count > contiguous(pos)) {
            throw new IllegalArgumentException(count + " positions from " + pos + " are not in consecutive rows");
        }
        int row = row(pos);
        float[] direct = store.floats(layer);
        if (direct != null) {
            out.data = direct;
            out.offset = row * kvDim + off;
            out.stride = kvDim;
            return;
        }
        if (out.scratch.length < count * n) {
            out.scratch = new float[count * n];
        }
        store.decodeRows(layer, row, count, off, n, out.scratch, k);
        if (residual > 0) {
            // Recent positions are served exactly from the window, as dotKey/axpyValue do.
            int[] rp = recentPos[layer];
            for (int r = 0; r < count; r++) {
                int slot = (pos + r) % residual;
                if (rp[slot] == pos + r) {
                    System.arraycopy(recent[layer], slot * kvDim + off, out.scratch, r * n, n);
                }
            }
        }
        out.data = out.scratch;
        out.offset = 0;
        out.stride = n;
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

    /**
     * Bytes held by this cache: the store at full capacity plus the residual window; for a paged
     * cache, its blocks (shared ones included) plus the residual window.
     */
    public long byteSize() {
        long store = table == null ? capacity * bytesPerToken() : (long) blocksHeld() * blockTokens * bytesPerToken();
        return store + residualBytes();
    }

    /** Bytes of the full-precision residual window (outside any pool). */
    public long residualBytes() {
        return 2L * layers * residual * kvDim * Float.BYTES + (long) layers * residual * Integer.BYTES;
    }

    /** Decodes position {@code pos} (keys into {@code kDst}, values into {@code vDst}) as attention reads it. */
    public void get(int layer, int pos, float[] kDst, float[] vDst) {
        Rows r = new Rows();
        readKeys(layer, pos, 1, 0, kvDim, r);
        System.arraycopy(r.data, r.offset, kDst, 0, kvDim);
        readValues(layer, pos, 1, 0, kvDim, r);
        System.arraycopy(r.data, r.offset, vDst, 0, kvDim);
    }
}
