package dev.sieve.tokenizer;

/**
 * Text ↔ token ids for one vocabulary. Implementations: SentencePiece-style ({@code
 * tokenizer.ggml.model = llama}), byte-level BPE ({@code gpt2}) and WordPiece ({@code bert}).
 * Built from a GGUF file's metadata by {@code Tokenizers.fromGguf}.
 */
public interface Tokenizer {

    /**
     * Encodes {@code text}. With {@code addSpecial}, BOS (and EOS/SEP) are added as the vocabulary's
     * flags say; with {@code parseSpecial}, the text of control tokens (e.g. {@code <s>}) becomes
     * those tokens instead of being tokenized as plain text.
     */
    int[] encode(String text, boolean addSpecial, boolean parseSpecial);

    /** Decodes ids to text (control tokens render as nothing, byte tokens join into UTF-8). */
    String decode(int[] ids);

    /** The token's stored string as in the vocabulary (for display, e.g. {@code ▁Hello}, {@code <0x0A>}). */
    String piece(int id);

    /** The bytes this token contributes to decoded text (empty for control tokens). */
    byte[] tokenBytes(int id);

    int vocabSize();

    /** BOS id, or -1 if none. */
    int bos();

    /** EOS id, or -1 if none. */
    int eos();

    /** Whether generation should stop at this token (EOS, EOT, end-of-generation tokens). */
    boolean isEndOfGeneration(int id);

    /** Whether {@code encode(..., addSpecial=true, ...)} adds BOS. */
    boolean addsBos();

    /** A decoder that turns a stream of ids into text without ever splitting a UTF-8 character. */
    default StreamingDecoder streamingDecoder() {
        return new StreamingDecoder(this);
    }
}
