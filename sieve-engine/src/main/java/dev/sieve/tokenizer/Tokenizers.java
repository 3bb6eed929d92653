package dev.sieve.tokenizer;

import dev.sieve.io.gguf.GgufMetadata;

/** Builds the {@link Tokenizer} a GGUF file's {@code tokenizer.ggml.*} metadata describes. */
public final class Tokenizers {
    private Tokenizers() {}

    /**
     * Chooses by {@code tokenizer.ggml.model}: {@code llama} (SentencePiece-style), {@code gpt2}
     * (byte-level BPE with the pre-tokenizer named by {@code tokenizer.ggml.pre}) or {@code bert}
     * (WordPiece). Missing special ids default as in llama.cpp.
     *
     * @throws IllegalArgumentException for an unsupported model or pre-tokenizer, naming it
     */
    public static Tokenizer fromGguf(GgufMetadata m) {
        String model = m.optString("tokenizer.ggml.model")
                .orElseThrow(() -> new IllegalArgumentException("GGUF has no tokenizer.ggml.model"));
        return switch (model) {
            case "llama" -> new SpmTokenizer(new Vocab(m, 1, 2, 0, -1, true),
                    m.getBool("tokenizer.ggml.add_space_prefix", true));
            case "gpt2" -> {
                // An absent pre key means llama.cpp's DEFAULT regexes (it logs a warning).
                String pre = m.optString("tokenizer.ggml.pre").orElse("default");
                PreTokenizer.Spec spec = PreTokenizer.SPECS.get(pre);
                if (spec == null) {
                    throw new IllegalArgumentException("unsupported tokenizer.ggml.pre '" + pre + "' for tokenizer.ggml.model 'gpt2'");
                }
                yield new BpeTokenizer(new Vocab(m, 11, 11, -1, -1, spec.addBos()),
                        m.getStrings("tokenizer.ggml.merges"), spec);
            }
            case "bert" -> new WpmTokenizer(new Vocab(m, 101, -1, 100, 102, true));
            default -> throw new IllegalArgumentException("unsupported tokenizer.ggml.model '" + model + "'");
        };
    }
}
