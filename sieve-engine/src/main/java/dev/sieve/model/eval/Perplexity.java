package dev.sieve.model.eval;

import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.EvictionPolicy;
import dev.sieve.model.layers.KvEncoding;
import dev.sieve.model.layers.Transformer;

/**
 * Perplexity as llama.cpp's {@code llama-perplexity} defines it, so the two can be compared
 * figure for figure: the token stream ({@code [BOS] + encode(text)}) is cut into chunks of
 * {@code ctx} tokens, each chunk's first token is replaced by BOS, the chunk is evaluated from an
 * empty cache, and only the predictions of its second half are scored (positions {@code ctx/2 …
 * ctx−2}, predicting the next token), so every scored token has at least {@code ctx/2} of context.
 * {@code PPL = exp(mean NLL)}; the error is {@code PPL · sqrt(var(NLL) / (N − 1))}.
 */
public final class Perplexity {

    /**
     * The outcome: perplexity, its standard error, how many tokens were scored; with a reference
     * model also the reference's perplexity, the mean KL divergence KL(ref ‖ model) with its
     * standard error, and the fraction of positions where both models rank the same token first.
     */
    public record Result(double ppl, double pplError, double meanNll, long scored, int chunks,
            double refPpl, double kl, double klError, double top1) {
        public boolean hasReference() {
            return !Double.isNaN(kl);
        }
    }

    /** Called after each chunk, for progress bars. */
    @FunctionalInterface
    public interface Progress {
        void chunkDone(int chunk, int chunks, double runningPpl);
    }

    /** Visits the log-probabilities of each scored position (for KL divergence and agreement). */
    @FunctionalInterface
    public interface LogitsVisitor {
        void scored(long index, float[] logits, int offset, int vocab, int target);
    }

    private Perplexity() {}

    public static Result compute(Transformer tf, int[] tokens, int ctx, int bos, int maxChunks, Progress progress,
            LogitsVisitor visitor) {
        return compute(tf, null, tokens, ctx, bos, maxChunks, progress, visitor);
    }

    /**
     * Perplexity of {@code tf}; with a reference {@code ref} (same vocabulary) evaluated in lockstep,
     * chunk by chunk, also KL divergence and top-1 agreement, holding only one chunk's logits of each.
     */
    public static Result compute(Transformer tf, Transformer ref, int[] tokens, int ctx, int bos, int maxChunks,
            Progress progress, LogitsVisitor visitor) {
        return compute(tf, ref, tokens, ctx, bos, maxChunks, progress, visitor, KvEncoding.F32, KvCache.DEFAULT_RESIDUAL);
    }

    /**
     * As above, with {@code tf}'s KV cache in {@code cacheType} (keeping {@code residual} recent positions in
     * full precision); the reference always uses a full-precision cache.
     */
    public static Result compute(Transformer tf, Transformer ref, int[] tokens, int ctx, int bos, int maxChunks,
            Progress progress, LogitsVisitor visitor, KvEncoding cacheType, int residual) {
        return compute(tf, ref, tokens, ctx, bos, maxChunks, progress, visitor, cacheType, residual, null);
    }

    /**
     * As above, with {@code tf}'s cache bounded by {@code policy} (null: none): its capacity is the
     * policy's budget, and once a chunk fills it the tokens run one at a time, evicting before each
     * (H2O / StreamingLLM as in generation), so every scored token sees at most the budget.
     */
    public static Result compute(Transformer tf, Transformer ref, int[] tokens, int ctx, int bos, int maxChunks,
            Progress progress, LogitsVisitor visitor, KvEncoding cacheType, int residual, EvictionPolicy policy) {
        if (ctx < 4 || ctx % 2 != 0) {
            throw new IllegalArgumentException("perplexity context must be an even number ≥ 4, got " + ctx);
        }
        int chunks = tokens.length / ctx;
        if (maxChunks > 0) {
            chunks = Math.min(chunks, maxChunks);
        }
        if (chunks == 0) {
            throw new IllegalArgumentException("text too short: " + tokens.length + " tokens, need at least " + ctx);
        }
        int vocab = tf.config().vocabSize();
        int first = ctx / 2;
        int nLogits = ctx - first;
        if (ref != null && ref.config().vocabSize() != vocab) {
            throw new IllegalArgumentException("reference vocabulary " + ref.config().vocabSize() + " ≠ " + vocab);
        }
        boolean bounded = policy != null && policy.budget() < ctx;
        KvCache cache = tf.newCache(bounded ? policy.budget() : ctx, cacheType, residual);
        cache.trackAttention(bounded && policy.tracksAttention());
        float[] stepLogits = bounded ? new float[vocab] : null;
        KvCache refCache = ref != null ? ref.newCache(ctx) : null;
        float[] logits = new float[nLogits * vocab];
        float[] refLogits = ref != null ? new float[nLogits * vocab] : null;
        double refNll = 0;
        double kl = 0;
        double kl2 = 0;
        long agree = 0;
        int[] chunk = new int[ctx];
        double nll = 0;
        double nll2 = 0;
        long count = 0;
        for (int c = 0; c < chunks; c++) {
            System.arraycopy(tokens, c * ctx, chunk, 0, ctx);
            if (bos >= 0) {
                chunk[0] = bos;
            }
            cache.truncate(0);
            if (bounded) {
                forwardEvicting(tf, policy, chunk, ctx, first, cache, logits, stepLogits);
            } else {
                tf.forward(chunk, 0, ctx, cache, logits, nLogits);
            }
            if (ref != null) {
                refCache.truncate(0);
                ref.forward(chunk, 0, ctx, refCache, refLogits, nLogits);
            }
            for (int j = first; j < ctx - 1; j++) {
                int target = tokens[c * ctx + j + 1];
                int off = (j - first) * vocab;
                double lp = logSoftmaxAt(logits, off, vocab, target);
                nll -= lp;
                nll2 += lp * lp;
                if (ref != null) {
                    refNll -= logSoftmaxAt(refLogits, off, vocab, target);
                    double d = klDivergence(refLogits, logits, off, vocab);
                    kl += d;
                    kl2 += d * d;
                    if (argmax(refLogits, off, vocab) == argmax(logits, off, vocab)) {
                        agree++;
                    }
                }
                if (visitor != null) {
                    visitor.scored(count, logits, off, vocab, target);
                }
                count++;
            }
            if (progress != null) {
                progress.chunkDone(c + 1, chunks, Math.exp(nll / count));
            }
        }
        double mean = nll / count;
        double var = nll2 / count - mean * mean;
        double ppl = Math.exp(mean);
        double err = var > 0 ? ppl * Math.sqrt(var / (count - 1)) : 0;
        if (ref == null) {
            return new Result(ppl, err, mean, count, chunks, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
        double klMean = kl / count;
        double klVar = kl2 / count - klMean * klMean;
        return new Result(ppl, err, mean, count, chunks, Math.exp(refNll / count), klMean,
                klVar > 0 ? Math.sqrt(klVar / (count - 1)) : 0, (double) agree / count);
    }

    /**
     * Runs {@code chunk} through a cache bounded by {@code policy}: the first {@code min(budget, first)}
     * tokens as one batch, then one token at a time, evicting before each; the logits after tokens
     * {@code first ..} land in {@code logits} as the unbounded path puts them.
     */
    private static void forwardEvicting(Transformer tf, EvictionPolicy policy, int[] chunk, int ctx, int first, KvCache cache,
            float[] logits, float[] stepLogits) {
        int vocab = stepLogits.length;
        int head = Math.min(policy.budget(), first);
        tf.forward(chunk, 0, head, cache, stepLogits, 1);
        for (int j = head; j < ctx; j++) {
            policy.makeRoom(tf, cache, 1);
            tf.forward(chunk, j, 1, cache, stepLogits, 1);
            if (j >= first) {
                System.arraycopy(stepLogits, 0, logits, (j - first) * vocab, vocab);
            }
        }
    }

    /** KL(p ‖ q) = Σ p·(log p − log q) for the softmaxes p of {@code ref} and q of {@code model}, in double. */
    public static double klDivergence(float[] ref, float[] model, int off, int vocab) {
        double refMax = Double.NEGATIVE_INFINITY;
        double modMax = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            refMax = Math.max(refMax, ref[off + i]);
            modMax = Math.max(modMax, model[off + i]);
        }
        double refSum = 0;
        double modSum = 0;
        for (int i = 0; i < vocab; i++) {
            refSum += Math.exp(ref[off + i] - refMax);
            modSum += Math.exp(model[off + i] - modMax);
        }
        double refLse = refMax + Math.log(refSum);
        double modLse = modMax + Math.log(modSum);
        double d = 0;
        for (int i = 0; i < vocab; i++) {
            double lp = ref[off + i] - refLse;
            double lq = model[off + i] - modLse;
            d += Math.exp(lp) * (lp - lq);
        }
        return Math.max(0, d);
    }

    static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[off + i] > a[off + best]) {
                best = i;
            }
        }
        return best;
    }

    /** log softmax(logits[off ..])[target], in double with the max subtracted. */
    public static double logSoftmaxAt(float[] logits, int off, int vocab, int target) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[off + i] - max);
        }
        return logits[off + target] - max - Math.log(sum);
    }
}
