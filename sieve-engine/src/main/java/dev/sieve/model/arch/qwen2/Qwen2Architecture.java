package dev.sieve.model.arch.qwen2;

import dev.sieve.io.gguf.GgufMetadata;
import dev.sieve.model.spec.Architecture;
import dev.sieve.model.spec.ModelConfig;
import dev.sieve.model.spec.RopeType;
import java.util.List;

/** Qwen2 / Qwen2.5: the Llama block with biases on the Q, K and V projections and NeoX RoPE. */
public final class Qwen2Architecture implements Architecture {
    @Override
    public List<String> names() {
        return List.of("qwen2");
    }

    @Override
    public ModelConfig config(GgufMetadata md, String arch, int vocabSize) {
        return Architecture.standardConfig(md, arch, vocabSize, RopeType.NEOX, new ModelConfig.BlockOptions(true, false));
    }
}
