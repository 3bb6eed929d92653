package dev.sieve.runtime.sample;

import java.util.SplittableRandom;

/**
 * Picks the next token of one generated sequence from a logits vector. Not thread-safe: one
 * instance per sequence.
 *
 * <p>The chain follows llama.cpp's default order: repetition penalty and frequency/presence
 * penalties over the last {@code repeatLastN} accepted tokens, then greedy argmax when
 * {@code temperature <= 0}, else top-k, top-p, min-p, temperature, softmax and a draw from a
 * seeded {@link SplittableRandom}. Like llama.cpp, top-p and min-p look at the distribution at
 * temperature 1; temperature only reshapes the survivors.
 *
 * <p>All scratch buffers are allocated in the constructor; {@link #sample} allocates nothing.
 */
public final class Sampler {
    private final SamplingParams p;
    private final int vocab;

    // Candidate set: ids and logits in parallel arrays; after selection they are sorted by
    // descending logit in [0, n).
    private final int[] ids;
    private final float[] vals;
    private final float[] probs;

    // Penalty history: ring buffer of the last repeatLastN tokens (or a growable array when
    // repeatLastN < 0 means "whole history"), plus per-token counts kept incrementally.
    private int[] history;
    private int histLen;
    private int histHead;
    private final int[] counts;
    private final int[] stamp;
    private int epoch;

    private SplittableRandom rng;

    public Sampler(SamplingParams p, int vocabSize) {
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabSize must be positive: " + vocabSize);
        }
        this.p = p;
        this.vocab = vocabSize;
        this.ids = new int[vocabSize];
        this.vals = new float[vocabSize];
        this.probs = new float[vocabSize];
        this.counts = new int[vocabSize];
        this.stamp = new int[vocabSize];
        this.history = new int[p.repeatLastN() >= 0 ? p.repeatLastN() : 256];
        this.rng = new SplittableRandom(p.seed());
    }

    public SamplingParams params() {
        return p;
    }

    /** Forgets the history and restarts the random stream from the seed. */
    public void reset() {
        for (int i = 0; i < histLen; i++) {
            counts[history[(histHead + i) % history.length]] = 0;
        }
        histLen = 0;
        histHead = 0;
        rng = new SplittableRandom(p.seed());
    }

    /** Records a generated (or prompt) token for the penalties. */
    public void accept(int token) {
        if (token < 0 || token >= vocab) {
            throw new IllegalArgumentException("token " + token + " outside vocabulary of " + vocab);
        }
        int window = p.repeatLastN();
        if (window == 0) {
            return;
        }
        if (window < 0) {
            if (histLen == history.length) {
                history = java.util.Arrays.copyOf(history, history.length * 2);
            }
            history[histLen++] = token;
        } else if (histLen < window) {
            history[(histHead + histLen++) % window] = token;
        } else {
            counts[history[histHead]]--;
            history[histHead] = token;
            histHead = (histHead + 1) % window;
        }
        counts[token]++;
    }

    /**
     * Applies the penalties to {@code logits} in place. Repetition (llama.cpp): a positive logit
     * is divided by the penalty, a non-positive one multiplied. Frequency/presence (OpenAI):
     * {@code logit -= count * frequency + (count > 0 ? presence : 0)}.
     */
    public void applyPenalties(float[] logits) {
        float rep = p.repeatPenalty();
        float freq = p.frequencyPenalty();
        float pres = p.presencePenalty();
        if (histLen == 0 || (rep == 1f && freq == 0f && pres == 0f)) {
            return;
        }
        // Each distinct token is penalised once: stamp marks the ones already done this call.
        if (++epoch == 0) {
            java.util.Arrays.fill(stamp, 0);
            epoch = 1;
        }
        int cap = history.length;
        for (int i = 0; i < histLen; i++) {
            int t = history[(histHead + i) % cap];
            if (stamp[t] == epoch) {
                continue;
            }
            stamp[t] = epoch;
            float l = logits[t];
            l = l > 0f ? l / rep : l * rep;
            logits[t] = l - counts[t] * freq - pres;
        }
    }

    /** Returns the next token; {@code logits} (length at least vocabSize) is modified in place. */
    public int sample(float[] logits) {
        if (logits.length < vocab) {
            throw new IllegalArgumentException("logits has " + logits.length + " entries, vocabulary " + vocab);
        }
        applyPenalties(logits);
        if (p.isGreedy()) {
            return argmax(logits, vocab);
        }
        return draw(filter(logits), p.temperature());
    }

    /**
     * Runs top-k, top-p and min-p over the (already penalised) logits and returns how many
     * candidates survive; {@link #candidateId} names them. When top-k or top-p is active they are in
     * descending logit order. Package-private so tests can compare against a reference.
     */
    int filter(float[] logits) {
        int n = vocab;
        int k = p.topK();
        boolean useK = k > 0 && k < vocab;
        boolean sorted = useK || p.topP() < 1f;
        if (sorted) {
            // top-p needs the candidates sorted; without top-k that means the whole vocabulary.
            n = selectTop(logits, useK ? k : vocab);
        } else {
            for (int i = 0; i < vocab; i++) {
                ids[i] = i;
                vals[i] = logits[i];
            }
        }
        if (p.topP() < 1f) {
            n = topP(n, p.topP());
        }
        if (p.minP() > 0f) {
            n = minP(n, p.minP(), sorted);
        }
        return n;
    }

    int candidateId(int i) {
        return ids[i];
    }

    static int argmax(float[] logits, int n) {
        int best = 0;
        float bv = logits[0];
        for (int i = 1; i < n; i++) {
            if (logits[i] > bv) {
                bv = logits[i];
                best = i;
            }
        }
        return best;
    }

    /**
     * Keeps the k largest logits using a size-k min-heap (O(V log k), no full sort), then
     * heap-sorts those k in place so that [0, k) is in descending order. Ties keep the lower id
     * first, so results are deterministic.
     */
    private int selectTop(float[] logits, int k) {
        for (int i = 0; i < k; i++) {
            ids[i] = i;
            vals[i] = logits[i];
        }
        for (int i = k / 2 - 1; i >= 0; i--) {
            siftDown(i, k);
        }
        for (int i = k; i < vocab; i++) {
            float v = logits[i];
            if (v > vals[0]) { // a later index with an equal value ranks lower, so strict >
                ids[0] = i;
                vals[0] = v;
                siftDown(0, k);
            }
        }
        // Heap sort: repeatedly move the minimum to the end, giving descending order.
        for (int end = k - 1; end > 0; end--) {
            swap(0, end);
            siftDown(0, end);
        }
        return k;
    }

    /** "a ranks below b": smaller logit, or equal logit and larger id. Root holds the lowest. */
    private boolean lower(int a, int b) {
        return vals[a] < vals[b] || (vals[a] == vals[b] && ids[a] > ids[b]);
    }

    private void siftDown(int i, int size) {
        while (true) {
            int l = 2 * i + 1;
            if (l >= size) {
                return;
            }
            int m = l;
            int r = l + 1;
            if (r < size && lower(r, l)) {
                m = r;
            }
            if (!lower(m, i)) {
                return;
            }
            swap(i, m);
            i = m;
        }
    }

    private void swap(int a, int b) {
        int ti = ids[a];
        ids[a] = ids[b];
        ids[b] = ti;
        float tv = vals[a];
        vals[a] = vals[b];
        vals[b] = tv;
    }

    /** Smallest prefix of the sorted candidates whose softmax mass (temperature 1) reaches p. */
    private int topP(int n, float topP) {
        double max = vals[0];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double e = Math.exp(vals[i] - max);
            probs[i] = (float) e;
            sum += e;
        }
        double cum = 0;
        double target = topP * sum;
        for (int i = 0; i < n; i++) {
            cum += probs[i];
            if (cum >= target) {
                return i + 1;
            }
        }
        return n;
    }

    /** Drops candidates with p < minP * pmax, i.e. logit < maxLogit + ln(minP). Order is kept. */
    private int minP(int n, float minP, boolean sorted) {
        float max = vals[0];
        if (!sorted) {
            for (int i = 1; i < n; i++) {
                max = Math.max(max, vals[i]);
            }
        }
        float threshold = max + (float) Math.log(minP);
        if (sorted) {
            int keep = 1;
            while (keep < n && vals[keep] >= threshold) {
                keep++;
            }
            return keep;
        }
        int w = 0;
        for (int i = 0; i < n; i++) {
            if (vals[i] >= threshold) {
                ids[w] = ids[i];
                vals[w] = vals[i];
                w++;
            }
        }
        return w;
    }

    /** Softmax of logits / temperature over the candidates, then one inverse-CDF draw. */
    private int draw(int n, float temperature) {
        float max = vals[0];
        for (int i = 1; i < n; i++) {
            max = Math.max(max, vals[i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp((vals[i] - max) / temperature);
            probs[i] = e;
            sum += e;
        }
        double u = rng.nextDouble() * sum;
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += probs[i];
            if (u < cum) {
                return ids[i];
            }
        }
        // Rounding can leave u a hair above the accumulated sum: take the last non-zero entry.
        for (int i = n - 1; i >= 0; i--) {
            if (probs[i] > 0f) {
                return ids[i];
            }
        }
        return ids[0];
    }
}
