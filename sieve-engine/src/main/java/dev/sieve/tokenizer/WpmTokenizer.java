package dev.sieve.tokenizer;

import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;

/**
 * WordPiece ({@code tokenizer.ggml.model = bert}), as llama.cpp's llm_tokenizer_wpm. The GGUF stores
 * word-initial pieces with a ▁ prefix and continuation pieces without BERT's {@code ##}.
 */
final class WpmTokenizer extends BaseTokenizer {
    private static final String SPACE = "\u2581";

    private final int maxTokenLen; // in code points

    WpmTokenizer(Vocab vocab) {
        super(vocab);
        int max = 1;
        for (String t : vocab.tokens) {
            max = Math.max(max, t.codePointCount(0, t.length()));
        }
        maxTokenLen = max;
        precomputeBytes();
    }

    @Override
    void encodeText(String text, boolean afterSpecial, IntList out) {
        for (String word : preprocess(text)) {
            String w = SPACE + word;
            int[] cps = w.codePoints().toArray();
            int n = cps.length;
            int before = out.size();
            // Greedy longest match from each position; one unmatched position voids the whole word.
            for (int i = 0; i < n; ) {
                int matchEnd = -1;
                for (int j = Math.min(n, i + maxTokenLen); j > i; j--) {
                    Integer id = vocab.ids.get(new String(cps, i, j - i));
                    if (id != null) {
                        out.add(id);
                        matchEnd = j;
                        break;
                    }
                }
                if (matchEnd < 0) {
                    out.truncate(before);
                    break;
                }
                i = matchEnd;
            }
            if (out.size() == before && vocab.unk >= 0) {
                out.add(vocab.unk);
            }
        }
    }

    /**
     * llama.cpp's one-to-one "NFD" (first code point of the canonical decomposition), lowercase,
     * split on whitespace, punctuation / ASCII symbols / CJK as single-character words, and control
     * characters, U+0000 and U+FFFD dropped.
     */
    static List<String> preprocess(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            cp = firstOfNfd(cp);
            if (isWhitespace(cp)) {
                flush(words, cur);
                continue;
            }
            int type = Character.getType(cp);
            if (cp == 0 || cp == 0xFFFD || type == Character.CONTROL || type == Character.FORMAT
                    || type == Character.PRIVATE_USE || type == Character.SURROGATE) {
                continue;
            }
            int lower = Character.toLowerCase(cp);
            if (isPunctuation(type) || (cp < 0x7F && isSymbol(type)) || isChinese(cp)) {
                flush(words, cur);
                words.add(new String(Character.toChars(lower)));
            } else {
                cur.appendCodePoint(lower);
            }
        }
        flush(words, cur);
        return words;
    }

    private static void flush(List<String> words, StringBuilder cur) {
        if (!cur.isEmpty()) {
            words.add(cur.toString());
            cur.setLength(0);
        }
    }

    private static int firstOfNfd(int cp) {
        if (cp < 0xC0) {
            return cp; // nothing below U+00C0 decomposes
        }
        String s = new String(Character.toChars(cp));
        return Normalizer.normalize(s, Normalizer.Form.NFD).codePointAt(0);
    }

    static boolean isWhitespace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
                || cp == 0x205F || cp == 0x3000;
    }

    private static boolean isPunctuation(int type) {
        return type == Character.CONNECTOR_PUNCTUATION || type == Character.DASH_PUNCTUATION
                || type == Character.START_PUNCTUATION || type == Character.END_PUNCTUATION
                || type == Character.INITIAL_QUOTE_PUNCTUATION || type == Character.FINAL_QUOTE_PUNCTUATION
                || type == Character.OTHER_PUNCTUATION;
    }

    private static boolean isSymbol(int type) {
        return type == Character.MATH_SYMBOL || type == Character.CURRENCY_SYMBOL
                || type == Character.MODIFIER_SYMBOL || type == Character.OTHER_SYMBOL;
    }

    /** The CJK ranges of BERT's _is_chinese_char. */
    private static boolean isChinese(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B920 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    @Override
    void appendEnd(IntList out) {
        if (vocab.sep >= 0) {
            out.add(vocab.sep); // llama.cpp always appends [SEP] with add_special
        }
    }

    @Override
    byte[] normalTokenBytes(int id) {
        if (vocab.types[id] != Vocab.NORMAL) {
            return new byte[0];
        }
        return vocab.tokens[id].replace(SPACE, " ").getBytes(StandardCharsets.UTF_8);
    }

    /** Word-initial pieces carry ▁; the first word of a text gets no space before it. */
    @Override
    boolean stripsLeadingSpace() {
        return true;
    }
}
