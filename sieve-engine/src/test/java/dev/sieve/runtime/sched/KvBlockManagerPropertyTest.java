package dev.sieve.runtime.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
}
