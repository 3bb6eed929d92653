package dev.sieve.tokenizer;

import dev.sieve.io.gguf.GgufMetadata;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The parts of a GGUF vocabulary every tokenizer type shares: token strings, types, special ids. */
final class Vocab {
    static final int UNDEFINED = 0, NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

    /** Texts that mark end of a turn; llama.cpp treats these as end-of-generation when present. */
    private static final Set<String> EOG_TEXTS = Set.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
            "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<|end_of_text|>");

    final String[] tokens;
    final int[] types;
    final float[] scores; // null when the file has none (BPE, WPM)
    final Map<String, Integer> ids;
    final int bos, eos, unk, sep;
    final boolean addBos, addEos;
    /** CONTROL, UNKNOWN and USER_DEFINED ids, longest text (in UTF-8 bytes) first, as llama.cpp matches them. */
    final int[] specials;
    final boolean[] eog;

    /**
     * @param defaultBos llama.cpp's per-model default when the key is absent
     * @param defaultAddBos whether BOS is added when {@code add_bos_token} is absent
     */
    Vocab(GgufMetadata m, int defaultBos, int defaultEos, int defaultUnk, int defaultSep, boolean defaultAddBos) {
        tokens = m.getStrings("tokenizer.ggml.tokens");
        int n = tokens.length;
        if (m.has("tokenizer.ggml.token_type")) {
            types = m.getInts("tokenizer.ggml.token_type");
            if (types.length != n) {
                throw new IllegalArgumentException("tokenizer.ggml.token_type has " + types.length + " entries, tokens has " + n);
            }
        } else {
            types = new int[n];
            java.util.Arrays.fill(types, NORMAL);
        }
        scores = m.has("tokenizer.ggml.scores") ? m.getFloats("tokenizer.ggml.scores") : null;
        ids = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            ids.put(tokens[i], i); // later duplicates win, as in llama.cpp's token_to_id
        }
        bos = validId(m.getInt("tokenizer.ggml.bos_token_id", m.getInt("tokenizer.ggml.cls_token_id", defaultBos)), n);
        eos = validId(m.getInt("tokenizer.ggml.eos_token_id", defaultEos), n);
        unk = validId(m.getInt("tokenizer.ggml.unknown_token_id", defaultUnk), n);
        sep = validId(m.getInt("tokenizer.ggml.seperator_token_id", defaultSep), n); // sic: llama.cpp's key spelling
        addBos = m.getBool("tokenizer.ggml.add_bos_token", defaultAddBos);
        addEos = m.getBool("tokenizer.ggml.add_eos_token", false);

        List<Integer> sp = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if ((types[i] == CONTROL || types[i] == UNKNOWN || types[i] == USER_DEFINED) && !tokens[i].isEmpty()) {
                sp.add(i);
            }
        }
        sp.sort(Comparator.comparingInt((Integer i) -> -tokens[i].getBytes(StandardCharsets.UTF_8).length)
                .thenComparingInt(i -> i));
        specials = sp.stream().mapToInt(Integer::intValue).toArray();

        eog = new boolean[n];
        for (String key : new String[] {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
            int id = validId(m.getInt(key, -1), n);
            if (id >= 0) {
                eog[id] = true;
            }
        }
        if (eos >= 0) {
            eog[eos] = true;
        }
        for (int i = 0; i < n; i++) {
            if ((types[i] == CONTROL || types[i] == USER_DEFINED) && EOG_TEXTS.contains(tokens[i])) {
                eog[i] = true;
            }
        }
    }

    private static int validId(int id, int n) {
        return id >= 0 && id < n ? id : -1;
    }

    int type(int id) {
        return types[id];
    }
}
