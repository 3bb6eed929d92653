package dev.sieve.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.io.gguf.GgufMetadata;
import dev.sieve.io.gguf.GgufValue;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** BOS/EOS flags, special-token parsing, end-of-generation ids and factory errors. */
class SpecialTokenTest {
    private static Tokenizer vocab(String name) {
        return TestData.tokenizer(TestData.require("tokenizers/ggml-vocab-" + name + ".gguf"));
    }

    @Test
    void bosFlagsFollowFileAndLlamaCppDefaults() {
        assertArrayEquals(new int[] {1, 15043, 3186}, vocab("llama-spm").encode("Hello world", true, false));
        assertArrayEquals(new int[] {15496, 995}, vocab("gpt-2").encode("Hello world", true, false)); // BPE: no BOS by default
        Tokenizer ds = vocab("deepseek-llm");
        assertTrue(ds.addsBos()); // add_bos_token = true in the file
        assertEquals(100000, ds.encode("Hello", true, false)[0]);
        // WPM: [CLS] first and [SEP] last.
        assertArrayEquals(new int[] {101, 7592, 2088, 102}, vocab("bert-bge").encode("Hello world", true, false));
        assertEquals("hello world", vocab("bert-bge").decode(new int[] {101, 7592, 2088, 102}));
    }

    @Test
    void controlTokensOnlyWithParseSpecial() {
        Tokenizer phi = vocab("phi-3");
        int[] parsed = phi.encode("<|user|>\nHi<|end|>", false, true);
        assertEquals(32010, parsed[0]);
        assertEquals(32007, parsed[parsed.length - 1]);
        int[] plain = phi.encode("<|user|>\nHi<|end|>", false, false);
        for (int id : plain) {
            assertTrue(id < 32000, "no control token without parseSpecial: " + id);
        }
        // Control tokens render as nothing; the fragment after one carries SPM's prefix space (as in llama.cpp).
        assertEquals(" \nHi", phi.decode(parsed));
    }

    @Test
    void userDefinedTokensAreAlwaysCutOut() {
        // phi-3 stores </s> as USER_DEFINED; deepseek-llm has ü as one.
        int[] ids = vocab("phi-3").encode("a</s>b", false, false);
        assertTrue(java.util.Arrays.stream(ids).anyMatch(i -> i == 2), java.util.Arrays.toString(ids));
        int[] ds = vocab("deepseek-llm").encode("Führer", false, false);
        assertTrue(java.util.Arrays.stream(ds).anyMatch(i -> i == 100014));
        assertEquals("Führer", vocab("deepseek-llm").decode(ds));
    }

    @Test
    void endOfGeneration() {
        Tokenizer phi = vocab("phi-3");
        assertTrue(phi.isEndOfGeneration(32000)); // eos <|endoftext|>
        assertTrue(phi.isEndOfGeneration(32007)); // <|end|>
        assertFalse(phi.isEndOfGeneration(32010)); // <|user|>
        assertFalse(phi.isEndOfGeneration(-1));
        assertTrue(vocab("gpt-2").isEndOfGeneration(50256));
        assertTrue(vocab("deepseek-coder").isEndOfGeneration(32014));
    }

    @Test
    void unknownModelAndPreAreRejectedByName() {
        Map<String, GgufValue> m = new LinkedHashMap<>();
        m.put("tokenizer.ggml.model", GgufValue.ofString("rwkv"));
        m.put("tokenizer.ggml.tokens", GgufValue.ofStrings(new String[] {"a", "b"}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.fromGguf(new GgufMetadata(m)));
        assertTrue(e.getMessage().contains("'rwkv'"), e.getMessage());

        m.put("tokenizer.ggml.model", GgufValue.ofString("gpt2"));
        m.put("tokenizer.ggml.pre", GgufValue.ofString("mystery-pre"));
        m.put("tokenizer.ggml.merges", GgufValue.ofStrings(new String[] {"a b"}));
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.fromGguf(new GgufMetadata(m)));
        assertTrue(e.getMessage().contains("'mystery-pre'"), e.getMessage());
    }

    @Test
    void minimalBpeVocabMergesByRank() {
        // A hand-made vocab: "a b" ranks before "ab c", so "abc" becomes one token; "ca" has no merge.
        Map<String, GgufValue> m = new LinkedHashMap<>();
        m.put("tokenizer.ggml.model", GgufValue.ofString("gpt2"));
        m.put("tokenizer.ggml.pre", GgufValue.ofString("gpt-2"));
        m.put("tokenizer.ggml.tokens", GgufValue.ofStrings(new String[] {"a", "b", "c", "ab", "abc", "Ġ"}));
        m.put("tokenizer.ggml.merges", GgufValue.ofStrings(new String[] {"a b", "ab c"}));
        Tokenizer t = Tokenizers.fromGguf(new GgufMetadata(m));
        assertArrayEquals(new int[] {4, 2, 0}, t.encode("abcca", false, false));
        assertArrayEquals(new int[] {3, 5, 0}, t.encode("ab a", false, false));
        assertEquals("abcca", t.decode(new int[] {4, 2, 0}));
        assertFalse(t.addsBos());
    }
}
