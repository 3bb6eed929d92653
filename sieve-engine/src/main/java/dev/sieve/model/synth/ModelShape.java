package dev.sieve.model.synth;

import java.util.List;
import java.util.Locale;

/**
 * A named model shape for synthetic models: the hyperparameters of a real model family, so that
 * benchmarks on random weights stream exactly the bytes the real model would.
 */
public record ModelShape(
        String name, String architecture, int dim, int layers, int heads, int kvHeads, int ffnDim,
        int vocab, int context, boolean tiedOutput, float ropeTheta, float rmsEps, boolean qkvBias,
        boolean llama3RopeScaling, boolean qkNorm) {

    public static final List<ModelShape> ALL = List.of(
            new ModelShape("tiny", "llama", 64, 2, 4, 2, 192, 512, 256, false, 10000f, 1e-5f, false, false, false),
            new ModelShape("135m", "llama", 576, 30, 9, 3, 1536, 32000, 2048, true, 10000f, 1e-5f, false, false, false),
            new ModelShape("tinyllama-1.1b", "llama", 2048, 22, 32, 4, 5632, 32000, 2048, false, 10000f, 1e-5f, false, false, false),
            new ModelShape("llama3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 131072, true, 500000f, 1e-5f, false, true, false),
            new ModelShape("qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 32768, true, 1000000f, 1e-6f, true, false, false));

    public static ModelShape byName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return ALL.stream().filter(s -> s.name.equals(n)).findFirst().orElseThrow(() -> new IllegalArgumentException(
                "unknown shape '" + name + "' (known: " + String.join(", ", ALL.stream().map(ModelShape::name).toList()) + ")"));
    }

    public int headDim() {
        return dim / heads;
    }

    /** Parameters of the matrices (embedding, blocks, untied head). */
    public long parameterCount() {
        long kv = (long) kvHeads * headDim();
        long block = (long) dim * dim * 2 + 2L * dim * kv + 3L * dim * ffnDim;
        return (long) vocab * dim * (tiedOutput ? 1 : 2) + block * layers;
    }
}
