package dev.sieve.model.layers;

import java.util.Arrays;
import java.util.Locale;

/**
 * Bounded KV memory by eviction: a cache under a policy never holds more than {@link #budget()}
 * positions. When a step of n new tokens would exceed it, {@link #makeRoom} keeps {@code budget − n}
 * positions — the first {@link #sinks()} (attention sinks), the last {@link #recent()} (a window),
 * and, among the rest, those that have accumulated the most attention (H2O's heavy hitters, ties to
 * the earlier position) — and compacts them ({@link Transformer#compactCache}); the others are evicted.
 *
 * <p>{@link #h2o} splits what is not a sink evenly between heavy hitters and the window, as the
 * H2O paper does; {@link #window} keeps no heavy hitters, which is StreamingLLM's sinks + sliding
 * window evicting one token at a time. Attention is accumulated per position over all layers and
 * heads (one eviction decision per position, since every layer's cache is indexed by the same
 * positions), not per head as in the paper.
 */
public record EvictionPolicy(Kind kind, int budget, int sinks, int recent) {
    public enum Kind {
        /** Sinks + recent window + heavy hitters by accumulated attention. */
        H2O,
        /** Sinks + recent window only (StreamingLLM). */
        WINDOW
    }

    public EvictionPolicy {
        if (budget < 2 || sinks < 0 || recent < 1 || sinks + recent > budget) {
            throw new IllegalArgumentException("a budget of " + budget + " positions cannot hold " + sinks
                    + " sinks and a window of " + recent);
        }
    }

    /** H2O with {@code budget} positions: {@code sinks} sinks, the rest half recent window, half heavy hitters. */
    public static EvictionPolicy h2o(int budget, int sinks) {
        return h2o(budget, sinks, Math.max(1, (budget - sinks) / 2));
    }

    /** H2O with {@code budget} positions: {@code sinks} sinks, a window of {@code recent}, heavy hitters for the rest. */
    public static EvictionPolicy h2o(int budget, int sinks, int recent) {
        return new EvictionPolicy(Kind.H2O, budget, sinks, recent);
    }

    /** StreamingLLM: {@code sinks} sinks and a window of the rest of {@code budget}. */
    public static EvictionPolicy window(int budget, int sinks) {
        return new EvictionPolicy(Kind.WINDOW, budget, sinks, budget - sinks);
    }

    /** Parses {@code h2o|window}. */
    public static Kind parseKind(String s) {
        try {
            return Kind.valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown cache policy '" + s + "' (expected full, window or h2o)");
        }
    }

    /** Whether the policy needs the attention each position receives. */
    public boolean tracksAttention() {
        return kind == Kind.H2O;
    }

    /**
     * The positions to keep, ascending, out of {@code len}, so that {@code keep} remain: the first
     * {@code min(sinks, keep)}, the last {@code min(recent, keep − sinks)}, and the rest of {@code keep}
     * from the middle by most {@code attention} (ties: the earlier position).
     */
    public static int[] select(float[] attention, int len, int sinks, int recent, int keep) {
        if (keep >= len) {
            int[] all = new int[len];
            Arrays.setAll(all, i -> i);
            return all;
        }
        int s = Math.min(sinks, keep);
        int r = Math.min(recent, keep - s);
        int heavy = keep - s - r;
        Integer[] middle = new Integer[len - r - s];
        Arrays.setAll(middle, i -> s + i);
        Arrays.sort(middle, (a, b) -> attention[a] != attention[b] ? Float.compare(attention[b], attention[a]) : a - b);
        int[] kept = new int[keep];
        for (int i = 0; i < s; i++) {
            kept[i] = i;
        }
        for (int i = 0; i < heavy; i++) {
            kept[s + i] = middle[i];
        }
        Arrays.sort(kept, s, s + heavy);
        for (int i = 0; i < r; i++) {
            kept[s + heavy + i] = len - r + i;
        }
        return kept;
    }

    /**
     * Makes room for {@code n} new positions in {@code cache}: if they would take it past the budget,
     * evicts down to {@code budget − n} and returns the kept positions (the caller compacts its own
     * record of tokens the same way); otherwise returns null.
     */
    public int[] makeRoom(Transformer tf, KvCache cache, int n) {
        if (n > budget) {
            throw new IllegalArgumentException(n + " new tokens exceed the cache budget of " + budget);
        }
        int len = cache.length();
        if (len + n <= budget) {
            return null;
        }
        float[] attention = new float[len];
        for (int p = 0; p < len; p++) {
            attention[p] = cache.attention(p);
        }
        int[] kept = select(attention, len, sinks, recent, budget - n);
        tf.compactCache(cache, kept, kept.length);
        return kept;
    }
}
