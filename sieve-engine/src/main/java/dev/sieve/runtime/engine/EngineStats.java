package dev.sieve.runtime.engine;

/**
 * A snapshot of the engine's counters.
 *
 * @param waiting          sequences queued (new or preempted)
 * @param running          sequences with a KV cache
 * @param kvBlocksUsed     KV blocks held by sequences (blocks only the prefix cache holds are reclaimable: not counted)
 * @param kvBlocksTotal    KV blocks in the budget
 * @param promptTokens     prompt tokens run through the model (recomputation included)
 * @param generatedTokens  tokens sampled
 * @param requestsFinished requests that ended normally
 * @param requestsCancelled requests cancelled (client gone)
 * @param preemptions      sequences preempted for lack of KV blocks
 * @param steps            forward passes
 * @param prefixCacheHitTokens prompt tokens whose keys and values were reused from the prefix cache, not computed
 * @param kvBlocksCached   KV blocks in the prefix cache (kept after their sequences end, evicted when needed)
 */
public record EngineStats(int waiting, int running, int kvBlocksUsed, int kvBlocksTotal, long promptTokens,
        long generatedTokens, long requestsFinished, long requestsCancelled, long preemptions, long steps,
        long prefixCacheHitTokens, int kvBlocksCached) {}
