package dev.sieve.tokenizer.chat;

/**
 * Applies jinja2's whitespace-control markers before Jinjava sees the template. Jinjava 2.8
 * honours {@code {%-} but not {@code {{-}/{@code -}}}, and HF templates (Llama 3.1, Qwen2.5,
 * Mistral) indent every line and rely on {@code {{-} to eat the indentation. This pass removes
 * the whitespace next to every {@code -} marker, drops the markers, and removes comments with
 * jinja2's lstrip_blocks/trim_blocks treatment (comments count as blocks there). Tag bodies are
 * copied verbatim; string literals inside tags are skipped so a {@code "}}"} in a string does
 * not end a tag.
 */
final class WhitespaceControl {
    private WhitespaceControl() {}

    static String apply(String src) {
        StringBuilder out = new StringBuilder(src.length());
        int i = 0;
        int n = src.length();
        boolean trimNext = false;
        while (i < n) {
            int open = nextTag(src, i);
            String text = src.substring(i, open < 0 ? n : open);
            if (trimNext) {
                text = stripLeading(text);
                trimNext = false;
            }
            out.append(text);
            if (open < 0) {
                break;
            }
            char kind = src.charAt(open + 1); // '{', '%' or '#'
            String close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
            int bodyStart = open + 2;
            boolean leftTrim = bodyStart < n && src.charAt(bodyStart) == '-';
            int end = kind == '#' ? src.indexOf(close, bodyStart) : findClose(src, bodyStart, close);
            if (end < 0) {
                throw new ChatTemplateException("unclosed '" + src.substring(open, open + 2) + "' at offset " + open);
            }
            boolean rightTrim = end > bodyStart && src.charAt(end - 1) == '-' && (end - 1) >= bodyStart + (leftTrim ? 1 : 0);
            if (leftTrim) {
                stripTrailing(out);
            }
            String body = src.substring(bodyStart + (leftTrim ? 1 : 0), rightTrim ? end - 1 : end);
            i = end + 2;
            if (kind == '#') {
                if (!leftTrim) {
                    lstripLine(out); // lstrip_blocks
                }
                if (!rightTrim && i < n && src.charAt(i) == '\n') {
                    i++; // trim_blocks
                }
            } else {
                out.append('{').append(kind).append(body).append(close.charAt(0)).append('}');
            }
            trimNext = rightTrim;
        }
        return out.toString();
    }

    private static int nextTag(String s, int from) {
        for (int k = s.indexOf('{', from); k >= 0 && k + 1 < s.length(); k = s.indexOf('{', k + 1)) {
            char c = s.charAt(k + 1);
            if (c == '{' || c == '%' || c == '#') {
                return k;
            }
        }
        return -1;
    }

    private static int findClose(String s, int from, String close) {
        int k = from;
        while (k < s.length() - 1) {
            char c = s.charAt(k);
            if (c == '\'' || c == '"') {
                k++;
                while (k < s.length() && s.charAt(k) != c) {
                    if (s.charAt(k) == '\\') {
                        k++;
                    }
                    k++;
                }
                k++;
                continue;
            }
            if (s.startsWith(close, k)) {
                return k;
            }
            k++;
        }
        return -1;
    }

    private static String stripLeading(String s) {
        int k = 0;
        while (k < s.length() && Character.isWhitespace(s.charAt(k))) {
            k++;
        }
        return s.substring(k);
    }

    private static void stripTrailing(StringBuilder b) {
        int k = b.length();
        while (k > 0 && Character.isWhitespace(b.charAt(k - 1))) {
            k--;
        }
        b.setLength(k);
    }

    /** Removes spaces/tabs back to the start of the line when only those precede the tag. */
    private static void lstripLine(StringBuilder b) {
        int k = b.length();
        while (k > 0 && (b.charAt(k - 1) == ' ' || b.charAt(k - 1) == '\t')) {
            k--;
        }
        if (k == 0 || b.charAt(k - 1) == '\n') {
            b.setLength(k);
        }
    }
}
