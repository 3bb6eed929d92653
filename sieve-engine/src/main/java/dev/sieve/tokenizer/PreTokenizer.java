package dev.sieve.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * BPE pre-tokenizer: the ordered regex list llama.cpp uses for a {@code tokenizer.ggml.pre} value.
 * The text starts as one segment; each regex refines every segment into its matches and the
 * unmatched gaps between them, so no text is dropped and regexes never see across segments.
 */
final class PreTokenizer {
    // Regex texts as in llama.cpp's llm_tokenizer_bpe (see testdata pre-tokenizer-regexes.json).
    // Patterns compile with UNICODE_CHARACTER_CLASS so \s is Unicode White_Space like llama.cpp's.
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    static final String LLAMA3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN2 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final List<String> DEFAULT = List.of("[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]");
    static final List<String> STARCODER = List.of("\\p{N}", GPT2);
    static final List<String> FALCON = List.of("[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]");
    static final List<String> DEEPSEEK_LLM = List.of(
            "[\r\n]",
            "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
            "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
            "\\s+\\z",
            "[一-龥ࠀ-一가-퟿]+",
            "\\p{N}+");
    static final List<String> DEEPSEEK_CODER = List.of(
            "[\r\n]",
            "\\s?\\p{L}+",
            "\\s?\\p{P}+",
            "[一-龥ࠀ-一가-퟿]+",
            "\\p{N}");
    static final List<String> CHAMELEON = List.of(
            "<sentinel:[0-9]+>",
            "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
            "([\\t\\n]|    |  )",
            "\\p{N}",
            "[\\p{P}!-/:-@\\[-`{-~]",
            GPT2);

    /** The pre-tokenizer and flags one {@code tokenizer.ggml.pre} value selects. */
    record Spec(List<String> regexes, boolean ignoreMerges, boolean addBos) {}

    private static final Spec GPT2_SPEC = new Spec(List.of(GPT2), false, false);
    private static final Spec STARCODER_SPEC = new Spec(STARCODER, false, false);
    private static final Spec LLAMA3_SPEC = new Spec(List.of(LLAMA3), true, true);
    private static final Spec QWEN2_SPEC = new Spec(List.of(QWEN2), false, false);

    /** Pre values whose regex lists are implemented; names and aliases as llama.cpp accepts them. */
    static final Map<String, Spec> SPECS = Map.ofEntries(
            Map.entry("default", new Spec(DEFAULT, false, false)),
            Map.entry("gpt-2", GPT2_SPEC),
            Map.entry("phi-2", GPT2_SPEC),
            Map.entry("roberta-bpe", GPT2_SPEC),
            Map.entry("jina-es", GPT2_SPEC),
            Map.entry("jina-de", GPT2_SPEC),
            Map.entry("jina-v1-en", GPT2_SPEC),
            Map.entry("jina-v2-es", GPT2_SPEC),
            Map.entry("jina-v2-de", GPT2_SPEC),
            Map.entry("jina-v2-code", GPT2_SPEC),
            Map.entry("gigachat", GPT2_SPEC),
            Map.entry("mpt", GPT2_SPEC),
            Map.entry("starcoder", STARCODER_SPEC),
            Map.entry("refact", STARCODER_SPEC),
            Map.entry("command-r", STARCODER_SPEC),
            Map.entry("smollm", STARCODER_SPEC),
            Map.entry("codeshell", STARCODER_SPEC),
            Map.entry("exaone", STARCODER_SPEC),
            Map.entry("minerva-7b", STARCODER_SPEC),
            Map.entry("falcon", new Spec(FALCON, false, false)),
            Map.entry("deepseek-llm", new Spec(DEEPSEEK_LLM, false, false)),
            Map.entry("deepseek-coder", new Spec(DEEPSEEK_CODER, false, false)),
            Map.entry("llama-bpe", LLAMA3_SPEC),
            Map.entry("llama3", LLAMA3_SPEC),
            Map.entry("llama-v3", LLAMA3_SPEC),
            Map.entry("falcon3", LLAMA3_SPEC),
            Map.entry("dbrx", new Spec(List.of(LLAMA3), false, false)),
            Map.entry("smaug-bpe", new Spec(List.of(LLAMA3), false, false)),
            Map.entry("qwen2", QWEN2_SPEC),
            Map.entry("deepseek-r1-qwen", QWEN2_SPEC),
            Map.entry("megrez", QWEN2_SPEC),
            Map.entry("stablelm2", QWEN2_SPEC),
            Map.entry("chameleon", new Spec(CHAMELEON, false, true)));

    private final Pattern[] patterns;

    PreTokenizer(List<String> regexes) {
        patterns = new Pattern[regexes.size()];
        for (int i = 0; i < patterns.length; i++) {
            patterns[i] = Pattern.compile(regexes.get(i), Pattern.UNICODE_CHARACTER_CLASS);
        }
    }

    /** Splits text into pre-tokens (the concatenation of the result is the text). */
    List<String> split(String text) {
        // Segments as [start, end) pairs of char offsets.
        int[] seg = {0, text.length()};
        int nSeg = text.isEmpty() ? 0 : 1;
        for (Pattern p : patterns) {
            Matcher m = p.matcher(text); // default region bounds: opaque and anchoring, so each segment is its own input
            int[] out = new int[Math.max(8, nSeg * 4)];
            int nOut = 0;
            for (int s = 0; s < nSeg; s++) {
                int a = seg[2 * s], b = seg[2 * s + 1];
                m.region(a, b);
                int pos = a;
                while (m.find()) {
                    if (m.end() == m.start()) {
                        continue; // empty matches add no segment
                    }
                    if (2 * nOut + 4 > out.length) {
                        out = java.util.Arrays.copyOf(out, out.length * 2);
                    }
                    if (m.start() > pos) {
                        out[2 * nOut] = pos;
                        out[2 * nOut + 1] = m.start();
                        nOut++;
                    }
                    out[2 * nOut] = m.start();
                    out[2 * nOut + 1] = m.end();
                    nOut++;
                    pos = m.end();
                }
                if (pos < b) {
                    if (2 * nOut + 2 > out.length) {
                        out = java.util.Arrays.copyOf(out, out.length * 2);
                    }
                    out[2 * nOut] = pos;
                    out[2 * nOut + 1] = b;
                    nOut++;
                }
            }
            seg = out;
            nSeg = nOut;
        }
        List<String> words = new ArrayList<>(nSeg);
        for (int s = 0; s < nSeg; s++) {
            words.add(text.substring(seg[2 * s], seg[2 * s + 1]));
        }
        return words;
    }
}
