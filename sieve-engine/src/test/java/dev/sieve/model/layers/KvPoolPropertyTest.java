package dev.sieve.model.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.ScalarKernels;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/**
 * Random allocate / fork / append / truncate / free sequences on a paged pool, against a plain model:
 * each sequence is a list of logical blocks (objects shared by reference after a fork, replaced by a
 * fresh one when a shared block is written) and the exact vectors it wrote. After every operation the
 * pool holds exactly the model's distinct blocks, never more than its budget, every sequence reads
 * back exactly what it wrote, and a refused reservation changes nothing.
 */
class KvPoolPropertyTest {
    static final int B = 4;
    static final int LAYERS = 2;
    static final int KV_DIM = 4;
    static final int CAPACITY = 40;

    /** The model of one sequence: its logical blocks (identity = sharing) and its positions' contents. */
    static final class Seq {
        KvCache cache;
        List<Object> blocks = new ArrayList<>();
        List<float[][]> keys = new ArrayList<>();   // [pos][layer] -> kvDim values
        List<float[][]> values = new ArrayList<>();

        Seq copy(KvCache c) {
            Seq s = new Seq();
            s.cache = c;
            s.blocks = new ArrayList<>(blocks);
            s.keys = new ArrayList<>(keys);
            s.values = new ArrayList<>(values);
            return s;
        }
    }

    @Property(tries = 300)
    void pagedCachesNeverExceedTheBudgetNorSeeEachOthersWrites(@ForAll @IntRange(min = 1, max = 24) int total,
            @ForAll @Size(min = 1, max = 120) List<@IntRange(min = 0, max = 1_000_000) Integer> ops) {
        KvPool pool = new KvPool(LAYERS, KV_DIM, KV_DIM, KvEncoding.F32, B, total, ScalarKernels.INSTANCE);
        List<Seq> seqs = new ArrayList<>();
        float serial = 1f;
        for (int op : ops) {
            int kind = op % 5;
            int pick = (op / 5) % 8;
            int count = (op / 40) % 13 + 1;
            if (kind == 0 || seqs.isEmpty()) {
                Seq s = new Seq();
                s.cache = pool.newSequence(CAPACITY, 0);
                seqs.add(s);
            } else if (kind == 1) {
                Seq p = seqs.get(pick % seqs.size());
                seqs.add(p.copy(p.cache.fork()));
            } else if (kind == 2) {
                Seq s = seqs.get(pick % seqs.size());
                int len = s.keys.size();
                int to = Math.min(CAPACITY, len + count);
                int need = modelNeed(seqs, s, len, to);
                boolean fits = distinct(seqs).size() + need <= total;
                List<Object> before = new ArrayList<>(s.blocks);
                int[] tableBefore = table(s.cache);
                assertEquals(need, s.cache.blocksToReserve(to), "blocks a reservation needs");
                assertEquals(fits, s.cache.reserve(to), "reserve answers exactly whether the blocks are free");
                if (!fits) {
                    assertArrayEquals(tableBefore, table(s.cache), "a refused reservation changes nothing");
                    assertEquals(before, s.blocks);
                } else {
                    int lastBlock = (to + B - 1) / B;
                    for (int i = 0; i < lastBlock; i++) {
                        if (i >= s.blocks.size()) {
                            s.blocks.add(new Object());
                        } else if ((i + 1) * B > len && holders(seqs, s.blocks.get(i)) > 1) {
                            s.blocks.set(i, new Object()); // copy-on-write
                        }
                    }
                    float[] kv = new float[KV_DIM];
                    float[] vv = new float[KV_DIM];
                    for (int pos = len; pos < to; pos++) {
                        float[][] ks = new float[LAYERS][];
                        float[][] vs = new float[LAYERS][];
                        for (int l = 0; l < LAYERS; l++) {
                            for (int i = 0; i < KV_DIM; i++) {
                                kv[i] = serial++;
                                vv[i] = -serial++;
                            }
                            s.cache.put(l, pos, kv, 0, vv, 0);
                            ks[l] = kv.clone();
                            vs[l] = vv.clone();
                        }
                        s.keys.add(ks);
                        s.values.add(vs);
                    }
                    s.cache.extendTo(to);
                }
            } else if (kind == 3) {
                Seq s = seqs.get(pick % seqs.size());
                int to = Math.max(0, s.keys.size() - count);
                s.cache.truncate(to);
                s.keys = new ArrayList<>(s.keys.subList(0, to));
                s.values = new ArrayList<>(s.values.subList(0, to));
                // Truncation also gives back blocks reserved beyond the length.
                s.blocks = new ArrayList<>(s.blocks.subList(0, Math.min(s.blocks.size(), (to + B - 1) / B)));
            } else {
                Seq s = seqs.remove(pick % seqs.size());
                s.cache.release();
            }
            check(pool, total, seqs);
        }
        for (Seq s : seqs) {
            s.cache.release();
        }
        assertEquals(0, pool.usedBlocks());
        assertEquals(total, pool.freeBlocks());
    }

    /** Blocks a reservation of {@code [len, to)} takes in the model: missing ones, and shared ones that will be written. */
    static int modelNeed(List<Seq> seqs, Seq s, int len, int to) {
        int need = 0;
        for (int i = 0; i < (to + B - 1) / B; i++) {
            if (i >= s.blocks.size() || (i + 1) * B > len && holders(seqs, s.blocks.get(i)) > 1) {
                need++;
            }
        }
        return need;
    }

    static int holders(List<Seq> seqs, Object block) {
        int n = 0;
        for (Seq s : seqs) {
            for (Object b : s.blocks) {
                if (b == block) {
                    n++;
                }
            }
        }
        return n;
    }

    static Set<Object> distinct(List<Seq> seqs) {
        Set<Object> all = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (Seq s : seqs) {
            all.addAll(s.blocks);
        }
        return all;
    }

    static int[] table(KvCache c) {
        int[] t = new int[c.blocksHeld()];
        for (int i = 0; i < t.length; i++) {
            t[i] = c.block(i);
        }
        return t;
    }

    static void check(KvPool pool, int total, List<Seq> seqs) {
        assertEquals(distinct(seqs).size(), pool.usedBlocks(), "the pool holds exactly the model's blocks");
        assertTrue(pool.usedBlocks() <= total);
        // Physical blocks mirror logical ones: same sharing, and reference counts = holders.
        Map<Object, Integer> physical = new IdentityHashMap<>();
        Map<Integer, Integer> refs = new java.util.HashMap<>();
        for (Seq s : seqs) {
            assertEquals(s.blocks.size(), s.cache.blocksHeld());
            assertEquals(s.keys.size(), s.cache.length());
            for (int i = 0; i < s.blocks.size(); i++) {
                int b = s.cache.block(i);
                Integer prev = physical.putIfAbsent(s.blocks.get(i), b);
                assertTrue(prev == null || prev == b, "one logical block, one physical block");
                refs.merge(b, 1, Integer::sum);
            }
        }
        assertEquals(refs.size(), physical.size(), "distinct logical blocks live in distinct physical blocks");
        refs.forEach((b, n) -> assertEquals(n, pool.refCount(b), "reference count of block " + b));
        float[] k = new float[KV_DIM];
        float[] v = new float[KV_DIM];
        for (Seq s : seqs) {
            for (int pos = 0; pos < s.keys.size(); pos++) {
                for (int l = 0; l < LAYERS; l++) {
                    s.cache.get(l, pos, k, v);
                    assertArrayEquals(s.keys.get(pos)[l], k, "key of layer " + l + " at " + pos);
                    assertArrayEquals(s.values.get(pos)[l], v, "value of layer " + l + " at " + pos);
                }
            }
        }
    }

    @Test
    void writingAnUnreservedOrSharedPositionFailsLoudly() {
        KvPool pool = new KvPool(1, KV_DIM, KV_DIM, KvEncoding.F32, B, 4, ScalarKernels.INSTANCE);
        KvCache a = pool.newSequence(16, 0);
        float[] x = new float[KV_DIM];
        assertThrows(IllegalStateException.class, () -> a.put(0, 0, x, 0, x, 0));
        assertTrue(a.reserve(2));
        a.put(0, 0, x, 0, x, 0);
        a.extendTo(1);
        KvCache b = a.fork();
        assertThrows(IllegalStateException.class, () -> b.put(0, 1, x, 0, x, 0), "the forked block is shared");
        assertTrue(b.reserve(2));
        b.put(0, 1, x, 0, x, 0);
        assertFalse(a.block(0) == b.block(0), "the writer got its own copy");
    }

    @Test
    void quantizedPoolsCopyCodesAndScalesOnWrite() {
        for (KvEncoding e : KvEncoding.values()) {
            KvPool pool = new KvPool(2, 64, 32, e, B, 6, ScalarKernels.INSTANCE);
            KvCache a = pool.newSequence(16, 0);
            java.util.SplittableRandom r = new java.util.SplittableRandom(7);
            float[][] ks = new float[6][64];
            float[][] vs = new float[6][64];
            assertTrue(a.reserve(6));
            for (int p = 0; p < 6; p++) {
                for (int i = 0; i < 64; i++) {
                    ks[p][i] = (float) r.nextGaussian();
                    vs[p][i] = (float) r.nextGaussian();
                }
                for (int l = 0; l < 2; l++) {
                    a.put(l, p, ks[p], 0, vs[p], 0);
                }
            }
            a.extendTo(6);
            float[][] before = new float[6][64];
            float[] v = new float[64];
            for (int p = 0; p < 6; p++) {
                a.get(1, p, before[p], v);
            }
            KvCache b = a.fork();
            b.truncate(5);
            assertTrue(b.reserve(6)); // position 5 lies in the shared second block: b copies it
            b.put(1, 5, new float[64], 0, new float[64], 0);
            b.extendTo(6);
            float[] k = new float[64];
            for (int p = 0; p < 6; p++) {
                a.get(1, p, k, v);
                assertArrayEquals(before[p], k, e + ": the original is untouched at " + p);
                b.get(1, p, k, v);
                if (p < 5) {
                    assertArrayEquals(before[p], k, e + ": the copy carries codes and scales at " + p);
                }
            }
        }
    }
}
