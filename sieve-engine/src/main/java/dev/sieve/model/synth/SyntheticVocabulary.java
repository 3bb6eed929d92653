package dev.sieve.model.synth;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * A SentencePiece-style vocabulary made up for synthetic models: {@code <unk> <s> </s>}, the 256
 * byte-fallback tokens, then letter strings by increasing length (with and without the {@code ▁}
 * word prefix), scored so shorter pieces merge first. Every substring of a piece is itself a
 * piece, so SPM's pairwise merges reach every entry, and byte fallback makes any text encodable.
 */
public final class SyntheticVocabulary {
    static final String ALPHABET = "etaoinshrdlcumwfgypbvkjxqz";
    private static final String PUNCT = ".,:;!?'\"()[]{}-_=+*/\\<>@#$%^&|~`0123456789";

    public final String[] tokens;
    public final float[] scores;
    public final int[] types;

    public SyntheticVocabulary(int size) {
        if (size < 259 + ALPHABET.length() * 2) {
            throw new IllegalArgumentException("a synthetic vocabulary needs at least 311 tokens, asked " + size);
        }
        LinkedHashSet<String> pieces = new LinkedHashSet<>();
        pieces.add("▁");
        for (char ch : (ALPHABET + ALPHABET.toUpperCase() + PUNCT).toCharArray()) {
            pieces.add(String.valueOf(ch));
            pieces.add("▁" + ch);
        }
        List<String> level = new ArrayList<>();
        for (char ch : ALPHABET.toCharArray()) {
            level.add(String.valueOf(ch));
        }
        int normal = size - 259;
        while (pieces.size() < normal) {
            List<String> next = new ArrayList<>();
            outer:
            for (String s : level) {
                for (char ch : ALPHABET.toCharArray()) {
                    String t = s + ch;
                    next.add(t);
                    pieces.add(t);
                    if (pieces.size() >= normal) {
                        break outer;
                    }
                    pieces.add("▁" + t);
                    if (pieces.size() >= normal) {
                        break outer;
                    }
                }
            }
            level = next;
        }
        tokens = new String[size];
        scores = new float[size];
        types = new int[size];
        tokens[0] = "<unk>";
        types[0] = 2;
        tokens[1] = "<s>";
        types[1] = 3;
        tokens[2] = "</s>";
        types[2] = 3;
        for (int b = 0; b < 256; b++) {
            tokens[3 + b] = String.format("<0x%02X>", b);
            types[3 + b] = 6;
        }
        int i = 259;
        for (String p : pieces) {
            if (i >= size) {
                break;
            }
            tokens[i] = p;
            scores[i] = -(i - 259);
            types[i] = 1;
            i++;
        }
    }
}
