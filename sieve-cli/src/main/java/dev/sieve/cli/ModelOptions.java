package dev.sieve.cli;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.EvictionPolicy;
import dev.sieve.model.layers.KvEncoding;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.runtime.engine.Session;
import dev.sieve.tokenizer.Tokenizer;
import dev.sieve.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options every command that runs a model shares (named as llama.cpp names them). */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "FILE", description = "GGUF model file")
    Path model;

    @Option(names = {"-c", "--ctx-size"}, defaultValue = "0", paramLabel = "N",
            description = "context size in tokens (default: the model's, at most 4096)")
    int contextSize;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "threads (default: all cores)")
    Integer threads;

    @Option(names = {"-b", "--batch-size"}, defaultValue = "256", paramLabel = "N",
            description = "prompt tokens evaluated per forward pass (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--keep-layout",
            description = "multiply the weights in the file's own layout: no conversion at load (by default some"
                    + " matrices are rewritten, the same values in the layouts of Sieve's faster decoders: below"
                    + " 512-bit vectors Q4_K and Q4_0 as Q4_K_R and Q4_0_R (11%% more memory); at 512 bits Q4_0 and Q8_0"
                    + " as Q4_0_R16 and Q8_0_R16 and the indexed sparse types with 16 rows interleaved, and Q4_K as Q4_K_R on"
                    + " Intel CPUs; it costs ~0.4 s of loading a 1.1B Q4_0 model, ~1.1 s a Q8_0 one; run converts only from"
                    + " -n 32 on (indexed sparse types, whose rows have only a reference decoder, from -n 4); on Linux chat, serve"
                    + " and runs from -n 512 put the converted matrices in 2 MiB pages: decode up to 20%% faster, 1-3 s"
                    + " more loading)")
    boolean keepLayout;

    @Mixin CacheOptions cache = new CacheOptions();

    /** A loaded model with its tokenizer, kernels and threads; close it to unmap the file and stop the threads. */
    record Loaded(Model model, Tokenizer tokenizer, WorkerPool pool, Linear linear) implements AutoCloseable {
        Session session(int contextSize, int batchSize) {
            return session(contextSize, batchSize, KvEncoding.F32, KvCache.DEFAULT_RESIDUAL);
        }

        Session session(int contextSize, int batchSize, KvEncoding cacheType, int residual) {
            int ctx = contextSize > 0 ? contextSize : Math.min(4096, model.config().contextLength());
            return new Session(model, tokenizer, linear, ctx, batchSize, cacheType, residual);
        }

        @Override
        public void close() {
            pool.close();
            model.close();
        }
    }

    /**
     * Below this many generated tokens {@code run} keeps the file's layout: converting at load costs
     * ~0.4-0.7 s for a 1.1B Q4_0 (2 threads) and saves ~17 ms a decoded token, so it pays back after
     * ~30 tokens; a 1.1B Q4_K_M (Q4_K_R16 and Q6_K_R16) takes ~0.9 s more than the file layout and pays
     * back after ~55, a 1.1B Q8_0 ~1.1 s and ~140 (docs/performance.md, sessions 31-32).
     */
    static final int CONVERT_FROM_TOKENS = 32;

    /**
     * From this many generated tokens {@code run} puts converted weights in 2 MiB pages: faulting them
     * in cost 1.3–3.0 s more of loading a 1.1B Q4_0 on the measured VM, and over 600 tokens decode ran
     * at 22.4–22.6 against 18.6 tokens/s (9 ms a token), so they pay back after ~320 tokens. Chat and
     * serve, which run long, always take them.
     */
    static final int LARGE_PAGES_FROM_TOKENS = 512;

    /**
     * Below this many generated tokens {@code run} keeps even the matrices that its kernels would
     * otherwise multiply by their scalar reference ({@link ModelLoader#convertsForAnyRun}): a 1.1B Q4_I5
     * model, {@code run -n 1} 2.5-2.8 s in its rows against 3.8-4.1 s converted; {@code -n 16} 11.6-15.4 s
     * against 4.8-5.4 s (docs/performance.md, session 35).
     */
    static final int CONVERT_REFERENCE_FROM_TOKENS = 4;

    /**
     * As {@link #load()}, for a run that decodes at most {@code tokens}: too few to repay converting keep
     * the file layout ({@link #CONVERT_FROM_TOKENS}), except matrices that would otherwise be multiplied by
     * their scalar reference, which pay back within a few ({@link #CONVERT_REFERENCE_FROM_TOKENS}).
     */
    Loaded load(int tokens) throws IOException {
        return load(keepLayout || tokens < CONVERT_REFERENCE_FROM_TOKENS, tokens < CONVERT_FROM_TOKENS,
                tokens >= LARGE_PAGES_FROM_TOKENS);
    }

    Loaded load() throws IOException {
        return load(keepLayout, false, true);
    }

    private Loaded load(boolean keep, boolean shortRun, boolean largePages) throws IOException {
        if (threads != null && threads < 1) {
            throw new UserException("--threads must be at least 1");
        }
        if (contextSize < 0) {
            throw new UserException("--ctx-size must not be negative");
        }
        if (batchSize < 1) {
            throw new UserException("--batch-size must be at least 1");
        }
        Model m = ModelLoader.load(model);
        WorkerPool pool = null;
        try {
            Tokenizer tok = Tokenizers.fromGguf(m.metadata());
            pool = new WorkerPool(threads != null ? threads : Runtime.getRuntime().availableProcessors());
            Linear linear = new Linear(KernelProvider.get(), pool);
            boolean convert = !keep && (!shortRun || ModelLoader.convertsForAnyRun(m, linear.kernels()));
            return new Loaded(convert ? ModelLoader.relayout(m, linear.kernels(), pool, largePages) : m, tok, pool, linear);
        } catch (RuntimeException e) {
            if (pool != null) {
                pool.close();
            }
            m.close();
            throw e;
        }
    }

    Session session(Loaded l) {
        EvictionPolicy policy = cache.policy();
        if (policy == null) {
            return l.session(contextSize, batchSize, cache.encoding(), cache.residual());
        }
        // A bounded cache: its budget is the context, so memory is bounded by allocation too.
        Session s = l.session(policy.budget(), batchSize, cache.encoding(), cache.residual());
        s.setEvictionPolicy(policy);
        return s;
    }
}
