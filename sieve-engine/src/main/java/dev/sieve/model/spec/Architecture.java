package dev.sieve.model.spec;

import dev.sieve.io.gguf.GgufMetadata;

/**
 * What distinguishes one architecture: its GGUF name(s), how its hyperparameters are read, and
 * which options of the shared block it turns on. The forward pass itself is shared
 * ({@code dev.sieve.model.layers.Transformer}); architectures never import each other.
 * Implementations are found with {@link java.util.ServiceLoader}.
 */
public interface Architecture {

    /** GGUF {@code general.architecture} values this class handles. */
    java.util.List<String> names();

    /** Reads the hyperparameters; {@code vocabSize} comes from the embedding tensor. */
    ModelConfig config(GgufMetadata md, String arch, int vocabSize);

    /** Reads the common {@code {arch}.*} keys; architectures adjust what differs. */
    static ModelConfig standardConfig(GgufMetadata md, String arch, int vocabSize, RopeType rope,
            ModelConfig.BlockOptions block) {
        int dim = md.getInt(arch + ".embedding_length");
        int heads = md.getInt(arch + ".attention.head_count");
        int kvHeads = md.getInt(arch + ".attention.head_count_kv", heads);
        int headDim = md.getInt(arch + ".attention.key_length", dim / heads);
        return new ModelConfig(
                arch,
                dim,
                md.getInt(arch + ".block_count"),
                heads,
                kvHeads,
                headDim,
                md.getInt(arch + ".feed_forward_length"),
                vocabSize,
                md.getInt(arch + ".context_length", 2048),
                md.getFloat(arch + ".attention.layer_norm_rms_epsilon", 1e-5f),
                md.getFloat(arch + ".rope.freq_base", 10000f),
                md.getInt(arch + ".rope.dimension_count", headDim),
                rope,
                block);
    }
}
