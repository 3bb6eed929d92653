package dev.sieve.runtime.engine;

import dev.sieve.core.kernel.Linear;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.EvictionPolicy;
import dev.sieve.model.layers.KvEncoding;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.loader.Model;
import dev.sieve.runtime.sample.Sampler;
import dev.sieve.runtime.sample.SamplingParams;
import dev.sieve.runtime.sample.StopStrings;
import dev.sieve.tokenizer.StreamingDecoder;
import dev.sieve.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * One conversation with a model: its KV cache and the tokens in it. A new prompt reuses the
 * longest cached prefix (so a chat's earlier turns are not recomputed), the rest runs as one
 * batch, then tokens are sampled one at a time and streamed as text.
 */
public final class Session {
    private final Model model;
    private final Tokenizer tokenizer;
    private final Transformer transformer;
    private final KvCache cache;
    private final float[] logits;
    private int[] history = new int[64];
    private int shiftKeep = -1; // context shift off
    private int shifts;
    private EvictionPolicy policy; // bounded cache (H2O, StreamingLLM), or null
    private int evictions;

    public Session(Model model, Tokenizer tokenizer, Linear linear, int contextSize, int batchSize) {
        this(model, tokenizer, linear, contextSize, batchSize, KvEncoding.F32, KvCache.DEFAULT_RESIDUAL);
    }

    /** A session whose KV cache is stored in {@code cacheType}, the last {@code residual} positions in full precision. */
    public Session(Model model, Tokenizer tokenizer, Linear linear, int contextSize, int batchSize,
            KvEncoding cacheType, int residual) {
        this.model = model;
        this.tokenizer = tokenizer;
        int ctx = contextSize > 0 ? contextSize : model.config().contextLength();
        this.transformer = new Transformer(model.config(), model.weights(), linear, Math.max(1, batchSize));
        this.cache = transformer.newCache(ctx, cacheType, residual);
        this.logits = new float[model.config().vocabSize()];
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public Model model() {
        return model;
    }

    public int contextSize() {
        return cache.capacity();
    }

    /**
     * Turns on context shift: when generation fills the context, the first {@code keep} tokens (the
     * attention sinks) stay, the older half of the rest is dropped and the newer half moves down
     * ({@link Transformer#shiftCache}), so generation goes on. With a context of {@code keep + W}
     * this is StreamingLLM's sinks plus a sliding window of at most W tokens, shifted half a window
     * at a time. Negative {@code keep} turns it off (the default: generation stops at the limit).
     */
    public void setContextShift(int keep) {
        if (keep >= cache.capacity() - 1) {
            throw new IllegalArgumentException("keeping " + keep + " tokens leaves nothing to shift in a context of "
                    + cache.capacity());
        }
        this.shiftKeep = keep;
    }

    /**
     * Bounds the cache by evicting positions under {@code policy} (null: none) instead of stopping or
     * shifting at the context limit; its budget must fit the context, which the caller normally sets
     * to the budget so that memory is bounded by allocation. Prompts longer than the context are then
     * evaluated in pieces, evicting between them.
     */
    public void setEvictionPolicy(EvictionPolicy policy) {
        if (policy != null && policy.budget() > cache.capacity()) {
            throw new IllegalArgumentException("a cache budget of " + policy.budget() + " positions exceeds the context of "
                    + cache.capacity());
        }
        this.policy = policy;
        cache.trackAttention(policy != null && policy.tracksAttention());
    }

    /** Evictions done so far under the eviction policy. */
    public int evictions() {
        return evictions;
    }

    /** Context shifts done so far. */
    public int contextShifts() {
        return shifts;
    }

    /** The tokens in the cache, in position order (a copy). */
    public int[] tokens() {
        return Arrays.copyOf(history, cache.length());
    }

    /** Tokens currently in the cache. */
    public int length() {
        return cache.length();
    }

    public long cacheBytes() {
        return cache.byteSize();
    }

    /**
     * Makes the cache hold exactly {@code prompt}, evaluating only what differs from what it holds;
     * afterwards the next-token logits are those after the prompt's last token. Returns the number
     * of tokens reused.
     */
    public int ingest(int[] prompt) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        if (prompt.length > cache.capacity() && policy != null) {
            return ingestEvicting(prompt);
        }
        if (prompt.length > cache.capacity()) {
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens exceeds the context of "
                    + cache.capacity() + " tokens (raise it with -c)");
        }
        int common = 0;
        int max = Math.min(cache.length(), prompt.length);
        while (common < max && history[common] == prompt[common]) {
            common++;
        }
        if (common == prompt.length) {
            common--; // re-run the last token to get its logits
        }
        cache.truncate(common);
        ensureHistory(prompt.length);
        System.arraycopy(prompt, 0, history, 0, prompt.length);
        transformer.forward(prompt, common, prompt.length - common, cache, logits, 1);
        return common;
    }

    /** A prompt longer than the context under an eviction policy: pieces of up to a window, evicting before each. */
    private int ingestEvicting(int[] prompt) {
        cache.truncate(0);
        int done = 0;
        while (done < prompt.length) {
            int n = Math.min(prompt.length - done, policy.recent());
            evict(n);
            ensureHistory(cache.length() + n);
            System.arraycopy(prompt, done, history, cache.length(), n);
            transformer.forward(prompt, done, n, cache, logits, 1);
            done += n;
        }
        return 0;
    }

    /** Makes room for {@code n} tokens under the eviction policy, compacting the history as the cache. */
    private void evict(int n) {
        int[] kept = policy.makeRoom(transformer, cache, n);
        if (kept != null) {
            for (int i = 0; i < kept.length; i++) {
                history[i] = history[kept[i]];
            }
            evictions++;
        }
    }

    /** Appends one token (already sampled) and computes the logits after it. */
    private void push(int token) {
        ensureHistory(cache.length() + 1);
        history[cache.length()] = token;
        transformer.forward(history, cache.length(), 1, cache, logits, 1);
    }

    /** Drops the older half of the tokens after the kept ones, from the cache and the history alike. */
    private void shift() {
        int keep = Math.min(shiftKeep, cache.length() - 1);
        int discard = Math.max(1, (cache.length() - keep) / 2);
        transformer.shiftCache(cache, keep, discard);
        System.arraycopy(history, keep + discard, history, keep, cache.length() - keep);
        shifts++;
    }

    private void ensureHistory(int n) {
        if (history.length < n) {
            history = Arrays.copyOf(history, Math.max(n, history.length * 2));
        }
    }

    /**
     * Evaluates {@code prompt} (reusing the cached prefix), then samples up to {@code maxTokens} tokens,
     * sending text to {@code sink} as soon as it is complete UTF-8 and cannot be part of a stop string.
     */
    public GenerationResult generate(int[] prompt, SamplingParams params, int maxTokens, List<String> stops,
            Consumer<String> sink) {
        long t0 = System.nanoTime();
        int reused = ingest(prompt);
        long t1 = System.nanoTime();
        Sampler sampler = new Sampler(params, model.config().vocabSize());
        for (int t : prompt) {
            sampler.accept(t);
        }
        StreamingDecoder decoder = tokenizer.streamingDecoder();
        StopStrings stopper = new StopStrings(stops == null ? List.of() : stops);
        StringBuilder text = new StringBuilder();
        int generated = 0;
        StopReason reason = StopReason.MAX_TOKENS;
        while (generated < maxTokens) {
            int next = sampler.sample(logits);
            sampler.accept(next);
            generated++;
            if (tokenizer.isEndOfGeneration(next)) {
                reason = StopReason.END_OF_GENERATION;
                break;
            }
            String out = stopper.accept(decoder.accept(next));
            if (!out.isEmpty()) {
                text.append(out);
                sink.accept(out);
            }
            if (stopper.stopped()) {
                reason = StopReason.STOP_STRING;
                break;
            }
            if (generated >= maxTokens) {
                break;
            }
            if (policy != null) {
                evict(1);
            } else if (cache.length() >= cache.capacity()) {
                if (shiftKeep < 0) {
                    reason = StopReason.CONTEXT_FULL;
                    break;
                }
                shift();
            }
            push(next);
        }
        if (reason != StopReason.STOP_STRING) {
            String rest = stopper.accept(decoder.flush());
            rest += stopper.stopped() ? "" : stopper.flush();
            if (!rest.isEmpty()) {
                text.append(rest);
                sink.accept(rest);
            }
        }
        long t2 = System.nanoTime();
        return new GenerationResult(text.toString(), prompt.length - reused, reused, generated, t1 - t0, t2 - t1, reason);
    }
}
