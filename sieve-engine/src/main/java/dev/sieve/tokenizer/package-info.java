/**
 * Tokenizers read from GGUF metadata, matching llama.cpp's tokenization.
 *
 * <p>Public surface: {@link dev.sieve.tokenizer.Tokenizers#fromGguf} builds a {@link
 * dev.sieve.tokenizer.Tokenizer} for {@code tokenizer.ggml.model} {@code llama} (SentencePiece-style,
 * score-ordered merges with byte fallback), {@code gpt2} (byte-level BPE with the regex
 * pre-tokenizer named by {@code tokenizer.ggml.pre}) or {@code bert} (WordPiece); anything else is
 * rejected with an {@link java.lang.IllegalArgumentException} naming the value. {@link
 * dev.sieve.tokenizer.Tokenizer#encode} cuts USER_DEFINED tokens out of the text first and CONTROL
 * tokens only when asked; {@link dev.sieve.tokenizer.StreamingDecoder} turns generated ids into text
 * without splitting a UTF-8 character. Tokenizers are immutable and may be shared between threads;
 * a StreamingDecoder is per sequence. Everything else here is package-private implementation.
 *
 * <p>Decoding is the exact inverse of encoding for SPM and BPE: SPM drops the prefix space at the
 * start of a sequence (also after a leading BOS, as SentencePiece does; llama.cpp keeps it there),
 * and BPE does not apply llama.cpp's optional {@code clean_spaces} rewriting.
 */
package dev.sieve.tokenizer;
