package dev.sieve.model.eval;

import dev.sieve.model.layers.KvCache;
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

    /** The outcome: perplexity, its standard error, and how many tokens were scored. */
    public record Result(double ppl, double pplError, double meanNll, long scored, int chunks) {}

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
        KvCache cache = tf.newCache(ctx);
        float[] logits = new float[nLogits * vocab];
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
            tf.forward(chunk, 0, ctx, cache, logits, nLogits);
            for (int j = first; j < ctx - 1; j++) {
                int target = tokens[c * ctx + j + 1];
                int off = (j - first) * vocab;
                double lp = logSoftmaxAt(logits, off, vocab, target);
                nll -= lp;
                nll2 += lp * lp;
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
        return new Result(ppl, err, mean, count, chunks);
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
