package dev.sieve.runtime.sched;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * KV memory in blocks of {@value #BLOCK_TOKENS} tokens. A sequence holds a block table; {@link
 * #allocate} grows it to cover a number of tokens or, when the free blocks do not suffice, changes
 * nothing and answers false: there is never a half-allocated sequence.
 */
public final class KvBlockManager {
    public static final int BLOCK_TOKENS = 16;

    private final int total;
    private final int[] free; // stack of free block ids
    private int freeTop;
    private final Map<Long, Table> tables = new HashMap<>();

    private static final class Table {
        int[] ids = new int[8];
        int n;
    }

    public KvBlockManager(int totalBlocks) {
        if (totalBlocks < 1) {
            throw new IllegalArgumentException("the KV budget must hold at least one block of " + BLOCK_TOKENS + " tokens");
        }
        this.total = totalBlocks;
        this.free = new int[totalBlocks];
        for (int i = 0; i < totalBlocks; i++) {
            free[i] = totalBlocks - 1 - i;
        }
        this.freeTop = totalBlocks;
    }

    /** As many blocks as {@code budgetBytes} holds at {@code bytesPerToken}. */
    public static KvBlockManager forBytes(long budgetBytes, long bytesPerToken) {
        long blocks = budgetBytes / (bytesPerToken * BLOCK_TOKENS);
        return new KvBlockManager((int) Math.min(Integer.MAX_VALUE, blocks));
    }

    public static int blocksFor(int tokens) {
        return (tokens + BLOCK_TOKENS - 1) / BLOCK_TOKENS;
    }

    /** Makes {@code seq} hold blocks for at least {@code tokens} tokens; false (and no change) if they are not free. */
    public boolean allocate(long seq, int tokens) {
        Table t = tables.get(seq);
        int have = t == null ? 0 : t.n;
        int need = blocksFor(tokens) - have;
        if (need <= 0) {
            return true;
        }
        if (need > freeTop) {
            return false;
        }
        if (t == null) {
            t = new Table();
            tables.put(seq, t);
        }
        if (t.ids.length < t.n + need) {
            t.ids = Arrays.copyOf(t.ids, Math.max(t.n + need, t.ids.length * 2));
        }
        for (int i = 0; i < need; i++) {
            t.ids[t.n++] = free[--freeTop];
        }
        return true;
    }

    /** Returns all blocks of {@code seq} (none if it holds none). */
    public void free(long seq) {
        Table t = tables.remove(seq);
        if (t != null) {
            for (int i = 0; i < t.n; i++) {
                free[freeTop++] = t.ids[i];
            }
        }
    }

    public int blocksOf(long seq) {
        Table t = tables.get(seq);
        return t == null ? 0 : t.n;
    }

    /** The block ids of {@code seq}, in position order (a copy). */
    public int[] table(long seq) {
        Table t = tables.get(seq);
        return t == null ? new int[0] : Arrays.copyOf(t.ids, t.n);
    }

    public int usedBlocks() {
        return total - freeTop;
    }

    public int totalBlocks() {
        return total;
    }

    public int freeBlocks() {
        return freeTop;
    }
}
