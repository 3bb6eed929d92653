package dev.sieve.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What the three tokenizer types share: cutting special tokens out of the text, adding BOS/EOS,
 * and decoding from per-token bytes.
 */
abstract class BaseTokenizer implements Tokenizer {
    /** A piece of the input: either raw text to tokenize or an already-resolved special token. */
    record Fragment(String text, int token) {
        boolean isToken() {
            return token >= 0;
        }
    }

    final Vocab vocab;
    /** Bytes each token contributes to decoded text, computed once. */
    private final byte[][] bytes;

    BaseTokenizer(Vocab vocab) {
        this.vocab = vocab;
        this.bytes = new byte[vocab.tokens.length][];
    }

    /** Tokenizes one raw-text fragment. {@code afterSpecial}: it starts the input or follows a special token. */
    abstract void encodeText(String text, boolean afterSpecial, IntList out);

    /** Computes the bytes of a NORMAL-like token (not CONTROL, UNKNOWN or USER_DEFINED). */
    abstract byte[] normalTokenBytes(int id);

    /** Whether decode drops one leading space of the first token (the space the encoder prepended). */
    abstract boolean stripsLeadingSpace();

    /** Appends the end-of-sequence specials when {@code addSpecial} is set. */
    void appendEnd(IntList out) {
        if (vocab.addEos && vocab.eos >= 0) {
            out.add(vocab.eos);
        }
    }

    @Override
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        IntList out = new IntList(text.length() / 3 + 4);
        if (addSpecial && addsBos() && vocab.bos >= 0) {
            out.add(vocab.bos);
        }
        boolean afterSpecial = true;
        for (Fragment f : partition(text, parseSpecial)) {
            if (f.isToken()) {
                out.add(f.token());
                afterSpecial = true;
            } else {
                encodeText(f.text(), afterSpecial, out);
                afterSpecial = false;
            }
        }
        if (addSpecial) {
            appendEnd(out);
        }
        return out.toArray();
    }

    /**
     * Cuts special tokens out of the text, longest first, as llama.cpp's tokenizer_st_partition does.
     * USER_DEFINED tokens are always cut out; CONTROL and UNKNOWN tokens only with parseSpecial.
     */
    List<Fragment> partition(String text, boolean parseSpecial) {
        List<Fragment> frags = new ArrayList<>();
        if (text.isEmpty()) {
            return frags; // llama.cpp produces no fragment (so no SPM space prefix) for empty text
        }
        frags.add(new Fragment(text, -1));
        for (int id : vocab.specials) {
            if (!parseSpecial && vocab.types[id] != Vocab.USER_DEFINED) {
                continue;
            }
            String s = vocab.tokens[id];
            List<Fragment> next = null;
            for (int k = 0; k < frags.size(); k++) {
                Fragment f = frags.get(k);
                int at = f.isToken() ? -1 : f.text().indexOf(s);
                if (at < 0) {
                    if (next != null) {
                        next.add(f);
                    }
                    continue;
                }
                if (next == null) {
                    next = new ArrayList<>(frags.subList(0, k));
                }
                String t = f.text();
                int pos = 0;
                while (at >= 0) {
                    if (at > pos) {
                        next.add(new Fragment(t.substring(pos, at), -1));
                    }
                    next.add(new Fragment(null, id));
                    pos = at + s.length();
                    at = t.indexOf(s, pos);
                }
                if (pos < t.length()) {
                    next.add(new Fragment(t.substring(pos), -1));
                }
            }
            if (next != null) {
                frags = next;
            }
        }
        return frags;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean atStart = true;
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            byte[] b = bytesOf(id);
            if (atStart && i == 0 && id == vocab.bos && b.length == 0) {
                continue; // a leading BOS keeps the next token at the start of the text
            }
            if (atStart && stripsLeadingSpace() && b.length > 0 && b[0] == ' ') {
                out.write(b, 1, b.length - 1);
            } else {
                out.writeBytes(b);
            }
            atStart = false;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public String piece(int id) {
        return vocab.tokens[id];
    }

    /** Fills the per-token byte table; subclasses call it last in their constructor. */
    final void precomputeBytes() {
        for (int id = 0; id < bytes.length; id++) {
            bytes[id] = switch (vocab.types[id]) {
                case Vocab.CONTROL, Vocab.UNKNOWN -> new byte[0];
                case Vocab.USER_DEFINED -> vocab.tokens[id].getBytes(StandardCharsets.UTF_8);
                default -> normalTokenBytes(id);
            };
        }
    }

    @Override
    public byte[] tokenBytes(int id) {
        return bytes[id].clone(); // callers may not change the shared table
    }

    /** tokenBytes without the defensive copy, for decode. */
    final byte[] bytesOf(int id) {
        return bytes[id];
    }

    @Override
    public int vocabSize() {
        return vocab.tokens.length;
    }

    @Override
    public int bos() {
        return vocab.bos;
    }

    @Override
    public int eos() {
        return vocab.eos;
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return id >= 0 && id < vocab.eog.length && vocab.eog[id];
    }

    @Override
    public boolean addsBos() {
        return vocab.addBos;
    }
}
