package dev.sieve.runtime.sched;

import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.KvEncoding;
import dev.sieve.model.layers.KvPool;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The sequences' KV caches, paged over one {@link KvPool} in blocks of {@value #BLOCK_TOKENS}
 * tokens, plus a prefix cache. {@link #allocate} grows a sequence's block table or changes nothing
 * and answers false: there is never a half-allocated sequence, and the pool never grows.
 *
 * <p>Prefix cache (vLLM's automatic prefix caching): every full block a sequence computes is
 * indexed by its tokens and the identity of the prefix before it, and the index keeps a reference
 * to the block. A new sequence whose first tokens match adopts those blocks instead of recomputing
 * them ({@link #matchPrefix}); the tokens so reused are counted ({@link #prefixHitTokens}). Blocks
 * only the index holds are evicted, least recently matched first, when an allocation needs them, so
 * caching never refuses an allocation that would fit without it.
 */
public final class KvBlockManager {
    public static final int BLOCK_TOKENS = 16;

    private final KvPool pool;
    private final int capacity;
    private final int residual;
    private final boolean prefixCache;
    private final Map<Long, Held> seqs = new HashMap<>();
    // Full blocks by (prefix identity, tokens); access order = least recently matched first.
    private final LinkedHashMap<BlockKey, Cached> index = new LinkedHashMap<>(16, 0.75f, true);
    private long nextPrefixId = 1; // 0 is the empty prefix
    private long prefixHitTokens;

    /** What a sequence holds: its cache and how far its blocks are indexed. */
    private static final class Held {
        final KvCache cache;
        int indexed;    // leading blocks already in (or matched from) the index
        long prefixId;  // identity of the prefix those blocks spell (0: empty)

        Held(KvCache cache) {
            this.cache = cache;
        }
    }

    /** A block's tokens after the prefix with identity {@code parent}. */
    private record BlockKey(long parent, int[] tokens) {
        @Override
        public boolean equals(Object o) {
            return o instanceof BlockKey k && k.parent == parent && Arrays.equals(k.tokens, tokens);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(parent) * 31 + Arrays.hashCode(tokens);
        }
    }

    /** An indexed block and the identity of the prefix ending with it (never reused, so an evicted parent orphans its children). */
    private record Cached(int block, long id) {}

    /**
     * Sequences of up to {@code capacity} tokens over {@code pool}, whose blocks must hold {@value
     * #BLOCK_TOKENS} tokens; quantized caches keep {@code residual} recent positions in full precision.
     * Without {@code prefixCache}, {@link #matchPrefix} finds nothing and {@link #commit} indexes nothing.
     */
    public KvBlockManager(KvPool pool, int capacity, int residual, boolean prefixCache) {
        if (pool.blockTokens() != BLOCK_TOKENS) {
            throw new IllegalArgumentException("pool blocks hold " + pool.blockTokens() + " tokens, not " + BLOCK_TOKENS);
        }
        this.pool = pool;
        this.capacity = capacity;
        this.residual = residual;
        this.prefixCache = prefixCache;
    }

    /** Scheduling alone (tests): {@code totalBlocks} blocks of a one-value cache, sequences as long as the pool. */
    public KvBlockManager(int totalBlocks) {
        this(new KvPool(1, 1, 1, KvEncoding.F32, BLOCK_TOKENS, checkBlocks(totalBlocks), ScalarKernels.INSTANCE),
                totalBlocks * BLOCK_TOKENS, 0, false);
    }

    private static int checkBlocks(int totalBlocks) {
        if (totalBlocks < 1) {
            throw new IllegalArgumentException("the KV budget must hold at least one block of " + BLOCK_TOKENS + " tokens");
        }
        return totalBlocks;
    }

    public static int blocksFor(int tokens) {
        return (tokens + BLOCK_TOKENS - 1) / BLOCK_TOKENS;
    }

    public KvPool pool() {
        return pool;
    }

    /** Makes {@code seq} hold blocks for at least {@code tokens} tokens; false (and no change) if they are not free. */
    public boolean allocate(long seq, int tokens) {
        if (blocksFor(tokens) > Math.min(pool.totalBlocks(), blocksFor(capacity))) {
            return false;
        }
        Held h = seqs.get(seq);
        KvCache c = h != null ? h.cache : pool.newSequence(capacity, residual);
        int need = c.blocksToReserve(tokens);
        if (need > pool.freeBlocks() && need > pool.freeBlocks() + evictable()) {
            return false;
        }
        while (need > pool.freeBlocks()) {
            evictOne();
        }
        if (!c.reserve(tokens)) {
            throw new IllegalStateException("a reservation of " + need + " blocks failed with " + pool.freeBlocks() + " free");
        }
        if (h == null && c.blocksHeld() > 0) {
            seqs.put(seq, new Held(c));
        }
        return true;
    }

    /**
     * Lets {@code seq} (which holds nothing yet) adopt the indexed blocks that spell the start of
     * {@code tokens[0 .. maxTokens)}; returns the tokens so reused (a multiple of {@value
     * #BLOCK_TOKENS}, maybe 0), which are already in its cache.
     */
    public int matchPrefix(long seq, int[] tokens, int maxTokens) {
        if (seqs.containsKey(seq)) {
            throw new IllegalStateException("sequence " + seq + " already holds blocks");
        }
        if (!prefixCache) {
            return 0;
        }
        int blocks = Math.min(maxTokens, capacity) / BLOCK_TOKENS;
        int[] found = new int[blocks];
        long parent = 0;
        int n = 0;
        for (; n < blocks; n++) {
            Cached c = index.get(new BlockKey(parent, Arrays.copyOfRange(tokens, n * BLOCK_TOKENS, (n + 1) * BLOCK_TOKENS)));
            if (c == null) {
                break;
            }
            found[n] = c.block();
            parent = c.id();
        }
        if (n == 0) {
            return 0;
        }
        Held h = new Held(pool.newSequence(capacity, residual));
        h.cache.adopt(Arrays.copyOf(found, n));
        h.indexed = n;
        h.prefixId = parent;
        seqs.put(seq, h);
        prefixHitTokens += (long) n * BLOCK_TOKENS;
        return n * BLOCK_TOKENS;
    }

    /** Indexes the full blocks of {@code seq} among its first {@code computed} tokens (their keys and values are in its cache). */
    public void commit(long seq, int[] tokens, int computed) {
        Held h = seqs.get(seq);
        if (h == null || !prefixCache) {
            return;
        }
        for (int i = h.indexed; (i + 1) * BLOCK_TOKENS <= computed; i++) {
            BlockKey key = new BlockKey(h.prefixId, Arrays.copyOfRange(tokens, i * BLOCK_TOKENS, (i + 1) * BLOCK_TOKENS));
            Cached c = index.get(key);
            if (c == null) {
                // The index holds its own reference: the block outlives the sequence until evicted.
                int b = h.cache.block(i);
                pool.retain(b);
                c = new Cached(b, nextPrefixId++);
                index.put(key, c);
            }
            h.prefixId = c.id(); // same tokens after the same prefix: the same prefix, whichever block holds it
            h.indexed = i + 1;
        }
    }

    /** Gives {@code child} (which holds nothing) the blocks and positions of {@code parent}, shared copy-on-write. */
    public void fork(long parent, long child) {
        Held p = seqs.get(parent);
        if (seqs.containsKey(child)) {
            throw new IllegalStateException("sequence " + child + " already holds blocks");
        }
        if (p != null) {
            Held c = new Held(p.cache.fork());
            c.indexed = p.indexed;
            c.prefixId = p.prefixId;
            seqs.put(child, c);
        }
    }

    /** Returns all blocks of {@code seq} (none if it holds none); indexed blocks stay cached. */
    public void free(long seq) {
        Held h = seqs.remove(seq);
        if (h != null) {
            h.cache.release();
        }
    }

    /** The cache of {@code seq}, or null when it holds no block. */
    public KvCache cache(long seq) {
        Held h = seqs.get(seq);
        return h == null ? null : h.cache;
    }

    public int blocksOf(long seq) {
        Held h = seqs.get(seq);
        return h == null ? 0 : h.cache.blocksHeld();
    }

    /** The block ids of {@code seq}, in position order (a copy). */
    public int[] table(long seq) {
        Held h = seqs.get(seq);
        int[] t = new int[h == null ? 0 : h.cache.blocksHeld()];
        for (int i = 0; i < t.length; i++) {
            t[i] = h.cache.block(i);
        }
        return t;
    }

    /** Blocks in use, by sequences or by the prefix index. */
    public int usedBlocks() {
        return pool.usedBlocks();
    }

    public int totalBlocks() {
        return pool.totalBlocks();
    }

    public int freeBlocks() {
        return pool.freeBlocks();
    }

    /** Blocks held by sequences: in use, less those only the prefix index holds (which eviction reclaims on demand). */
    public int heldBlocks() {
        return pool.usedBlocks() - evictable();
    }

    /** Blocks in the prefix index (some of them also held by sequences). */
    public int cachedBlocks() {
        return index.size();
    }

    /** Tokens whose keys and values were adopted from the prefix index instead of computed. */
    public long prefixHitTokens() {
        return prefixHitTokens;
    }

    /** Indexed blocks no sequence holds: what eviction can give back. */
    private int evictable() {
        int n = 0;
        for (Cached c : index.values()) {
            if (pool.refCount(c.block()) == 1) {
                n++;
            }
        }
        return n;
    }

    private void evictOne() {
        for (Iterator<Cached> it = index.values().iterator(); it.hasNext(); ) {
            Cached c = it.next();
            if (pool.refCount(c.block()) == 1) {
                it.remove();
                pool.release(c.block());
                return;
            }
        }
        throw new IllegalStateException("nothing to evict");
    }
}
