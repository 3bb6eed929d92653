package dev.sieve.model.arch.qwen3;

import dev.sieve.io.gguf.GgufMetadata;
import dev.sieve.model.spec.Architecture;
import dev.sieve.model.spec.ModelConfig;
import dev.sieve.model.spec.RopeType;
import java.util.List;

/** Qwen3: no QKV bias, but an RMSNorm on each query and key head before RoPE; NeoX RoPE. */
public final class Qwen3Architecture implements Architecture {
    @Override
    public List<String> names() {
        return List.of("qwen3");
    }

    @Override
    public ModelConfig config(GgufMetadata md, String arch, int vocabSize) {
        return Architecture.standardConfig(md, arch, vocabSize, RopeType.NEOX, new ModelConfig.BlockOptions(false, true));
    }
}
