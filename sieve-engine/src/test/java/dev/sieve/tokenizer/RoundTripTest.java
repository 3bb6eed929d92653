package dev.sieve.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** decode(encode(x)) == x, and streaming decode never splits a character. */
class RoundTripTest {
    static final List<String> TEXTS = List.of(
            "Hello world",
            "  leading spaces and trailing  ",
            "\n\nnewlines\tand\ttabs\r\n",
            "Grüße aus München, ½ Liter für 3,50 €",
            "Здравей, свят! Ελληνικά. עברית مرحبا",
            "日本語のテキストと中文混合 한국어",
            "emoji 🦙🦙 and ZWJ 👨‍👩‍👧 flags 🇩🇪 skin 👋🏽",
            "math ∑∫√∞ ≠ ≤ and symbols ©®™ §¶",
            "code: for (int i = 0; i < n; i++) { x += a[i] * 2; }",
            "numbers 1234567890 3.14159 -42",
            "combining e\u0301 and a\u0308 and \u00A0nbsp and \u3000ideographic space",
            "<s> and </s> and <|endoftext|> as plain text",
            "");

    @ParameterizedTest
    @ValueSource(strings = {"models/sieve-tiny-F32.gguf", "tokenizers/ggml-vocab-llama-spm.gguf",
            "tokenizers/ggml-vocab-gpt-2.gguf", "tokenizers/ggml-vocab-deepseek-llm.gguf",
            "tokenizers/ggml-vocab-falcon.gguf", "tokenizers/ggml-vocab-mpt.gguf",
            "tokenizers/ggml-vocab-baichuan.gguf", "tokenizers/ggml-vocab-gpt-neox.gguf",
            "tokenizers/ggml-vocab-deepseek-coder.gguf", "tokenizers/ggml-vocab-starcoder.gguf"})
    void decodeInvertsEncode(String file) {
        Tokenizer t = TestData.tokenizer(TestData.require(file));
        for (String x : TEXTS) {
            assertEquals(x, t.decode(t.encode(x, false, false)), () -> file + ": " + x);
            assertEquals(x, t.decode(t.encode(x, true, false)), () -> file + " with specials: " + x);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"models/sieve-tiny-F32.gguf", "tokenizers/ggml-vocab-gpt-2.gguf",
            "tokenizers/ggml-vocab-starcoder.gguf"})
    void streamingNeverEmitsBrokenCharacters(String file) {
        Tokenizer t = TestData.tokenizer(TestData.require(file));
        for (String x : TEXTS) {
            int[] ids = t.encode(x, false, false);
            StreamingDecoder d = t.streamingDecoder();
            StringBuilder streamed = new StringBuilder();
            ByteArrayOutputStream raw = new ByteArrayOutputStream();
            for (int id : ids) {
                String s = d.accept(id);
                assertFalse(s.contains("\uFFFD"), () -> file + ": broken character after token " + id + " in " + x);
                assertFalse(!s.isEmpty() && Character.isHighSurrogate(s.charAt(s.length() - 1)), "split surrogate pair");
                streamed.append(s);
                raw.writeBytes(t.tokenBytes(id));
            }
            streamed.append(d.flush());
            // The stream is the plain concatenation of token bytes (no leading-space stripping).
            assertEquals(raw.toString(StandardCharsets.UTF_8), streamed.toString(), () -> file + ": " + x);
        }
    }

    @org.junit.jupiter.api.Test
    void byteFallbackSplitsEmojiAcrossTokensAndStreamingHoldsItBack() {
        Tokenizer t = TestData.sieveTiny();
        int[] ids = t.encode("🦙", false, false);
        // "▁" then the four UTF-8 bytes F0 9F A6 99 as <0xXX> byte tokens.
        assertEquals(5, ids.length, () -> java.util.Arrays.toString(ids));
        assertArrayEquals(new byte[] {(byte) 0xF0}, t.tokenBytes(ids[1]));
        assertEquals("<0x99>", t.piece(ids[4]));
        StreamingDecoder d = t.streamingDecoder();
        assertEquals(" ", d.accept(ids[0]));
        assertEquals("", d.accept(ids[1]));
        assertEquals("", d.accept(ids[2]));
        assertEquals("", d.accept(ids[3]));
        assertEquals("🦙", d.accept(ids[4]));
        assertEquals("", d.flush());
        assertEquals("🦙", t.decode(ids));
    }

    @org.junit.jupiter.api.Test
    void streamingFlushReplacesAnUnfinishedCharacter() {
        Tokenizer t = TestData.sieveTiny();
        int[] ids = t.encode("🦙", false, false);
        StreamingDecoder d = t.streamingDecoder();
        d.accept(ids[0]);
        d.accept(ids[1]);
        d.accept(ids[2]);
        assertTrue(d.flush().contains("\uFFFD"));
        assertEquals("a", d.accept(t.encode("a", false, false)[0]).strip()); // state was reset by flush
    }
}
