package dev.sieve.cli;

import dev.sieve.model.layers.EvictionPolicy;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.KvEncoding;
import picocli.CommandLine.Option;

/** KV cache storage options (llama.cpp spells the first one the same way). */
final class CacheOptions {
    @Option(names = "--cache-type", defaultValue = "f32", paramLabel = "TYPE",
            description = "KV cache storage: f32, f16, q8, q4, or q8c/q4c (KIVI: keys per channel, values per token)"
                    + " (default: ${DEFAULT-VALUE})")
    String cacheType;

    @Option(names = "--cache-residual", defaultValue = "" + KvCache.DEFAULT_RESIDUAL, paramLabel = "N",
            description = "most recent positions a quantized cache also keeps in full precision (default: ${DEFAULT-VALUE})")
    int residual;

    @Option(names = "--cache-policy", defaultValue = "full", paramLabel = "P",
            description = "bounded cache: full (none), window (StreamingLLM sinks + sliding window) or h2o (sinks +"
                    + " recent window + heavy hitters by accumulated attention); needs --cache-budget (default: ${DEFAULT-VALUE})")
    String policy;

    @Option(names = "--cache-budget", defaultValue = "0", paramLabel = "N",
            description = "positions a bounded cache holds at most (--cache-policy window|h2o); it is also the context")
    int budget;

    @Option(names = "--cache-sinks", defaultValue = "4", paramLabel = "N",
            description = "first positions a bounded cache always keeps: the attention sinks (default: ${DEFAULT-VALUE})")
    int sinks;

    @Option(names = "--cache-recent", defaultValue = "0", paramLabel = "N",
            description = "h2o: the recent window; the rest of the budget after sinks and window goes to heavy hitters"
                    + " (default: half of what is not a sink)")
    int recent;

    /** The eviction policy of {@code --cache-policy}, or null for a full cache. */
    EvictionPolicy policy() {
        if (policy.equalsIgnoreCase("full")) {
            return null;
        }
        try {
            EvictionPolicy.Kind kind = EvictionPolicy.parseKind(policy);
            if (budget < 2) {
                throw new UserException("--cache-policy " + policy + " needs --cache-budget of at least 2 positions");
            }
            if (kind == EvictionPolicy.Kind.WINDOW) {
                return EvictionPolicy.window(budget, sinks);
            }
            return recent > 0 ? EvictionPolicy.h2o(budget, sinks, recent) : EvictionPolicy.h2o(budget, sinks);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
    }

    /** Refuses {@code --cache-policy} for a command whose cache is not bounded that way. */
    void requireFull(String command) {
        if (policy() != null) {
            throw new UserException("--cache-policy applies to run, chat and eval, not to " + command);
        }
    }

    KvEncoding encoding() {
        try {
            return KvEncoding.parse(cacheType);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
    }

    int residual() {
        if (residual < 0) {
            throw new UserException("--cache-residual must not be negative");
        }
        return residual;
    }
}
