package dev.sieve.cli;

import dev.sieve.runtime.sample.SamplingParams;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** Sampling flags, named and defaulted as in llama.cpp. */
final class SamplingOptions {
    @Option(names = "--temp", defaultValue = "0.8", description = "temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", defaultValue = "40", description = "keep the k most likely tokens; 0 = off (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", description = "nucleus sampling mass; 1 = off (default: ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--min-p", defaultValue = "0.05", description = "drop tokens below min-p × the top probability; 0 = off (default: ${DEFAULT-VALUE})")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "1.0", description = "penalize repeated tokens; 1 = off (default: ${DEFAULT-VALUE})")
    float repeatPenalty;

    @Option(names = "--repeat-last-n", defaultValue = "64", description = "tokens the repeat penalty looks back over (default: ${DEFAULT-VALUE})")
    int repeatLastN;

    @Option(names = "--frequency-penalty", defaultValue = "0", description = "OpenAI frequency penalty (default: ${DEFAULT-VALUE})")
    float frequencyPenalty;

    @Option(names = "--presence-penalty", defaultValue = "0", description = "OpenAI presence penalty (default: ${DEFAULT-VALUE})")
    float presencePenalty;

    @Option(names = {"-s", "--seed"}, defaultValue = "-1", description = "random seed; -1 = random (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = {"-r", "--reverse-prompt", "--stop"}, paramLabel = "TEXT", description = "stop when this text appears (repeatable)")
    List<String> stops = new ArrayList<>();

    SamplingParams params() {
        if (temperature < 0 || topP <= 0 || topP > 1 || minP < 0 || minP > 1 || topK < 0 || repeatPenalty <= 0) {
            throw new UserException("sampling options out of range (need --temp ≥ 0, 0 < --top-p ≤ 1, "
                    + "0 ≤ --min-p ≤ 1, --top-k ≥ 0, --repeat-penalty > 0)");
        }
        long s = seed == -1 ? System.nanoTime() : seed;
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty,
                presencePenalty, s);
    }
}
