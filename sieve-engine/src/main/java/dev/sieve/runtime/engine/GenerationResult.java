package dev.sieve.runtime.engine;

/**
 * What one generation did and how fast.
 *
 * @param text            the generated text (stop string excluded)
 * @param promptTokens    tokens evaluated for the prompt (after reusing the cached prefix)
 * @param reusedTokens    prompt tokens whose keys and values were already cached
 * @param generatedTokens tokens sampled
 * @param promptNanos     time spent evaluating the prompt
 * @param generateNanos   time spent generating
 */
public record GenerationResult(String text, int promptTokens, int reusedTokens, int generatedTokens,
        long promptNanos, long generateNanos, StopReason reason) {

    public double promptTokensPerSecond() {
        return promptNanos == 0 ? 0 : promptTokens * 1e9 / promptNanos;
    }

    public double generatedTokensPerSecond() {
        return generateNanos == 0 ? 0 : generatedTokens * 1e9 / generateNanos;
    }
}
