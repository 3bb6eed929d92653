package dev.sieve.model.arch.llama;

import dev.sieve.io.gguf.GgufMetadata;
import dev.sieve.model.spec.Architecture;
import dev.sieve.model.spec.ModelConfig;
import dev.sieve.model.spec.RopeType;
import java.util.List;

/**
 * Llama 2 and 3, TinyLlama, Mistral, SmolLM: the plain block (RMSNorm, GQA attention with RoPE in
 * Meta's interleaved layout, SwiGLU). Llama 3.1's rope scaling arrives as the {@code rope_freqs}
 * tensor, which the shared layers apply when present.
 */
public final class LlamaArchitecture implements Architecture {
    @Override
    public List<String> names() {
        return List.of("llama", "mistral");
    }

    @Override
    public ModelConfig config(GgufMetadata md, String arch, int vocabSize) {
        return Architecture.standardConfig(md, arch, vocabSize, RopeType.NORMAL, ModelConfig.BlockOptions.LLAMA);
    }
}
