package dev.sieve.runtime.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.KvEncoding;
import dev.sieve.model.layers.KvPool;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** Random allocate/grow/free sequences against a plain model of what each sequence should hold. */
class KvBlockManagerPropertyTest {

    @Property(tries = 200)
    void neverOverBudgetAndEveryBlockComesBack(@ForAll @IntRange(min = 1, max = 64) int total,
            @ForAll @Size(min = 1, max = 300) List<@IntRange(min = 0, max = 10_000) Integer> ops) {
        KvBlockManager kv = new KvBlockManager(total);
        Map<Long, Integer> model = new HashMap<>(); // seq -> blocks it must hold
        for (int op : ops) {
            long seq = op % 7;
            int tokens = (op / 7) % 300;
            if (op % 5 == 0) {
                kv.free(seq);
                model.remove(seq);
            } else {
                int have = model.getOrDefault(seq, 0);
                int want = Math.max(have, KvBlockManager.blocksFor(tokens));
                int used = model.values().stream().mapToInt(Integer::intValue).sum();
                boolean fits = used - have + want <= total;
                assertEquals(fits, kv.allocate(seq, tokens), "allocate answers exactly whether the blocks are free");
                if (fits && want > 0) {
                    model.put(seq, want);
                }
            }
            int used = model.values().stream().mapToInt(Integer::intValue).sum();
            assertEquals(used, kv.usedBlocks());
            assertTrue(kv.usedBlocks() <= total);
            // no block is held twice
            Set<Integer> seen = new HashSet<>();
            for (long s : model.keySet()) {
                assertEquals(model.get(s), kv.blocksOf(s));
                for (int b : kv.table(s)) {
                    assertTrue(b >= 0 && b < total);
                    assertTrue(seen.add(b), "block " + b + " held twice");
                }
            }
        }
        for (long s = 0; s < 7; s++) {
            kv.free(s);
        }
        assertEquals(0, kv.usedBlocks());
        assertEquals(total, kv.freeBlocks());
    }

    /**
     * With the prefix cache on, over a pool whose one value per position is the token there: random
     * prompts from a two-letter alphabet (so prefixes repeat) are admitted, computed and freed. Every
     * adopted prefix reads back exactly the sequence's own tokens, the pool never exceeds its blocks,
     * a refused allocation really lacked free plus evictable blocks, and when every sequence is gone
     * only the cache holds blocks.
     */
    @Property(tries = 200)
    void prefixCacheAdoptsOnlyIdenticalPrefixesAndStaysInBudget(@ForAll @IntRange(min = 2, max = 24) int total,
            @ForAll @Size(min = 1, max = 80) List<@IntRange(min = 0, max = 1_000_000) Integer> ops) {
        KvPool pool = new KvPool(1, 1, 1, KvEncoding.F32, KvBlockManager.BLOCK_TOKENS, total, ScalarKernels.INSTANCE);
        KvBlockManager kv = new KvBlockManager(pool, 160, 0, true);
        Map<Long, int[]> live = new HashMap<>();
        long next = 0;
        long hits = 0;
        for (int op : ops) {
            if (op % 3 == 0 && !live.isEmpty()) {
                long seq = live.keySet().stream().sorted().toList().get((op / 3) % live.size());
                kv.free(seq);
                live.remove(seq);
            } else {
                long seq = next++;
                java.util.Random r = new java.util.Random(op);
                int[] tokens = new int[1 + r.nextInt(80)];
                for (int i = 0; i < tokens.length; i++) {
                    tokens[i] = i < 40 && op % 2 == 0 ? 7 : r.nextInt(2); // half of them share a 40-token prefix
                }
                int hit = kv.matchPrefix(seq, tokens, tokens.length - 1);
                assertTrue(hit % KvBlockManager.BLOCK_TOKENS == 0 && hit <= tokens.length - 1);
                hits += hit;
                KvCache c = kv.cache(seq);
                assertEquals(hit, c == null ? 0 : c.length());
                for (int p = 0; p < hit; p++) {
                    assertEquals(tokens[p], read(c, p), "adopted position " + p + " holds the sequence's own token");
                }
                if (!kv.allocate(seq, tokens.length)) {
                    KvCache mine = kv.cache(seq);
                    int need = mine == null ? KvBlockManager.blocksFor(tokens.length) : mine.blocksToReserve(tokens.length);
                    assertTrue(need > kv.freeBlocks(), "refused only when the free blocks do not suffice");
                    kv.free(seq);
                    continue;
                }
                c = kv.cache(seq);
                float[] x = new float[1];
                for (int p = hit; p < tokens.length; p++) {
                    x[0] = tokens[p];
                    c.put(0, p, x, 0, x, 0);
                }
                c.extendTo(tokens.length);
                kv.commit(seq, tokens, tokens.length);
                live.put(seq, tokens);
            }
            assertTrue(kv.usedBlocks() <= total);
            for (var e : live.entrySet()) {
                KvCache c = kv.cache(e.getKey());
                for (int p = 0; p < e.getValue().length; p++) {
                    assertEquals(e.getValue()[p], read(c, p), "sequence " + e.getKey() + " at " + p);
                }
            }
        }
        assertEquals(hits, kv.prefixHitTokens());
        for (long s : live.keySet()) {
            kv.free(s);
        }
        assertEquals(kv.cachedBlocks(), kv.usedBlocks(), "only the prefix cache holds blocks");
        assertEquals(0, kv.heldBlocks());
    }

    private static float read(KvCache c, int pos) {
        float[] k = new float[1];
        float[] v = new float[1];
        c.get(0, pos, k, v);
        assertEquals(k[0], v[0]);
        return k[0];
    }
}
