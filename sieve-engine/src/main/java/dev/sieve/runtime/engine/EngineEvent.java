package dev.sieve.runtime.engine;

import java.util.List;

/** What the {@link Engine} reports about a request. A request ends with exactly one {@link Done} or {@link Failed}. */
public sealed interface EngineEvent {
    long requestId();

    /** A sampled token's log-probability and the most likely alternatives (log-softmax of the raw logits). */
    record TokenLogprob(int token, float logprob, int[] topTokens, float[] topLogprobs) {}

    /**
     * One generated token: the text that became final with it (empty while a stop string or a
     * multi-byte character is undecided) and, when asked for, its log-probability. Every token but
     * a last one with nothing to add gets one, so consumers see the engine's pace.
     */
    record Delta(long requestId, String text, List<TokenLogprob> logprobs) implements EngineEvent {}

    /** The end: why, and the token counts for usage. */
    record Done(long requestId, StopReason reason, int promptTokens, int completionTokens) implements EngineEvent {}

    record Failed(long requestId, String message) implements EngineEvent {}
}
