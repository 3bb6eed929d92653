package dev.sieve.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.eval.Perplexity;
import dev.sieve.model.layers.EvictionPolicy;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.KvEncoding;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.model.synth.ModelShape;
import dev.sieve.model.synth.SyntheticModelWriter;
import dev.sieve.runtime.engine.GenerationResult;
import dev.sieve.runtime.engine.Session;
import dev.sieve.runtime.engine.StopReason;
import dev.sieve.runtime.sample.SamplingParams;
import dev.sieve.tokenizer.Tokenizer;
import dev.sieve.tokenizer.Tokenizers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bounded caches (H2O heavy hitters, StreamingLLM window): the selection against a brute-force
 * reference, the accumulated attention against its invariants, the compacted cache against a re-run
 * over the kept tokens, and the budget as a hard bound in generation and evaluation.
 */
class EvictionPolicyTest {
    @TempDir Path dir;

    /** Kept iff a sink, in the window, or fewer than `heavy` middle positions beat it (more attention, or as much and earlier). */
    static int[] reference(float[] a, int len, int sinks, int recent, int keep) {
        if (keep >= len) {
            return IntStream.range(0, len).toArray();
        }
        int s = Math.min(sinks, keep);
        int r = Math.min(recent, keep - s);
        int heavy = keep - s - r;
        List<Integer> kept = new ArrayList<>();
        for (int p = 0; p < len; p++) {
            if (p < s || p >= len - r) {
                kept.add(p);
                continue;
            }
            int better = 0;
            for (int o = s; o < len - r; o++) {
                if (a[o] > a[p] || a[o] == a[p] && o < p) {
                    better++;
                }
            }
            if (better < heavy) {
                kept.add(p);
            }
        }
        return kept.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void selectionMatchesABruteForceReference() {
        SplittableRandom r = new SplittableRandom(1);
        for (int trial = 0; trial < 2000; trial++) {
            int len = 1 + r.nextInt(60);
            float[] a = new float[len];
            for (int p = 0; p < len; p++) {
                a[p] = r.nextInt(trial % 2 == 0 ? 4 : 1000); // many ties in half the trials
            }
            int sinks = r.nextInt(6);
            int recent = 1 + r.nextInt(20);
            int keep = 1 + r.nextInt(len + 3);
            int[] got = EvictionPolicy.select(a, len, sinks, recent, keep);
            assertArrayEquals(reference(a, len, sinks, recent, keep), got,
                    "len " + len + " sinks " + sinks + " recent " + recent + " keep " + keep);
            assertEquals(Math.min(keep, len), got.length);
        }
    }

    private Model model(ModelShape shape, String types, long seed, WorkerPool pool) throws Exception {
        Path f = dir.resolve(shape.name() + "-" + seed + ".gguf");
        new SyntheticModelWriter(shape, SyntheticModelWriter.TypeMix.parse(types), seed).write(f, pool, (i, n, s) -> {});
        return ModelLoader.load(f);
    }

    /**
     * Every query head's softmax sums to one, so the attention accumulated over the cache is layers ×
     * heads × tokens; and a batched prompt accumulates what the same tokens one at a time do.
     */
    @Test
    void accumulatedAttentionIsTheSumOfEveryHeadsSoftmax() throws Exception {
        try (WorkerPool pool = new WorkerPool(2); Model m = model(ForwardPassOracleTest.LLAMA, "F32", 3, pool)) {
            Transformer tf = new Transformer(m.config(), m.weights(), new Linear(KernelProvider.get(), pool), 64);
            int v = m.config().vocabSize();
            int n = 40;
            int[] tokens = IntStream.range(0, n).map(i -> 1 + (i * 53) % (v - 1)).toArray();
            float[] logits = new float[v];
            KvCache batched = tf.newCache(64);
            batched.trackAttention(true);
            tf.forward(tokens, 0, n, batched, logits, 1);
            KvCache stepped = tf.newCache(64);
            stepped.trackAttention(true);
            for (int i = 0; i < n; i++) {
                tf.forward(tokens, i, 1, stepped, logits, 1);
            }
            double total = 0;
            for (int p = 0; p < n; p++) {
                total += stepped.attention(p);
                assertEquals(stepped.attention(p), batched.attention(p), 1e-4 * (1 + stepped.attention(p)), "position " + p);
                assertTrue(stepped.attention(p) > 0);
            }
            double want = (double) m.config().layers() * m.config().heads() * n;
            assertEquals(want, total, 1e-4 * want);
            // Each position is attended only by itself and later tokens: the last position got one query per head and layer.
            assertTrue(stepped.attention(n - 1) <= m.config().layers() * m.config().heads() + 1e-4);
        }
    }

    /**
     * H2O, one token at a time: before each step that would pass the budget the kept positions are
     * the reference's selection from the accumulated attention, the cache never holds more than the
     * budget, the attention moves with its positions, and in a one-layer model (where a token's key
     * and value depend only on the token and its position) the compacted cache equals a re-run over
     * the kept tokens.
     */
    @Test
    void h2oKeepsSinksHeavyHittersAndTheWindowWithinTheBudget() throws Exception {
        ModelShape shape = ContextShiftTest.oneLayer(ForwardPassOracleTest.LLAMA);
        try (WorkerPool pool = new WorkerPool(2); Model m = model(shape, "F32", 4, pool)) {
            Transformer tf = new Transformer(m.config(), m.weights(), new Linear(KernelProvider.get(), pool), 64);
            int v = m.config().vocabSize();
            int kvDim = m.config().kvDim();
            EvictionPolicy h2o = EvictionPolicy.h2o(12, 2);
            assertEquals(5, h2o.recent());
            KvCache cache = tf.newCache(h2o.budget());
            cache.trackAttention(true);
            int[] tokens = IntStream.range(0, 50).map(i -> 1 + (i * 29 + i * i) % (v - 1)).toArray();
            List<Integer> held = new ArrayList<>(); // the token at each cached position
            float[] logits = new float[v];
            int evictions = 0;
            for (int i = 0; i < tokens.length; i++) {
                int len = cache.length();
                float[] before = new float[len];
                for (int p = 0; p < len; p++) {
                    before[p] = cache.attention(p);
                }
                int[] kept = h2o.makeRoom(tf, cache, 1);
                if (len + 1 <= h2o.budget()) {
                    assertNull(kept);
                } else {
                    evictions++;
                    assertArrayEquals(reference(before, len, 2, 5, 11), kept, "step " + i);
                    List<Integer> next = new ArrayList<>();
                    for (int p = 0; p < kept.length; p++) {
                        next.add(held.get(kept[p]));
                        assertEquals(before[kept[p]], cache.attention(p), 0f, "attention moves with position " + kept[p]);
                    }
                    held = next;
                    assertEquals(11, cache.length());
                    // The compacted cache against a fresh run over the kept tokens.
                    KvCache rerun = tf.newCache(h2o.budget());
                    int[] keptTokens = held.stream().mapToInt(Integer::intValue).toArray();
                    tf.forward(keptTokens, 0, keptTokens.length, rerun, logits, 1);
                    float[] ka = new float[kvDim], va = new float[kvDim], kb = new float[kvDim], vb = new float[kvDim];
                    for (int p = 0; p < keptTokens.length; p++) {
                        cache.get(0, p, ka, va);
                        rerun.get(0, p, kb, vb);
                        for (int j = 0; j < kvDim; j++) {
                            assertEquals(kb[j], ka[j], 1e-4 * (1 + Math.abs(kb[j])), "key of position " + p);
                            assertEquals(vb[j], va[j], 1e-5 * (1 + Math.abs(vb[j])), "value of position " + p);
                        }
                    }
                }
                tf.forward(tokens, i, 1, cache, logits, 1);
                held.add(tokens[i]);
                assertTrue(cache.length() <= h2o.budget(), "over the budget at step " + i);
            }
            assertEquals(tokens.length - h2o.budget(), evictions);
            for (int p = 0; p < 2; p++) {
                assertEquals(tokens[p], held.get(p), "the sinks stay");
            }
            for (int p = 0; p < 5; p++) {
                assertEquals(tokens[tokens.length - 5 + p], held.get(held.size() - 5 + p), "the window stays");
            }
        }
    }

    /** Generation under a budget goes on to the token limit with the cache never past it; evaluation bounded at ≥ ctx is the unbounded one. */
    @Test
    void boundedGenerationAndEvaluation() throws Exception {
        try (WorkerPool pool = new WorkerPool(2); Model m = model(ModelShape.byName("tiny"), "Q8_0", 11, pool)) {
            Tokenizer real = Tokenizers.fromGguf(m.metadata());
            Tokenizer tok = (Tokenizer) java.lang.reflect.Proxy.newProxyInstance(Tokenizer.class.getClassLoader(),
                    new Class<?>[] {Tokenizer.class}, (proxy, method, args) -> method.getName().equals("isEndOfGeneration")
                            ? Boolean.FALSE : method.invoke(real, args));
            // Reproducible kernels: the two evaluations below must agree to the bit, and the default
            // kernels' lane sums round differently before and after C2 compiles them.
            Linear linear = new Linear(KernelProvider.reproducible(), pool);
            int[] prompt = IntStream.range(0, 40).map(i -> 5 + i * 7 % 300).toArray();
            for (EvictionPolicy policy : List.of(EvictionPolicy.h2o(24, 4), EvictionPolicy.window(24, 4))) {
                for (KvEncoding e : List.of(KvEncoding.F32, KvEncoding.Q4C)) {
                    Session s = new Session(m, tok, linear, policy.budget(), 16, e, 32);
                    s.setEvictionPolicy(policy);
                    GenerationResult r = s.generate(prompt, SamplingParams.defaults().withSeed(3), 60, List.of(), x -> {});
                    assertEquals(StopReason.MAX_TOKENS, r.reason(), policy + " " + e);
                    assertEquals(60, r.generatedTokens());
                    assertTrue(s.evictions() > 0);
                    assertTrue(s.length() <= policy.budget());
                    int[] cached = s.tokens();
                    for (int i = 0; i < 4; i++) {
                        assertEquals(prompt[i], cached[i], "the sinks stay");
                    }
                }
            }
            Transformer tf = new Transformer(m.config(), m.weights(), linear, 64);
            int[] text = IntStream.range(0, 256).map(i -> 1 + (i * 31) % 500).toArray();
            Perplexity.Result full = Perplexity.compute(tf, null, text, 64, -1, 0, null, null, KvEncoding.F32, 0, null);
            Perplexity.Result roomy = Perplexity.compute(tf, null, text, 64, -1, 0, null, null, KvEncoding.F32, 0,
                    EvictionPolicy.h2o(64, 4));
            assertEquals(full.ppl(), roomy.ppl(), 0.0);
            Perplexity.Result tight = Perplexity.compute(tf, null, text, 64, -1, 0, null, null, KvEncoding.F32, 0,
                    EvictionPolicy.h2o(16, 4));
            assertTrue(Double.isFinite(tight.ppl()) && tight.ppl() != full.ppl(), "a 16-position budget changes what is seen");
        }
    }
}
