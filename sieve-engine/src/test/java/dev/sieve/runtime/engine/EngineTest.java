package dev.sieve.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.model.synth.ModelShape;
import dev.sieve.model.synth.SyntheticModelWriter;
import dev.sieve.runtime.sample.SamplingParams;
import dev.sieve.tokenizer.Tokenizer;
import dev.sieve.tokenizer.Tokenizers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine with a tiny synthetic model: batching and preemption leave greedy output unchanged. */
class EngineTest {
    @TempDir Path dir;

    record Out(String text, EngineEvent.Done done) {}

    static CompletableFuture<Out> submit(Engine e, long id, int[] prompt, int max) {
        CompletableFuture<Out> f = new CompletableFuture<>();
        StringBuilder sb = new StringBuilder();
        e.submit(new EngineRequest(id, prompt, SamplingParams.greedy(), max, List.of(), -1, ev -> {
            switch (ev) {
                case EngineEvent.Delta d -> sb.append(d.text());
                case EngineEvent.Done d -> f.complete(new Out(sb.toString(), d));
                case EngineEvent.Failed x -> f.completeExceptionally(new AssertionError(x.message()));
            }
        }));
        return f;
    }

    /** What a test does with the tiny synthetic model (Q8_0, seed 11), its tokenizer and a two-thread {@link Linear}. */
    interface WithModel {
        void run(Model m, Tokenizer tok, Linear linear) throws Exception;
    }

    void withTinyModel(WithModel body) throws Exception {
        Path f = dir.resolve("tiny.gguf");
        try (WorkerPool pool = new WorkerPool(2)) {
            new SyntheticModelWriter(ModelShape.byName("tiny"), SyntheticModelWriter.TypeMix.parse("Q8_0"), 11)
                    .write(f, pool, (i, n, s) -> {});
            try (Model m = ModelLoader.load(f)) {
                body.run(m, Tokenizers.fromGguf(m.metadata()), new Linear(KernelProvider.get(), pool));
            }
        }
    }

    /**
     * When a request's Done arrives its blocks are back, and the stats say so: a client that reads the
     * metrics after its response must not see the blocks of a finished request still held (the stats
     * were published only after the step's last event; several requests ending in one step showed it).
     */
    @Test
    void statsSeenAtDoneHaveTheFinishedRequestsBlocksBack() throws Exception {
        withTinyModel((m, tok, linear) -> {
            try (Engine e = new Engine(m, tok, linear, new Engine.Config(128, 4, 64, 8, 0)).start()) {
                List<CompletableFuture<Integer>> held = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    CompletableFuture<Integer> f = new CompletableFuture<>();
                    held.add(f);
                    // the same prompt and length: all four end in the same step
                    e.submit(new EngineRequest(i + 1, tok.encode("same prompt for all", true, true),
                            SamplingParams.greedy(), 8, List.of(), -1, ev -> {
                                if (ev instanceof EngineEvent.Done) {
                                    f.complete(e.stats().kvBlocksUsed() + e.stats().running());
                                } else if (ev instanceof EngineEvent.Failed x) {
                                    f.completeExceptionally(new AssertionError(x.message()));
                                }
                            }));
                }
                int least = Integer.MAX_VALUE;
                for (CompletableFuture<Integer> f : held) {
                    least = Math.min(least, f.get(60, TimeUnit.SECONDS));
                }
                // each Done sees at most the others still held; the last one to finish sees nothing
                assertEquals(0, least, "blocks and running sequences seen by the last Done");
            }
        });
    }

    /**
     * When a request's first token arrives the stats count it running: a client that reads the metrics
     * on its first token must see itself (they were published only at the step's end, so the first
     * request after an idle engine read the idle snapshot: a flaky server test).
     */
    @Test
    void statsSeenAtTheFirstTokenCountTheRequestRunning() throws Exception {
        withTinyModel((m, tok, linear) -> {
            try (Engine e = new Engine(m, tok, linear, new Engine.Config(128, 4, 64, 8, 0)).start()) {
                CompletableFuture<Integer> running = new CompletableFuture<>();
                e.submit(new EngineRequest(1, tok.encode("a first token", true, true), SamplingParams.greedy(), 4,
                        List.of(), -1, ev -> {
                            if (ev instanceof EngineEvent.Delta && !running.isDone()) {
                                running.complete(e.stats().running());
                            } else if (ev instanceof EngineEvent.Failed x) {
                                running.completeExceptionally(new AssertionError(x.message()));
                            }
                        }));
                assertEquals(1, running.get(60, TimeUnit.SECONDS), "running sequences seen at the first token");
            }
        });
    }

    @Test
    void preemptionUnderATightKvBudgetGivesTheSameGreedyOutput() throws Exception {
        withTinyModel((m, tok, linear) -> {
            List<int[]> prompts = new ArrayList<>();
            List<String> expected = new ArrayList<>();
            String[] texts = {"first prompt of the test", "second one, somewhat longer than the first one", "third"};
            for (String t : texts) {
                int[] p = tok.encode(t, true, true);
                prompts.add(p);
                expected.add(new Session(m, tok, linear, 128, 16).generate(p, SamplingParams.greedy(), 60, List.of(),
                        s -> {}).text());
            }
            long perToken = 2L * m.config().layers() * m.config().kvDim() * Float.BYTES;
            // 10 blocks = 160 tokens for three sequences of up to ~75 tokens: someone must be preempted
            try (Engine e = new Engine(m, tok, linear, new Engine.Config(128, 3, 16, 8, 10 * 16 * perToken)).start()) {
                List<CompletableFuture<Out>> outs = new ArrayList<>();
                for (int i = 0; i < prompts.size(); i++) {
                    outs.add(submit(e, i + 1, prompts.get(i), 60));
                }
                for (int i = 0; i < outs.size(); i++) {
                    Out o = outs.get(i).get(60, TimeUnit.SECONDS);
                    assertEquals(expected.get(i), o.text(), "request " + i);
                }
                assertTrue(e.stats().preemptions() > 0, "the budget was meant to force a preemption");
                Thread.sleep(100);
                assertEquals(0, e.stats().kvBlocksUsed(), "no sequence holds blocks (the prefix cache may)");
                assertEquals(10, e.stats().kvBlocksTotal());
            }
            // a budget below one full context is refused up front (a lone sequence must always fit)
            assertThrows(IllegalArgumentException.class,
                    () -> new Engine(m, tok, linear, new Engine.Config(128, 2, 16, 4, 4 * 16 * perToken)));
        });
    }

    @Test
    void aSharedPromptPrefixIsReusedNotRecomputedAndGreedyOutputIsUnchanged() throws Exception {
        withTinyModel((m, tok, linear) -> {
            String system = "You are a helpful assistant who answers briefly and precisely, with care for the facts "
                    + "and without any flattery or filler words at all. ";
            int[] a = tok.encode(system + "What is the capital of France?", true, true);
            int[] b = tok.encode(system + "Name three prime numbers.", true, true);
            int common = 0;
            while (common < Math.min(a.length, b.length) && a[common] == b[common]) {
                common++;
            }
            assertTrue(common >= 32, "the shared prefix spans two blocks or more: " + common);
            try (Engine e = new Engine(m, tok, linear, new Engine.Config(256, 2, 64, 8, 0)).start()) {
                long before = 0;
                int[][] prompts = {a, b, a};
                // a: nothing cached; b: the system prompt's full blocks; a again: all its full blocks but the last token's
                long[] hits = {0, Math.min(common, b.length - 1) / 16 * 16, (a.length - 1) / 16 * 16};
                for (int i = 0; i < prompts.length; i++) {
                    String expected = new Session(m, tok, linear, 256, 16)
                            .generate(prompts[i], SamplingParams.greedy(), 20, List.of(), s -> {}).text();
                    Out o = submit(e, i + 1, prompts[i], 20).get(60, TimeUnit.SECONDS);
                    assertEquals(expected, o.text(), "request " + i);
                    long now = e.stats().prefixCacheHitTokens();
                    assertEquals(hits[i], now - before, "tokens reused by request " + i);
                    before = now;
                }
                assertTrue(e.stats().kvBlocksCached() > 0);
            }
        });
    }

    @Test
    void everyGeneratedTokenIsReportedEvenWhileItsTextIsHeldBack() throws Exception {
        withTinyModel((m, tok, linear) -> {
            int[] prompt = tok.encode("the events of one stream", true, true);
            String expected = new Session(m, tok, linear, 128, 16)
                    .generate(prompt, SamplingParams.greedy(), 40, List.of(), s -> {}).text();
            // A stop string that never completes but whose first letter is common: text ending in
            // that letter is held back until the next token shows it is not a stop.
            String letter = expected.chars().filter(Character::isLetter).mapToObj(Character::toString)
                    .findFirst().orElseThrow();
            List<String> deltas = new ArrayList<>();
            CompletableFuture<EngineEvent.Done> done = new CompletableFuture<>();
            try (Engine e = new Engine(m, tok, linear, new Engine.Config(128, 2, 16, 8, 0)).start()) {
                e.submit(new EngineRequest(1, prompt, SamplingParams.greedy(), 40, List.of(letter + "\u0000"), -1, ev -> {
                    switch (ev) {
                        case EngineEvent.Delta d -> deltas.add(d.text());
                        case EngineEvent.Done d -> done.complete(d);
                        case EngineEvent.Failed x -> done.completeExceptionally(new AssertionError(x.message()));
                    }
                }));
                EngineEvent.Done d = done.get(60, TimeUnit.SECONDS);
                assertEquals(expected, String.join("", deltas), "the stop string never matched: all the text");
                assertTrue(deltas.contains(""), "some token's text was held back: " + deltas);
                // one event per token; only a last token with nothing left to add may go without
                assertTrue(deltas.size() == d.completionTokens() || deltas.size() == d.completionTokens() - 1,
                        deltas.size() + " events for " + d.completionTokens() + " tokens");
            }
        });
    }

    /** {@code tok}, except that every even id ends generation: half the vocabulary, so a stream hits one soon. */
    record EvenIdsEnd(Tokenizer tok) implements Tokenizer {
        @Override public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
            return tok.encode(text, addSpecial, parseSpecial);
        }
        @Override public String decode(int[] ids) { return tok.decode(ids); }
        @Override public String piece(int id) { return tok.piece(id); }
        @Override public byte[] tokenBytes(int id) { return tok.tokenBytes(id); }
        @Override public int vocabSize() { return tok.vocabSize(); }
        @Override public int bos() { return tok.bos(); }
        @Override public int eos() { return tok.eos(); }
        @Override public boolean isEndOfGeneration(int id) { return id % 2 == 0; }
        @Override public boolean addsBos() { return tok.addsBos(); }
    }

    /** Ends at an end-of-generation id unless the request ignores them; the sampled ids come back with the logprobs. */
    static List<Integer> sampledIds(Engine e, long id, int[] prompt, boolean ignoreEos, CompletableFuture<EngineEvent.Done> done) {
        List<Integer> ids = new ArrayList<>();
        e.submit(new EngineRequest(id, prompt, new SamplingParams(1.5f, 0, 1f, 0f, 1f, 64, 0f, 0f, 5 + id), 48,
                List.of(), 0, ignoreEos, ev -> {
                    switch (ev) {
                        case EngineEvent.Delta d -> d.logprobs().forEach(t -> ids.add(t.token()));
                        case EngineEvent.Done d -> done.complete(d);
                        case EngineEvent.Failed x -> done.completeExceptionally(new AssertionError(x.message()));
                    }
                }));
        return ids;
    }

    /**
     * {@code ignore_eos}: no end-of-generation token is ever sampled and the stream runs to its
     * maximum. With half the ids ending generation, the same requests without it end early.
     */
    @Test
    void ignoringEndOfGenerationRunsEveryStreamToItsMaximum() throws Exception {
        withTinyModel((m, tok, linear) -> {
            Tokenizer evenEnds = new EvenIdsEnd(tok);
            int[] prompt = tok.encode("a stream that would end soon", true, true);
            try (Engine e = new Engine(m, evenEnds, linear, new Engine.Config(128, 4, 64, 8, 0)).start()) {
                for (long id = 1; id <= 4; id++) {
                    CompletableFuture<EngineEvent.Done> ignoring = new CompletableFuture<>();
                    CompletableFuture<EngineEvent.Done> ending = new CompletableFuture<>();
                    List<Integer> kept = sampledIds(e, id, prompt, true, ignoring);
                    List<Integer> cut = sampledIds(e, 100 + id, prompt, false, ending);
                    EngineEvent.Done d = ignoring.get(60, TimeUnit.SECONDS);
                    assertEquals(StopReason.MAX_TOKENS, d.reason());
                    assertEquals(48, d.completionTokens());
                    assertTrue(kept.stream().allMatch(t -> t % 2 == 1), "an end-of-generation id was sampled: " + kept);
                    EngineEvent.Done c = ending.get(60, TimeUnit.SECONDS);
                    assertEquals(StopReason.END_OF_GENERATION, c.reason(), "the control request ended at an even id");
                    assertTrue(cut.get(cut.size() - 1) % 2 == 0 && c.completionTokens() < 48, cut.toString());
                }
            }
        });
    }

    /** {@code logprobs: true} without {@code top_logprobs} asks for none: the sampled token's alone (it once threw). */
    @Test
    void noAlternativesGiveTheSampledTokensLogprobAlone() {
        float[] raw = {1f, 3f, 2f};
        EngineEvent.TokenLogprob t = Engine.logprob(raw, 2, 0);
        assertEquals(0, t.topTokens().length);
        assertEquals(2 - Math.log(Math.exp(1) + Math.exp(3) + Math.exp(2)), t.logprob(), 1e-5);
    }

    @Test
    void topLogprobsAreSortedAndNormalised() {
        float[] raw = {1f, 3f, 2f, -1f, 3f};
        EngineEvent.TokenLogprob t = Engine.logprob(raw, 2, 3);
        double z = 0;
        for (float v : raw) {
            z += Math.exp(v);
        }
        assertEquals(2 - Math.log(z), t.logprob(), 1e-5);
        assertEquals(1, t.topTokens()[0]);
        assertEquals(4, t.topTokens()[1]);
        assertEquals(2, t.topTokens()[2]);
        assertTrue(t.topLogprobs()[0] >= t.topLogprobs()[1] && t.topLogprobs()[1] >= t.topLogprobs()[2]);
    }
}
