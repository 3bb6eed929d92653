package dev.sieve.runtime.engine;

import dev.sieve.runtime.sample.SamplingParams;
import java.util.List;
import java.util.function.Consumer;

/**
 * One generation asked of the {@link Engine}: typed, already tokenized, no JSON.
 *
 * @param id          unique id, used to cancel
 * @param prompt      prompt token ids
 * @param sampling    sampling settings
 * @param maxTokens   tokens to generate at most
 * @param stops       stop strings (may be empty)
 * @param topLogprobs -1 for no log-probabilities, else how many alternatives to report per token (0..20)
 * @param ignoreEos   never end at an end-of-generation token: those tokens get no probability, so the
 *                    sequence runs to {@code maxTokens} (or a stop string, or the context), as llama.cpp's
 *                    and vLLM's {@code ignore_eos} do; for load tests that need every stream's exact length
 * @param listener    receives the events, on the engine thread: it must only hand them over, never block
 */
public record EngineRequest(long id, int[] prompt, SamplingParams sampling, int maxTokens, List<String> stops,
        int topLogprobs, boolean ignoreEos, Consumer<EngineEvent> listener) {

    public EngineRequest {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be at least 1");
        }
        stops = List.copyOf(stops);
    }

    /** A request that ends at the model's end-of-generation tokens, as most do. */
    public EngineRequest(long id, int[] prompt, SamplingParams sampling, int maxTokens, List<String> stops,
            int topLogprobs, Consumer<EngineEvent> listener) {
        this(id, prompt, sampling, maxTokens, stops, topLogprobs, false, listener);
    }

    public boolean wantsLogprobs() {
        return topLogprobs >= 0;
    }
}
