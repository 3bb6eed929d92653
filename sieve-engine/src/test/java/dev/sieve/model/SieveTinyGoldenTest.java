package dev.sieve.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.testkit.TestData;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Greedy continuations of sieve-tiny reproduce llama.cpp's reference token ids (from
 * ../shared/testdata/models/README.md) exactly, in F32 and F16.
 */
class SieveTinyGoldenTest {

    static final int[] PROMPT_INTERPRETER = {1, 394, 437, 1221};
    static final int[] GOLDEN_INTERPRETER = {296, 13, 259, 268, 437, 1221, 4026, 13, 13, 259, 394, 437, 1221, 296, 263, 437,
        402, 371, 296, 263, 437, 402, 4026, 13, 259, 673, 296, 263, 437, 402, 371, 296, 263, 437, 402, 4026, 13, 13, 259,
        394, 437, 402, 296, 263, 437, 402, 371, 296};
    static final int[] PROMPT_LIST = {1, 1503, 1143, 263, 569};
    static final int[] GOLDEN_LIST = {304, 268, 569, 304, 268, 569, 4030, 13, 259, 308, 268, 569, 304, 268, 569, 4026, 259,
        454, 569, 296, 502, 293, 268, 569, 304, 268, 569, 13, 259, 304, 268, 569, 4026, 259, 454, 569, 296, 502, 293, 268,
        569, 304, 268, 569, 4026, 13, 13, 259};
    static final int[] PROMPT_OS = {1, 615, 1144};
    static final int[] GOLDEN_OS = {13, 259, 615, 1144, 13, 13, 259, 615, 1144, 13, 13, 259, 615, 1144, 13, 13, 259, 615, 1144,
        13, 13, 259, 615, 1144, 13, 13, 259, 615, 1144, 13, 13, 259, 615, 1144, 13, 13, 259, 615, 1144, 13, 13, 259, 1097,
        1144, 13, 13, 259, 1097};

    static int[] greedy(String encoding, int[] prompt, int n) throws Exception {
        try (Model m = ModelLoader.load(TestData.model(encoding)); WorkerPool pool = new WorkerPool(2)) {
            Transformer tf = new Transformer(m.config(), m.weights(), new Linear(KernelProvider.get(), pool), 64);
            KvCache cache = tf.newCache(m.config().contextLength());
            float[] logits = new float[m.config().vocabSize()];
            int[] out = new int[n];
            tf.forward(prompt, 0, prompt.length, cache, logits, 1);
            for (int i = 0; i < n; i++) {
                out[i] = argmax(logits);
                tf.forward(out, i, 1, cache, logits, 1);
            }
            return out;
        }
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"F32, interpreter", "F32, list", "F32, os", "F16, interpreter", "F16, list", "F16, os"})
    void greedyMatchesLlamaCpp(String encoding, String prompt) throws Exception {
        int[] p;
        int[] golden;
        switch (prompt) {
            case "interpreter" -> { p = PROMPT_INTERPRETER; golden = GOLDEN_INTERPRETER; }
            case "list" -> { p = PROMPT_LIST; golden = GOLDEN_LIST; }
            default -> { p = PROMPT_OS; golden = GOLDEN_OS; }
        }
        int[] got = greedy(encoding, p, golden.length);
        assertArrayEquals(golden, got, () -> "got " + Arrays.toString(got));
    }
}
