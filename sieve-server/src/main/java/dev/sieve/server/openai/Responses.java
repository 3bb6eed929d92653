package dev.sieve.server.openai;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/** The response records, named as OpenAI names them (the mapper writes snake_case). */
public final class Responses {
    private Responses() {}

    public record Usage(int promptTokens, int completionTokens, int totalTokens) {
        public static Usage of(int prompt, int completion) {
            return new Usage(prompt, completion, prompt + completion);
        }
    }

    public record Message(String role, String content) {}

    public record TopLogprob(String token, double logprob, int[] bytes) {}

    public record TokenLogprob(String token, double logprob, int[] bytes, List<TopLogprob> topLogprobs) {}

    public record ChoiceLogprobs(List<TokenLogprob> content) {}

    public record ChatChoice(int index, Message message, ChoiceLogprobs logprobs, String finishReason) {}

    public record ChatCompletion(String id, String object, long created, String model, List<ChatChoice> choices,
            Usage usage) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Delta(String role, String content) {}

    public record ChunkChoice(int index, Delta delta, ChoiceLogprobs logprobs, String finishReason) {}

    public record ChatCompletionChunk(String id, String object, long created, String model, List<ChunkChoice> choices,
            @JsonInclude(JsonInclude.Include.NON_NULL) Usage usage) {}

    /** The legacy completions log-probabilities: parallel lists per token. */
    public record LegacyLogprobs(List<String> tokens, List<Double> tokenLogprobs, List<Map<String, Double>> topLogprobs,
            List<Integer> textOffset) {}

    public record TextChoice(String text, int index, LegacyLogprobs logprobs, String finishReason) {}

    public record Completion(String id, String object, long created, String model, List<TextChoice> choices,
            @JsonInclude(JsonInclude.Include.NON_NULL) Usage usage) {}

    public record ModelCard(String id, String object, long created, String ownedBy) {}

    public record ModelList(String object, List<ModelCard> data) {}
}
