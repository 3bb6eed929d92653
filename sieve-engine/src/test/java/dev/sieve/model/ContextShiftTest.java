package dev.sieve.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.layers.KvCache;
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
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Context shift (attention sinks + the newer tokens, moved down): the shifted cache equals a plain
 * re-run over the kept tokens. In a one-layer model a token's key and value depend only on the token
 * and its position, so the equality is exact up to float rounding for the whole cache and for the
 * next token's logits, for every RoPE flavour; in deeper models it holds for the first layer and
 * for the sinks (the kept tokens' later layers saw the dropped ones, by design).
 */
class ContextShiftTest {
    @TempDir Path dir;

    static ModelShape oneLayer(ModelShape s) {
        return new ModelShape(s.name() + "-1l", s.architecture(), s.dim(), 1, s.heads(), s.kvHeads(), s.ffnDim(), s.vocab(),
                s.context(), s.tiedOutput(), s.ropeTheta(), s.rmsEps(), s.qkvBias(), s.llama3RopeScaling(), s.qkNorm());
    }

    @Test
    void shiftedCacheEqualsARerunOverTheKeptTokens() throws Exception {
        for (ModelShape shape : List.of(ForwardPassOracleTest.LLAMA, ForwardPassOracleTest.LLAMA3, ForwardPassOracleTest.QWEN2)) {
            for (ModelShape s : List.of(oneLayer(shape), shape)) {
                check(s);
            }
        }
    }

    private void check(ModelShape shape) throws Exception {
        Path f = dir.resolve(shape.name() + ".gguf");
        try (WorkerPool pool = new WorkerPool(2)) {
            new SyntheticModelWriter(shape, SyntheticModelWriter.TypeMix.parse("F32"), 5).write(f, pool, (i, n, s) -> {});
            try (Model m = ModelLoader.load(f)) {
                Transformer tf = new Transformer(m.config(), m.weights(), new Linear(KernelProvider.get(), pool), 64);
                int v = m.config().vocabSize();
                int keep = 4, discard = 15, n = 40;
                int[] tokens = IntStream.range(0, n).map(i -> 1 + (i * 37) % (v - 1)).toArray();
                KvCache shifted = tf.newCache(64);
                float[] scratch = new float[v];
                tf.forward(tokens, 0, n, shifted, scratch, 1);
                tf.shiftCache(shifted, keep, discard);
                int[] kept = IntStream.concat(IntStream.range(0, keep), IntStream.range(keep + discard, n)).map(i -> tokens[i]).toArray();
                KvCache rerun = tf.newCache(64);
                tf.forward(kept, 0, kept.length, rerun, scratch, 1);
                assertEquals(rerun.length(), shifted.length());
                int kvDim = m.config().kvDim();
                float[] ka = new float[kvDim], va = new float[kvDim], kb = new float[kvDim], vb = new float[kvDim];
                boolean oneLayer = m.config().layers() == 1;
                for (int l = 0; l < m.config().layers(); l++) {
                    for (int p = 0; p < kept.length; p++) {
                        if (l > 0 && p >= keep) {
                            continue; // later layers of moved tokens carry what they saw of the dropped ones
                        }
                        shifted.get(l, p, ka, va);
                        rerun.get(l, p, kb, vb);
                        for (int i = 0; i < kvDim; i++) {
                            assertEquals(kb[i], ka[i], 1e-4 * (1 + Math.abs(kb[i])), shape.name() + " key l" + l + " p" + p + " i" + i);
                            assertEquals(vb[i], va[i], 1e-4 * (1 + Math.abs(vb[i])), shape.name() + " value l" + l + " p" + p);
                        }
                    }
                }
                if (oneLayer) {
                    float[] la = new float[v], lb = new float[v];
                    tf.forward(new int[] {7}, 0, 1, shifted, la, 1);
                    tf.forward(new int[] {7}, 0, 1, rerun, lb, 1);
                    double nmse = ForwardPassOracleTest.nmse(la, lb);
                    assertTrue(nmse < 1e-9, shape.name() + ": next-token logits nmse " + nmse);
                }
            }
        }
    }

    @Test
    void generationGoesOnPastTheContextWithContextShift() throws Exception {
        Path f = dir.resolve("tiny.gguf");
        try (WorkerPool pool = new WorkerPool(2)) {
            new SyntheticModelWriter(ModelShape.byName("tiny"), SyntheticModelWriter.TypeMix.parse("Q8_0"), 11)
                    .write(f, pool, (i, n, s) -> {});
            try (Model m = ModelLoader.load(f)) {
                // A random model may sample its end-of-generation token at any step; this test is about
                // the context limit, so that token is not treated as one here.
                Tokenizer real = Tokenizers.fromGguf(m.metadata());
                Tokenizer tok = (Tokenizer) java.lang.reflect.Proxy.newProxyInstance(Tokenizer.class.getClassLoader(),
                        new Class<?>[] {Tokenizer.class}, (proxy, method, args) -> method.getName().equals("isEndOfGeneration")
                                ? Boolean.FALSE : method.invoke(real, args));
                Linear linear = new Linear(KernelProvider.get(), pool);
                int[] prompt = tok.encode("a prompt that starts the story", true, true);
                SamplingParams sampling = SamplingParams.defaults().withSeed(7);
                Session plain = new Session(m, tok, linear, 32, 16);
                GenerationResult stopped = plain.generate(prompt, sampling, 100, List.of(), s -> {});
                assertEquals(StopReason.CONTEXT_FULL, stopped.reason(), "without a shift, the context ends generation");
                Session shifting = new Session(m, tok, linear, 32, 16);
                shifting.setContextShift(4);
                GenerationResult r = shifting.generate(prompt, sampling, 100, List.of(), s -> {});
                assertEquals(StopReason.MAX_TOKENS, r.reason());
                assertEquals(100, r.generatedTokens());
                assertTrue(shifting.contextShifts() > 0);
                assertTrue(shifting.length() <= 32);
                int[] cached = shifting.tokens();
                for (int i = 0; i < 4; i++) {
                    assertEquals(prompt[i], cached[i], "the sinks stay");
                }
            }
        }
    }
}
