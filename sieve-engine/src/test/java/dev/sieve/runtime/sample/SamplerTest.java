package dev.sieve.runtime.sample;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class SamplerTest {

    static SamplingParams params(float temp, int topK, float topP, float minP) {
        return new SamplingParams(temp, topK, topP, minP, 1f, 64, 0f, 0f, 42L);
    }

    static float[] randomLogits(Random r, int n) {
        float[] l = new float[n];
        for (int i = 0; i < n; i++) {
            l[i] = (float) (r.nextGaussian() * 3);
        }
        return l;
    }

    static int refArgmax(float[] l) {
        int b = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[b]) {
                b = i;
            }
        }
        return b;
    }

    /** log of a probability vector: softmax(log p) = p, which makes expected frequencies exact. */
    static float[] logs(double... p) {
        float[] l = new float[p.length];
        for (int i = 0; i < p.length; i++) {
            l[i] = (float) Math.log(p[i]);
        }
        return l;
    }

    @Test
    void greedyIsArgmax() {
        Random r = new Random(1);
        Sampler s = new Sampler(SamplingParams.greedy(), 1000);
        for (int t = 0; t < 50; t++) {
            float[] l = randomLogits(r, 1000);
            int expected = refArgmax(l);
            assertEquals(expected, s.sample(l));
        }
    }

    @Test
    void topKOneIsGreedy() {
        Random r = new Random(2);
        Sampler s = new Sampler(params(1.5f, 1, 1f, 0f), 500);
        for (int t = 0; t < 50; t++) {
            float[] l = randomLogits(r, 500);
            int expected = refArgmax(l);
            assertEquals(expected, s.sample(l));
        }
    }

    @Test
    void sameSeedSameTokensDifferentSeedDiffers() {
        Random r = new Random(3);
        float[][] inputs = new float[200][];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = randomLogits(r, 300);
        }
        int[] a = run(new Sampler(SamplingParams.defaults().withTemperature(1.2f), 300), inputs);
        int[] b = run(new Sampler(SamplingParams.defaults().withTemperature(1.2f), 300), inputs);
        assertArrayEquals(a, b);
        int[] c = run(new Sampler(SamplingParams.defaults().withTemperature(1.2f).withSeed(7), 300), inputs);
        assertFalse(Arrays.equals(a, c), "a different seed should give a different sequence");
        // reset() restarts the stream from the seed
        Sampler s = new Sampler(SamplingParams.defaults().withTemperature(1.2f), 300);
        run(s, inputs);
        s.reset();
        assertArrayEquals(a, run(s, inputs));
    }

    private static int[] run(Sampler s, float[][] inputs) {
        int[] out = new int[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            out[i] = s.sample(inputs[i].clone());
        }
        return out;
    }

    /** Pearson chi-square of observed counts vs expected probabilities (zero-probability cells must stay empty). */
    static double chiSquare(int[] counts, double[] expected, int draws) {
        double chi = 0;
        for (int i = 0; i < counts.length; i++) {
            if (expected[i] == 0) {
                assertEquals(0, counts[i], "token " + i + " has probability 0 but was drawn");
                continue;
            }
            double e = expected[i] * draws;
            chi += (counts[i] - e) * (counts[i] - e) / e;
        }
        return chi;
    }

    static int[] histogram(Sampler s, float[] logits, int draws) {
        int[] c = new int[logits.length];
        for (int i = 0; i < draws; i++) {
            c[s.sample(logits.clone())]++;
        }
        return c;
    }

    static double[] softmax(float[] l, double t, boolean[] keep) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < l.length; i++) {
            if (keep[i]) {
                max = Math.max(max, l[i]);
            }
        }
        double[] p = new double[l.length];
        double sum = 0;
        for (int i = 0; i < l.length; i++) {
            p[i] = keep[i] ? Math.exp((l[i] - max) / t) : 0;
            sum += p[i];
        }
        for (int i = 0; i < l.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    static boolean[] all(int n) {
        boolean[] k = new boolean[n];
        Arrays.fill(k, true);
        return k;
    }

    // Critical values of chi-square at p = 0.001: df 2 → 13.82, df 3 → 16.27, df 5 → 20.52.
    @Test
    void frequenciesMatchSoftmaxWithTemperature() {
        float[] l = {1.0f, 0.5f, -0.3f, 2.0f, 0.0f, -1.0f};
        double t = 0.7;
        Sampler s = new Sampler(params((float) t, 0, 1f, 0f), l.length);
        int draws = 40_000;
        double chi = chiSquare(histogram(s, l, draws), softmax(l, t, all(6)), draws);
        assertTrue(chi < 20.52, "chi-square " + chi);
    }

    @Test
    void chiSquareDetectsWrongTemperature() {
        // Guards the test above against being vacuous: the same draws fail against T = 1.
        float[] l = {1.0f, 0.5f, -0.3f, 2.0f, 0.0f, -1.0f};
        Sampler s = new Sampler(params(0.7f, 0, 1f, 0f), l.length);
        int draws = 40_000;
        double chi = chiSquare(histogram(s, l, draws), softmax(l, 1.0, all(6)), draws);
        assertTrue(chi > 100, "chi-square " + chi);
    }

    @Test
    void topKRenormalisesOverTheKLargest() {
        float[] l = {1.0f, 0.5f, -0.3f, 2.0f, 0.0f, -1.0f};
        Sampler s = new Sampler(params(1.3f, 3, 1f, 0f), l.length);
        boolean[] keep = {true, true, false, true, false, false};
        int draws = 30_000;
        double chi = chiSquare(histogram(s, l, draws), softmax(l, 1.3, keep), draws);
        assertTrue(chi < 13.82, "chi-square " + chi);
    }

    @Test
    void topPKeepsSmallestPrefixReachingP() {
        float[] l = logs(0.05, 0.5, 0.15, 0.3); // sorted: 1 (.5), 3 (.3), 2 (.15), 0 (.05)
        assertEquals(Set.of(1, 3), candidates(params(1f, 0, 0.75f, 0f), l));
        assertEquals(Set.of(1, 3, 2), candidates(params(1f, 0, 0.85f, 0f), l));
        assertEquals(Set.of(1), candidates(params(1f, 0, 0.4f, 0f), l));
        assertEquals(Set.of(0, 1, 2, 3), candidates(params(1f, 0, 0.99f, 0f), l));
        // Sampled frequencies follow the renormalised survivors 0.5/0.8 and 0.3/0.8.
        Sampler s = new Sampler(params(1f, 0, 0.75f, 0f), 4);
        int draws = 20_000;
        double chi = chiSquare(histogram(s, l, draws), softmax(l, 1, new boolean[] {false, true, false, true}), draws);
        assertTrue(chi < 10.83, "chi-square " + chi); // df 1
    }

    @Test
    void topPIgnoresTemperature() {
        // llama.cpp applies temperature after top-p: a high temperature must not widen the set.
        float[] l = logs(0.05, 0.5, 0.15, 0.3);
        assertEquals(Set.of(1, 3), candidates(params(5f, 0, 0.75f, 0f), l));
    }

    @Test
    void minPDropsTokensBelowFractionOfMax() {
        float[] l = logs(0.05, 0.5, 0.15, 0.3);
        // threshold 0.2 * 0.5 = 0.1 drops token 0; 0.35 * 0.5 = 0.175 also drops token 2.
        assertEquals(Set.of(1, 2, 3), candidates(params(1f, 0, 1f, 0.2f), l)); // unsorted path
        assertEquals(Set.of(1, 3), candidates(params(1f, 0, 1f, 0.35f), l));
        assertEquals(Set.of(1, 2, 3), candidates(params(1f, 4, 1f, 0.2f), l)); // sorted path
        assertEquals(Set.of(1, 3), candidates(params(1f, 4, 1f, 0.35f), l));
    }

    private static Set<Integer> candidates(SamplingParams p, float[] l) {
        Sampler s = new Sampler(p, l.length);
        int n = s.filter(l.clone());
        Set<Integer> out = new TreeSet<>();
        for (int i = 0; i < n; i++) {
            out.add(s.candidateId(i));
        }
        return out;
    }

    /** Reference chain on a large vocabulary: full sort, then the textbook top-k/top-p/min-p. */
    @Test
    void filterMatchesFullSortReference() {
        Random r = new Random(5);
        int v = 5000;
        float[][] settings = {{40, 0.95f, 0.05f}, {7, 1f, 0f}, {0, 0.9f, 0f}, {100, 0.5f, 0.1f}, {0, 1f, 0.2f}, {5000, 0.99f, 0f}};
        for (float[] st : settings) {
            for (int trial = 0; trial < 5; trial++) {
                float[] l = randomLogits(r, v);
                SamplingParams p = params(1f, (int) st[0], st[1], st[2]);
                Sampler s = new Sampler(p, v);
                int n = s.filter(l.clone());
                List<Integer> got = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    got.add(s.candidateId(i));
                }
                List<Integer> want = reference(l, p);
                if (p.topK() > 0 || p.topP() < 1f) {
                    assertEquals(want, got, "ordered candidates for " + Arrays.toString(st));
                } else {
                    assertEquals(new TreeSet<>(want), new TreeSet<>(got), "candidates for " + Arrays.toString(st));
                }
            }
        }
    }

    private static List<Integer> reference(float[] l, SamplingParams p) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < l.length; i++) {
            order.add(i);
        }
        order.sort(Comparator.comparingDouble((Integer i) -> -l[i]).thenComparingInt(i -> i));
        int k = p.topK() > 0 ? Math.min(p.topK(), l.length) : l.length;
        order = new ArrayList<>(order.subList(0, k));
        if (p.topP() < 1f) {
            double max = l[order.get(0)];
            double z = 0;
            for (int i : order) {
                z += Math.exp(l[i] - max);
            }
            double cum = 0;
            int keep = order.size();
            for (int j = 0; j < order.size(); j++) {
                cum += Math.exp(l[order.get(j)] - max) / z;
                if (cum >= p.topP()) {
                    keep = j + 1;
                    break;
                }
            }
            order = new ArrayList<>(order.subList(0, keep));
        }
        if (p.minP() > 0f) {
            double pmax = l[order.get(0)];
            double thr = pmax + Math.log(p.minP());
            order.removeIf(i -> l[i] < thr);
        }
        return order;
    }

    @Test
    void penaltiesFollowDefinitions() {
        // repeat 1.5, frequency 0.1, presence 0.2, window 64; history 0,1,0,2.
        Sampler s = new Sampler(new SamplingParams(0f, 0, 1f, 0f, 1.5f, 64, 0.1f, 0.2f, 1L), 4);
        for (int t : new int[] {0, 1, 0, 2}) {
            s.accept(t);
        }
        float[] l = {2f, -1f, 0.5f, 3f};
        s.applyPenalties(l);
        assertEquals(2f / 1.5f - 2 * 0.1f - 0.2f, l[0], 1e-6); // positive: divided, count 2
        assertEquals(-1f * 1.5f - 0.1f - 0.2f, l[1], 1e-6);   // negative: multiplied
        assertEquals(0.5f / 1.5f - 0.1f - 0.2f, l[2], 1e-6);
        assertEquals(3f, l[3], 0f);                           // never seen: untouched
    }

    @Test
    void penaltyWindowForgetsOldTokens() {
        // Window 3 over history 0,1,0,2 keeps 1,0,2: token 0 now counts once.
        Sampler s = new Sampler(new SamplingParams(0f, 0, 1f, 0f, 1.5f, 3, 0.1f, 0.2f, 1L), 4);
        for (int t : new int[] {0, 1, 0, 2}) {
            s.accept(t);
        }
        float[] l = {2f, -1f, 0.5f, 3f};
        s.applyPenalties(l);
        assertEquals(2f / 1.5f - 0.1f - 0.2f, l[0], 1e-6);
        // One more token pushes 1 out of the window.
        s.accept(3);
        float[] m = {2f, -1f, 0.5f, 3f};
        s.applyPenalties(m);
        assertEquals(-1f, m[1], 0f);
        assertEquals(3f / 1.5f - 0.3f, m[3], 1e-6);
        // Window 0 disables, reset forgets.
        s.reset();
        float[] n = {2f, -1f, 0.5f, 3f};
        s.applyPenalties(n);
        assertArrayEquals(new float[] {2f, -1f, 0.5f, 3f}, n);
    }

    @Test
    void repetitionPenaltyCanFlipGreedyChoice() {
        Sampler s = new Sampler(new SamplingParams(0f, 0, 1f, 0f, 2f, 64, 0f, 0f, 1L), 3);
        assertEquals(0, s.sample(new float[] {3f, 2f, 0f}));
        s.accept(0);
        assertEquals(1, s.sample(new float[] {3f, 2f, 0f})); // 3/2 = 1.5 < 2
    }

    @Test
    void sampleAllocatesNothingAfterWarmup() {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int v = 32000;
        float[] base = randomLogits(new Random(9), v);
        float[] work = new float[v];
        Sampler s = new Sampler(new SamplingParams(0.8f, 40, 0.95f, 0.05f, 1.1f, 64, 0.1f, 0.1f, 3L), v);
        for (int i = 0; i < 200; i++) {
            System.arraycopy(base, 0, work, 0, v);
            s.accept(s.sample(work));
        }
        long tid = Thread.currentThread().threadId();
        long before = mx.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 200; i++) {
            System.arraycopy(base, 0, work, 0, v);
            s.accept(s.sample(work));
        }
        long allocated = mx.getThreadAllocatedBytes(tid) - before;
        assertTrue(allocated < 1024, "allocated " + allocated + " bytes in 200 sample calls");
    }
}
