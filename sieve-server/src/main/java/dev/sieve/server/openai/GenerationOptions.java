package dev.sieve.server.openai;

import java.util.List;

/**
 * The generation fields shared by chat and text completions, validated; null means "not given".
 *
 * @param topLogprobs null for no log-probabilities, else alternatives per token (0..20)
 * @param ignoreEos   {@code ignore_eos} (llama.cpp's and vLLM's extension): never stop at end of generation
 */
public record GenerationOptions(Integer maxTokens, Double temperature, Double topP, Long seed, List<String> stop,
        double presencePenalty, double frequencyPenalty, boolean stream, boolean includeUsage, Integer topLogprobs,
        boolean ignoreEos) {}
