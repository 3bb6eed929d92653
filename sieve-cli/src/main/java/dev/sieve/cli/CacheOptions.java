package dev.sieve.cli;

import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.KvEncoding;
import picocli.CommandLine.Option;

/** KV cache storage options (llama.cpp spells the first one the same way). */
final class CacheOptions {
    @Option(names = "--cache-type", defaultValue = "f32", paramLabel = "TYPE",
            description = "KV cache storage: f32, f16, q8 or q4 (default: ${DEFAULT-VALUE})")
    String cacheType;

    @Option(names = "--cache-residual", defaultValue = "" + KvCache.DEFAULT_RESIDUAL, paramLabel = "N",
            description = "most recent positions a quantized cache also keeps in full precision (default: ${DEFAULT-VALUE})")
    int residual;

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
