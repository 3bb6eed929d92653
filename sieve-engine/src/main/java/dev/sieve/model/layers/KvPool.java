package dev.sieve.model.layers;

import dev.sieve.core.kernel.Kernels;

/**
 * Physical KV memory for many sequences: one pair of {@link KvStore}s of {@code blocks × B}
 * positions, allocated once, handed out in blocks of {@code B} positions (all layers, keys and
 * values) to paged {@link KvCache}s. Blocks are reference-counted: a block shared by several caches
 * (a forked sequence, a cached prompt prefix) returns to the free list when its last holder lets go.
 *
 * <p>The pool never grows: its byte size is fixed at construction, and when no block is free the
 * taker is told so ({@link KvCache#reserve} answers false) instead of memory being added. Not
 * thread-safe: one thread (the engine's) owns a pool and its caches.
 */
public final class KvPool {
    private final int layers;
    private final int kvDim;
    private final int headDim;
    private final KvEncoding encoding;
    private final int blockTokens;
    private final int blocks;
    private final Kernels k;
    private final KvStore keys;
    private final KvStore values;
    private final int[] refs;
    private final int[] free; // stack of free block ids
    private int freeTop;

    /**
     * A pool of {@code blocks} blocks of {@code blockTokens} positions of {@code kvDim} values (heads
     * of {@code headDim}) per layer, in {@code encoding}.
     */
    public KvPool(int layers, int kvDim, int headDim, KvEncoding encoding, int blockTokens, int blocks, Kernels k) {
        if (blockTokens < 1 || blocks < 1) {
            throw new IllegalArgumentException("a pool needs at least one block of at least one position: "
                    + blocks + " blocks of " + blockTokens);
        }
        if (kvDim % headDim != 0) {
            throw new IllegalArgumentException("kvDim " + kvDim + " is not a multiple of the head " + headDim);
        }
        this.layers = layers;
        this.kvDim = kvDim;
        this.headDim = headDim;
        this.encoding = encoding;
        this.blockTokens = blockTokens;
        this.blocks = blocks;
        this.k = k;
        int positions = Math.multiplyExact(blocks, blockTokens);
        int group = KvCache.gcd(32, headDim);
        this.keys = KvStore.createKeys(encoding, layers, positions, kvDim, group, keySpan(blockTokens), k);
        this.values = KvStore.create(encoding, layers, positions, kvDim, group, k);
        this.refs = new int[blocks];
        this.free = new int[blocks];
        for (int i = 0; i < blocks; i++) {
            free[i] = blocks - 1 - i;
        }
        this.freeTop = blocks;
    }

    /** As many blocks as {@code budgetBytes} holds for a model of {@code layers × kvDim} (at least one). */
    public static int blocksFor(long budgetBytes, int layers, int kvDim, int headDim, KvEncoding encoding, int blockTokens) {
        long perToken = bytesPerToken(layers, kvDim, headDim, encoding, blockTokens);
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE / blockTokens, budgetBytes / (perToken * blockTokens)));
    }

    /** Bytes one position takes in {@code encoding}, keys and values of all layers, in blocks of {@code blockTokens}. */
    public static long bytesPerToken(int layers, int kvDim, int headDim, KvEncoding encoding, int blockTokens) {
        // The stores' own arithmetic on a one-block store, so the two can never disagree.
        int group = KvCache.gcd(32, headDim);
        KvStore keys = KvStore.createKeys(encoding, 1, blockTokens, kvDim, group, keySpan(blockTokens), null);
        KvStore values = KvStore.create(encoding, 1, blockTokens, kvDim, group, null);
        return (long) layers * (keys.bytesPerPosition() + values.bytesPerPosition());
    }

    /** Positions per group of per-channel keys: groups must not straddle blocks. */
    static int keySpan(int blockTokens) {
        return KvCache.gcd(KvCache.KEY_SPAN, blockTokens);
    }

    /** A paged cache of up to {@code capacity} positions over this pool, holding no block yet. */
    public KvCache newSequence(int capacity, int residual) {
        return new KvCache(this, capacity, residual);
    }

    public int blockTokens() {
        return blockTokens;
    }

    public int totalBlocks() {
        return blocks;
    }

    public int freeBlocks() {
        return freeTop;
    }

    public int usedBlocks() {
        return blocks - freeTop;
    }

    /** Holders of block {@code b} (0 when free). */
    public int refCount(int b) {
        return refs[b];
    }

    /** Adds a holder to block {@code b}, which must be in use. */
    public void retain(int b) {
        if (refs[b] < 1) {
            throw new IllegalStateException("block " + b + " is free");
        }
        refs[b]++;
    }

    /** Removes a holder from block {@code b}; the last one returns it to the free list. */
    public void release(int b) {
        if (refs[b] < 1) {
            throw new IllegalStateException("block " + b + " is already free");
        }
        if (--refs[b] == 0) {
            free[freeTop++] = b;
        }
    }

    /** Bytes one position takes, keys and values of all layers. */
    public long bytesPerToken() {
        return (long) layers * (keys.bytesPerPosition() + values.bytesPerPosition());
    }

    /** Bytes of the pool's stores: every block, used or not. */
    public long byteSize() {
        return (long) blocks * blockTokens * bytesPerToken();
    }

    /** A free block with one holder; the caller has checked that one is free. */
    int take() {
        if (freeTop == 0) {
            throw new IllegalStateException("no free KV block");
        }
        int b = free[--freeTop];
        refs[b] = 1;
        return b;
    }

    void copyBlock(int src, int dst) {
        keys.copy(src * blockTokens, dst * blockTokens, blockTokens);
        values.copy(src * blockTokens, dst * blockTokens, blockTokens);
    }

    int layers() {
        return layers;
    }

    int kvDim() {
        return kvDim;
    }

    int headDim() {
        return headDim;
    }

    KvEncoding encoding() {
        return encoding;
    }

    Kernels kernels() {
        return k;
    }

    KvStore keys() {
        return keys;
    }

    KvStore values() {
        return values;
    }
}
