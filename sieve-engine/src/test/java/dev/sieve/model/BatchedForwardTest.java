package dev.sieve.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.layers.Transformer.BatchEntry;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.model.synth.SyntheticModelWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mixed batch (one sequence's prompt chunk, others' single decode tokens) gives each sequence
 * the logits it gets when run alone: tokens attend only within their own sequence.
 */
class BatchedForwardTest {
    @TempDir Path dir;

    @Test
    void mixedBatchEqualsSequencesRunAlone() throws Exception {
        Path f = dir.resolve("m.gguf");
        try (WorkerPool pool = new WorkerPool(2)) {
            new SyntheticModelWriter(ForwardPassOracleTest.QWEN2, SyntheticModelWriter.TypeMix.parse("F32"), 3)
                    .write(f, pool, (i, n, s) -> {});
            try (Model m = ModelLoader.load(f)) {
                Transformer tf = new Transformer(m.config(), m.weights(), new Linear(KernelProvider.get(), pool), 16);
                int v = m.config().vocabSize();
                int[] a = {1, 20, 30, 40, 50};
                int[] b = {1, 70, 80};
                int[] cTok = {1, 9, 99, 199, 299, 3, 4};
                // Alone: prompts a and b, then one more token each; c's whole prompt.
                float[] la = new float[v], lb = new float[v], lc = new float[v];
                KvCache ca = tf.newCache(32), cb = tf.newCache(32), cc = tf.newCache(32);
                tf.forward(a, 0, a.length, ca, la, 1);
                tf.forward(b, 0, b.length, cb, lb, 1);
                tf.forward(new int[] {11}, 0, 1, ca, la, 1);
                tf.forward(new int[] {12}, 0, 1, cb, lb, 1);
                tf.forward(cTok, 0, cTok.length, cc, lc, 1);
                // Batched: a and b prefilled alone, then one step with both decodes and c's prompt.
                KvCache ba = tf.newCache(32), bb = tf.newCache(32), bc = tf.newCache(32);
                float[] scratch = new float[v];
                tf.forward(a, 0, a.length, ba, scratch, 1);
                tf.forward(b, 0, b.length, bb, scratch, 1);
                float[] out = new float[3 * v];
                tf.forwardBatch(List.of(new BatchEntry(ba, new int[] {11}, 0, 1), new BatchEntry(bc, cTok, 0, cTok.length),
                        new BatchEntry(bb, new int[] {12}, 0, 1)), out);
                assertClose(la, Arrays.copyOfRange(out, 0, v));
                assertClose(lc, Arrays.copyOfRange(out, v, 2 * v));
                assertClose(lb, Arrays.copyOfRange(out, 2 * v, 3 * v));
                assertEquals(a.length + 1, ba.length());
                assertEquals(cTok.length, bc.length());
                // The same cache twice, or too many tokens, is refused.
                assertThrows(IllegalArgumentException.class, () -> tf.forwardBatch(List.of(
                        new BatchEntry(ba, new int[] {1}, 0, 1), new BatchEntry(ba, new int[] {2}, 0, 1)), out));
                assertThrows(IllegalArgumentException.class, () -> tf.forwardBatch(List.of(
                        new BatchEntry(tf.newCache(32), new int[17], 0, 17)), out));
            }
        }
    }

    static void assertClose(float[] want, float[] got) {
        double e = ForwardPassOracleTest.nmse(got, want);
        assertTrue(e < 1e-10, "nmse " + e);
    }
}
