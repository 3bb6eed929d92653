package dev.sieve.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * SentencePiece-style tokenizer ({@code tokenizer.ggml.model = llama}), as llama.cpp's
 * llm_tokenizer_spm: spaces become ▁, adjacent pieces merge greedily by highest vocabulary score,
 * and anything left that is not a token falls back to {@code <0xXX>} byte tokens.
 */
final class SpmTokenizer extends BaseTokenizer {
    private static final char SPACE = '\u2581';

    private final boolean addSpacePrefix;
    private final int[] byteTokens = new int[256];

    SpmTokenizer(Vocab vocab, boolean addSpacePrefix) {
        super(vocab);
        if (vocab.scores == null) {
            throw new IllegalArgumentException("tokenizer.ggml.scores is required for tokenizer.ggml.model 'llama'");
        }
        this.addSpacePrefix = addSpacePrefix;
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.ids.get(String.format("<0x%02X>", b));
            if (id == null) {
                id = vocab.ids.get(String.valueOf((char) b)); // llama.cpp's fallback: the byte as a one-char string
            }
            byteTokens[b] = id != null ? id : vocab.unk;
        }
        precomputeBytes();
    }

    @Override
    void encodeText(String fragment, boolean afterSpecial, IntList out) {
        String text = (addSpacePrefix && afterSpecial ? " " + fragment : fragment).replace(' ', SPACE);
        int nChars = text.length();
        if (nChars == 0) {
            return;
        }
        // One symbol per code point, as a doubly linked list over char offsets of text.
        int[] start = new int[nChars];
        int[] len = new int[nChars];
        int[] prev = new int[nChars];
        int[] next = new int[nChars];
        int n = 0;
        for (int i = 0; i < nChars; ) {
            int cl = Character.charCount(text.codePointAt(i));
            start[n] = i;
            len[n] = cl;
            prev[n] = n - 1;
            next[n] = i + cl < nChars ? n + 1 : -1;
            n++;
            i += cl;
        }
        BigramHeap heap = new BigramHeap(n);
        for (int i = 1; i < n; i++) {
            tryAddBigram(text, start, len, i - 1, i, heap);
        }
        while (!heap.isEmpty()) {
            int left = heap.topLeft();
            int right = heap.topRight();
            int size = heap.topSize();
            heap.pop();
            // Skip bigrams made stale by an earlier merge of either side.
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
                tryAddBigram(text, start, len, prev[left], left, heap);
            }
            if (next[left] >= 0) {
                tryAddBigram(text, start, len, left, next[left], heap);
            }
        }
        for (int i = 0; i >= 0; i = next[i]) {
            String piece = text.substring(start[i], start[i] + len[i]);
            Integer id = vocab.ids.get(piece);
            if (id != null) {
                out.add(id);
            } else {
                // Merged symbols are always tokens, so only unknown single code points get here.
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                    int tok = byteTokens[b & 0xFF];
                    if (tok >= 0) { // a vocab with neither byte tokens nor <unk> drops the byte
                        out.add(tok);
                    }
                }
            }
        }
    }

    private void tryAddBigram(String text, int[] start, int[] len, int left, int right, BigramHeap heap) {
        int size = len[left] + len[right];
        Integer id = vocab.ids.get(text.substring(start[left], start[left] + size));
        if (id != null) {
            heap.push(vocab.scores[id], left, right, size);
        }
    }

    @Override
    byte[] normalTokenBytes(int id) {
        if (vocab.types[id] == Vocab.BYTE) {
            String t = vocab.tokens[id];
            if (t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) {
                return new byte[] {(byte) Integer.parseInt(t.substring(3, 5), 16)};
            }
        }
        if (vocab.types[id] == Vocab.UNUSED || vocab.types[id] == Vocab.UNDEFINED) {
            return new byte[0]; // llama.cpp renders these as nothing
        }
        return vocab.tokens[id].replace(SPACE, ' ').getBytes(StandardCharsets.UTF_8);
    }

    /**
     * SentencePiece decode drops the space the encoder prepended. llama.cpp's detokenize does this
     * only for the very first token; we also do it right after a leading BOS so that
     * decode(encode(x, addSpecial=true, ...)) == x, as SentencePiece's own decode behaves.
     */
    @Override
    boolean stripsLeadingSpace() {
        return addSpacePrefix;
    }
}
