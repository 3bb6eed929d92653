package dev.sieve.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Byte-level BPE ({@code tokenizer.ggml.model = gpt2}), as llama.cpp's llm_tokenizer_bpe: the
 * pre-tokenizer splits the text, each piece's UTF-8 bytes map to GPT-2's byte-level characters,
 * and merges apply lowest rank first within each piece.
 */
final class BpeTokenizer extends BaseTokenizer {
    /** GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 to U+0100 on. */
    static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private final PreTokenizer pre;
    private final boolean ignoreMerges;
    /** Merge rank by "left right", exactly the merges entry. */
    private final Map<String, Integer> ranks;

    BpeTokenizer(Vocab vocab, String[] merges, PreTokenizer.Spec spec) {
        super(vocab);
        this.pre = new PreTokenizer(spec.regexes());
        this.ignoreMerges = spec.ignoreMerges();
        this.ranks = new HashMap<>(merges.length * 2);
        for (int i = 0; i < merges.length; i++) {
            String m = merges[i];
            // llama.cpp splits at the first space after position 0; keep that pair's text as the key.
            int sp = m.indexOf(' ', 1);
            if (sp < 0) {
                throw new IllegalArgumentException("tokenizer.ggml.merges[" + i + "] has no space: '" + m + "'");
            }
            ranks.putIfAbsent(m, i);
        }
        precomputeBytes();
    }

    static String toByteLevel(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        char[] c = new char[b.length];
        for (int i = 0; i < b.length; i++) {
            c[i] = BYTE_TO_CHAR[b[i] & 0xFF];
        }
        return new String(c);
    }

    @Override
    void encodeText(String text, boolean afterSpecial, IntList out) {
        for (String word : pre.split(text)) {
            encodeWord(toByteLevel(word), out);
        }
    }

    /** Merges one byte-level word; every char of it is one symbol to start with. */
    private void encodeWord(String w, IntList out) {
        int n = w.length();
        if (n == 0) {
            return;
        }
        if (ignoreMerges || n == 1) {
            Integer id = vocab.ids.get(w);
            if (id != null) {
                out.add(id);
                return;
            }
        }
        int[] len = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            len[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        BigramHeap heap = new BigramHeap(n);
        for (int i = 1; i < n; i++) {
            addBigram(w, len, i - 1, i, heap);
        }
        while (!heap.isEmpty()) {
            int left = heap.topLeft();
            int right = heap.topRight();
            int size = heap.topSize();
            heap.pop();
            // Symbols start at their index and never move, so equal total length means unchanged text.
            if (len[left] == 0 || len[right] == 0 || len[left] + len[right] != size) {
                continue;
            }
            len[left] += len[right];
            len[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                addBigram(w, len, prev[left], left, heap);
            }
            if (next[left] >= 0) {
                addBigram(w, len, left, next[left], heap);
            }
        }
        for (int i = 0; i >= 0; i = next[i]) {
            String sym = w.substring(i, i + len[i]);
            Integer id = vocab.ids.get(sym);
            if (id != null) {
                out.add(id);
                continue;
            }
            // As llama.cpp: emit the token of each single UTF-8 byte of the symbol that has one.
            for (byte b : sym.getBytes(StandardCharsets.UTF_8)) {
                if (b >= 0) {
                    Integer bid = vocab.ids.get(String.valueOf((char) b));
                    if (bid != null) {
                        out.add(bid);
                    }
                }
            }
        }
    }

    private void addBigram(String w, int[] len, int left, int right, BigramHeap heap) {
        String key = w.substring(left, left + len[left]) + ' ' + w.substring(right, right + len[right]);
        Integer rank = ranks.get(key);
        if (rank != null) {
            heap.push(-rank, left, right, len[left] + len[right]);
        }
    }

    @Override
    byte[] normalTokenBytes(int id) {
        if (vocab.types[id] != Vocab.NORMAL) {
            return new byte[0]; // llama.cpp renders other types (UNUSED, BYTE, ...) as nothing for BPE
        }
        String t = vocab.tokens[id];
        ByteArrayOutputStream out = new ByteArrayOutputStream(t.length());
        for (int i = 0; i < t.length(); ) {
            int cp = t.codePointAt(i);
            int b = cp < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[cp] : -1;
            if (b >= 0) {
                out.write(b);
            } else {
                out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
            }
            i += Character.charCount(cp);
        }
        return out.toByteArray();
    }

    @Override
    boolean stripsLeadingSpace() {
        return false; // byte-level BPE encodes spaces as they are; decode is its exact inverse
    }

    List<String> preTokenize(String text) {
        return pre.split(text);
    }
}
