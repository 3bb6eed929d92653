package dev.sieve.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The regex lists against pre-tokenizer-regexes.json (so pre types whose vocab files are absent,
 * such as llama-bpe, qwen2 and chameleon, still use llama.cpp's exact regexes), and hand-checked splits.
 */
class PreTokenizerTest {

    @Test
    @SuppressWarnings("unchecked")
    void regexListsMatchLlamaCpp() throws IOException {
        String json = Files.readString(TestData.require("tokenizers/pre-tokenizer-regexes.json"), StandardCharsets.UTF_8);
        Map<String, Object> root = (Map<String, Object>) new MiniJson(json).value();
        Map<String, Object> preToType = (Map<String, Object>) root.get("pre_string_to_type");
        Map<String, Object> byType = (Map<String, Object>) root.get("regexes_by_type");
        String defaultKey = byType.keySet().stream().filter(k -> k.startsWith("LLAMA_VOCAB_PRE_TYPE_DEFAULT")).findFirst().orElseThrow();
        for (var e : PreTokenizer.SPECS.entrySet()) {
            String pre = e.getKey();
            Map<String, Object> info = (Map<String, Object>) preToType.get(pre);
            assertNotNull(info, "llama.cpp does not know pre '" + pre + "'");
            List<Object> expected = (List<Object>) byType.getOrDefault((String) info.get("type"), byType.get(defaultKey));
            // The one deliberate rewrite: ECMAScript '$' (end of input only) is Java's '\z'.
            List<String> actual = e.getValue().regexes().stream().map(r -> r.replace("\\s+\\z", "\\s+$")).toList();
            assertEquals(expected, actual, pre);
            Map<String, Object> flags = (Map<String, Object>) info.get("also_sets");
            assertEquals("true".equals(flags.get("ignore_merges")), e.getValue().ignoreMerges(), pre + " ignore_merges");
            assertEquals("true".equals(flags.get("add_bos")), e.getValue().addBos(), pre + " add_bos");
        }
    }

    private static List<String> split(List<String> regexes, String text) {
        return new PreTokenizer(regexes).split(text);
    }

    @Test
    void llama3AndQwen2Splits() {
        String text = "Hello  world 12345 isn't\n\n  ok!!\n";
        assertEquals(List.of("Hello", " ", " world", " ", "123", "45", " isn", "'t", "\n\n", " ", " ok", "!!\n"),
                split(List.of(PreTokenizer.LLAMA3), text));
        assertEquals(List.of("Hello", " ", " world", " ", "1", "2", "3", "4", "5", " isn", "'t", "\n\n", " ", " ok", "!!\n"),
                split(List.of(PreTokenizer.QWEN2), text));
        assertEquals(List.of("Hello", " ", " world", " 12345", " isn", "'t", "\n\n ", " ok", "!!", "\n"),
                split(List.of(PreTokenizer.GPT2), text));
    }

    @Test
    void whitespaceIsUnicodeWhiteSpace() {
        // NBSP is \s for llama.cpp; with Java's ASCII \s it would join the punctuation alternative instead.
        assertEquals(List.of("a", "\u00A0", "\u00A0", "b"), split(List.of(PreTokenizer.GPT2), "a\u00A0\u00A0b"));
    }

    @Test
    void laterRegexesOnlyRefineSegments() {
        assertEquals(List.of("a", "  ", "b", "\t", "1", "2", "!"), split(PreTokenizer.CHAMELEON, "a  b\t12!"));
        // FALCON: punctuation runs first, then GPT-2, then digit triples inside GPT-2's number piece.
        assertEquals(List.of("x", "...", " ", "123", "4"), split(PreTokenizer.FALCON, "x... 1234"));
        assertEquals(List.of(), split(PreTokenizer.DEFAULT, ""));
    }

    /** Just enough JSON for the regex file: objects, arrays, strings. */
    private static final class MiniJson {
        private final String s;
        private int i;

        MiniJson(String s) {
            this.s = s;
        }

        Object value() {
            skip();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                skip();
                while (s.charAt(i) != '}') {
                    String k = string();
                    skip();
                    i++; // ':'
                    m.put(k, value());
                    skip();
                    if (s.charAt(i) == ',') {
                        i++;
                        skip();
                    }
                }
                i++;
                return m;
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++;
                skip();
                while (s.charAt(i) != ']') {
                    l.add(value());
                    skip();
                    if (s.charAt(i) == ',') {
                        i++;
                        skip();
                    }
                }
                i++;
                return l;
            }
            return string();
        }

        private String string() {
            skip();
            if (s.charAt(i) != '"') {
                throw new IllegalStateException("unsupported JSON at " + i);
            }
            StringBuilder b = new StringBuilder();
            for (i++; s.charAt(i) != '"'; i++) {
                char c = s.charAt(i);
                if (c == '\\') {
                    char e = s.charAt(++i);
                    switch (e) {
                        case 'n' -> b.append('\n');
                        case 'r' -> b.append('\r');
                        case 't' -> b.append('\t');
                        case 'u' -> {
                            b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                            i += 4;
                        }
                        default -> b.append(e);
                    }
                } else {
                    b.append(c);
                }
            }
            i++;
            return b.toString();
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }
    }
}
