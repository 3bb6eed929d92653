package dev.sieve.compress.pipeline;

import dev.sieve.tokenizer.Tokenizer;

/**
 * Calibration sequences: the text's tokens cut into {@code count} consecutive sequences of
 * {@code length} tokens, each starting with BOS when the model adds one (as evaluation chunks do),
 * so the statistics come from the inputs the model sees in use.
 */
public final class Calibration {
    private Calibration() {}

    public static int[][] sequences(Tokenizer tok, String text, int count, int length) {
        if (count < 1 || length < 2) {
            throw new RecipeException("calibration needs ≥ 1 sequence of ≥ 2 tokens, got " + count + " × " + length);
        }
        int[] ids = tok.encode(text, false, false);
        boolean bos = tok.addsBos();
        int body = bos ? length - 1 : length;
        int available = ids.length / body;
        if (available < count) {
            throw new RecipeException("calibration text has " + ids.length + " tokens: enough for " + available
                    + " sequences of " + length + ", " + count + " asked (use more text, or fewer/shorter sequences)");
        }
        int[][] out = new int[count][length];
        for (int s = 0; s < count; s++) {
            int o = 0;
            if (bos) {
                out[s][o++] = tok.bos();
            }
            System.arraycopy(ids, s * body, out[s], o, body);
        }
        return out;
    }
}
