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
 * @param listener    receives the events, on the engine thread: it must only hand them over, never block
 */
public record EngineRequest(long id, int[] prompt, SamplingParams sampling, int maxTokens, List<String> stops,
        int topLogprobs, Consumer<EngineEvent> listener) {

    public EngineRequest {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be at least 1");
        }
        stops = List.copyOf(stops);
    }

    public boolean wantsLogprobs() {
        return topLogprobs >= 0;
    }
}
