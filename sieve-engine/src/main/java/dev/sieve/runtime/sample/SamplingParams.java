package dev.sieve.runtime.sample;

/**
 * How to pick the next token. Defaults follow llama.cpp's: temperature 0.8, top-k 40, top-p 0.95,
 * min-p 0.05, no repetition penalty over the last 64 tokens. A temperature of 0 or less means greedy.
 *
 * @param seed the random seed; the same seed and inputs give the same output
 */
public record SamplingParams(
        float temperature,
        int topK,
        float topP,
        float minP,
        float repeatPenalty,
        int repeatLastN,
        float frequencyPenalty,
        float presencePenalty,
        long seed) {

    public static SamplingParams defaults() {
        return new SamplingParams(0.8f, 40, 0.95f, 0.05f, 1.0f, 64, 0f, 0f, 0xC0FFEEL);
    }

    public static SamplingParams greedy() {
        return new SamplingParams(0f, 0, 1f, 0f, 1.0f, 64, 0f, 0f, 0L);
    }

    public boolean isGreedy() {
        return temperature <= 0f;
    }

    public SamplingParams withTemperature(float t) {
        return new SamplingParams(t, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, seed);
    }

    public SamplingParams withSeed(long s) {
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, s);
    }
}
