package dev.sieve.model.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.Q4_KEncoding;
import dev.sieve.core.quant.Q4_KRepackedEncoding;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.kernel.panama.PanamaKernels;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.Transformer;
import dev.sieve.testkit.TestData;
import dev.sieve.tokenizer.Tokenizers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Converting weights at load ({@link ModelLoader#relayout}) changes where and how they are stored,
 * not what they are: sieve-tiny Q4_K_M (llama.cpp's file: 25 Q4_K and 5 Q6_K matrices) under the
 * 256-bit kernels, which prefer Q4_K_R.
 */
class RelayoutTest {
    /** The 256-bit kernels in their reproducible copy: sums in one order, before and after C2 compiles them. */
    static final Kernels K256 = PanamaKernels.create(256, false, true);

    @Test
    void everyMatrixKeepsItsValuesAndOnlyQ4_KChangesEncoding() throws Exception {
        try (Model file = ModelLoader.load(TestData.model("Q4_K_M")); WorkerPool pool = new WorkerPool(2)) {
            Model m = ModelLoader.relayout(file, K256, pool);
            assertNotSame(file, m);
            List<Tensor> before = file.weights().matrices(), after = m.weights().matrices();
            assertEquals(before.size(), after.size());
            int repacked = 0;
            for (int i = 0; i < before.size(); i++) {
                Tensor a = before.get(i), b = after.get(i);
                boolean embedding = i == 0; // the token embedding stays as stored (not tied here)
                assertEquals(embedding || a.encoding() != Q4_KEncoding.INSTANCE ? a.encoding() : Q4_KRepackedEncoding.INSTANCE,
                        b.encoding(), a.name());
                repacked += b.encoding() == Q4_KRepackedEncoding.INSTANCE ? 1 : 0;
                float[] x = new float[a.cols()], y = new float[b.cols()];
                for (int r = 0; r < a.rows(); r++) {
                    a.dequantizeRow(r, x, 0);
                    b.dequantizeRow(r, y, 0);
                    assertArrayEquals(x, y, a.name() + " row " + r);
                }
            }
            assertEquals(24, repacked, "the 25 Q4_K matrices but the token embedding");
        }
    }

    /**
     * A prompt (the float tiles) gives the same logits bit for bit: the tiles decode Q4_K_R to the
     * same floats as Q4_K and multiply them in the same order. Decoding one token at a time (the
     * 16-bit path against Q8_0 activations, where Q4_K's decoder keeps float activations) stays close:
     * teacher-forced over 48 tokens of eval.txt, the same top token at every step, and the logits'
     * relative difference under a fifth of what the 4-bit weights cost against F32.
     */
    @Test
    void logitsMatchTheFileLayout() throws Exception {
        String text = Files.readString(TestData.file("models/eval.txt"), StandardCharsets.UTF_8);
        try (Model file = ModelLoader.load(TestData.model("Q4_K_M")); Model f32 = ModelLoader.load(TestData.model("F32"));
                WorkerPool pool = new WorkerPool(2)) {
            Model m = ModelLoader.relayout(file, K256, pool);
            int[] tokens = java.util.Arrays.copyOf(Tokenizers.fromGguf(file.metadata()).encode(text, true, false), 64);
            Linear linear = new Linear(K256, pool);
            Transformer tf = new Transformer(file.config(), file.weights(), linear, 16);
            Transformer tr = new Transformer(m.config(), m.weights(), linear, 16);
            Transformer t32 = new Transformer(f32.config(), f32.weights(), linear, 16);
            int vocab = file.config().vocabSize();
            float[] la = new float[16 * vocab], lb = new float[16 * vocab], lf = new float[16 * vocab];
            KvCache ca = tf.newCache(64), cb = tr.newCache(64), cf = t32.newCache(64);
            t32.forward(tokens, 0, 16, cf, lf, 1);
            tf.forward(tokens, 0, 16, ca, la, 16);
            tr.forward(tokens, 0, 16, cb, lb, 16);
            assertArrayEquals(la, lb, "prompt logits");
            double err = 0, quant = 0, norm = 0;
            for (int i = 16; i < tokens.length; i++) {
                tf.forward(tokens, i, 1, ca, la, 1);
                tr.forward(tokens, i, 1, cb, lb, 1);
                t32.forward(tokens, i, 1, cf, lf, 1);
                assertEquals(argmax(la, vocab), argmax(lb, vocab), "top token after position " + i);
                for (int v = 0; v < vocab; v++) {
                    err += (la[v] - lb[v]) * (double) (la[v] - lb[v]);
                    quant += (la[v] - lf[v]) * (double) (la[v] - lf[v]);
                    norm += lf[v] * (double) lf[v];
                }
            }
            double rel = Math.sqrt(err / norm), relQuant = Math.sqrt(quant / norm);
            System.out.printf("decode logits, relative error: Q4_K_R against Q4_K %.2e, Q4_K against F32 %.2e%n", rel, relQuant);
            assertTrue(rel < relQuant / 5, "Q4_K_R against Q4_K " + rel + ", Q4_K against F32 " + relQuant);
        }
    }

    @Test
    void nothingChangesWhereTheKernelsPreferTheFileLayout() throws Exception {
        try (Model file = ModelLoader.load(TestData.model("Q4_K_M")); WorkerPool pool = new WorkerPool(1)) {
            assertSame(file, ModelLoader.relayout(file, ScalarKernels.INSTANCE, pool));
            assertSame(file, ModelLoader.relayout(file, PanamaKernels.create(512), pool)); // Q4_K's float decoder there
        }
        try (Model file = ModelLoader.load(TestData.model("Q4_0")); WorkerPool pool = new WorkerPool(1)) {
            assertSame(file, ModelLoader.relayout(file, K256, pool));
        }
    }

    static int argmax(float[] a, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }
}
