package dev.sieve.cli;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.eval.Perplexity;
import dev.sieve.model.layers.EvictionPolicy;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.tokenizer.Tokenizer;
import dev.sieve.tokenizer.Tokenizers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Measures what a model (e.g. a compressed one) costs in quality: perplexity, and against a"
                + " reference model KL divergence and top-1 agreement; plus bits per weight.",
            "Perplexity follows llama-perplexity's protocol (chunks of -c tokens, each starting with BOS, the second half"
                + " of each chunk scored); with --ref, the mean KL(ref || model) and how often the two models' top tokens agree.",
            "The figures are bit-reproducible: the same inputs print the same numbers in every run."},
        footer = {"%nExamples:", "  sieve eval -m model-q4.gguf --text eval.txt",
            "  sieve eval -m model-q4.gguf --ref model-f32.gguf --text eval.txt --json"})
final class EvalCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "model to evaluate")
    Path model;

    @Option(names = "--ref", description = "reference model (same vocabulary) for KL divergence and top-1 agreement")
    Path ref;

    @Option(names = {"--text", "-f"}, required = true, description = "evaluation text (UTF-8)")
    Path text;

    @Option(names = {"-c", "--ctx-size"}, defaultValue = "256", description = "chunk length in tokens (default: ${DEFAULT-VALUE})")
    int ctx;

    @Option(names = "--chunks", defaultValue = "0", description = "evaluate only the first N chunks; 0 = all (default)")
    int chunks;

    @Option(names = {"-t", "--threads"}, description = "threads (default: all cores)")
    Integer threads;

    @Mixin CacheOptions cache = new CacheOptions();

    @Option(names = "--json", description = "print one JSON object (ppl, ppl_err, kl, top1, bpw, tokens)")
    boolean json;

    @Override
    public Integer call() throws Exception {
        String body = Files.readString(text, StandardCharsets.UTF_8);
        int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        try (WorkerPool pool = new WorkerPool(nThreads); Model m = ModelLoader.load(model);
                Model r = ref != null ? ModelLoader.load(ref) : null) {
            Tokenizer tok = Tokenizers.fromGguf(m.metadata());
            if (r != null) {
                Tokenizer refTok = Tokenizers.fromGguf(r.metadata());
                if (refTok.vocabSize() != tok.vocabSize() || !Arrays.equals(refTok.encode(body.substring(0,
                        Math.min(4096, body.length())), true, false), tok.encode(body.substring(0, Math.min(4096, body.length())), true, false))) {
                    throw new UserException("the reference model's tokenizer differs from the model's");
                }
            }
            int[] tokens = tok.encode(body, tok.addsBos(), false);
            // Reproducible kernels: the same figures from run to run, whatever the JIT compiled when.
            Linear linear = new Linear(KernelProvider.reproducible(), pool);
            Transformer tf = new Transformer(m.config(), m.weights(), linear, ctx);
            Transformer rtf = r != null ? new Transformer(r.config(), r.weights(), linear, ctx) : null;
            EvictionPolicy policy = cache.policy();
            String policyName = policy == null ? "full" : policy.kind().name().toLowerCase(Locale.ROOT);
            int held = policy == null ? ctx : Math.min(ctx, policy.budget()); // most positions the cache holds
            ProgressBar bar = new ProgressBar("eval");
            Perplexity.Result res = Perplexity.compute(tf, rtf, tokens, ctx, tok.addsBos() ? tok.bos() : -1, chunks,
                    (c, n, ppl) -> bar.update(c, n, String.format(Locale.ROOT, "chunk %d/%d ppl %.4f", c, n, ppl)), null,
                    cache.encoding(), cache.residual(), policy);
            long kvBytesPerToken = tf.newCache(1, cache.encoding(), 0).bytesPerToken();
            double bpw = m.weightBytes() * 8.0 / m.parameterCount();
            if (json) {
                System.out.printf(Locale.ROOT, "{\"model\": \"%s\", \"ppl\": %.6f, \"ppl_err\": %.6f, \"kl\": %s, \"kl_err\": %s, "
                                + "\"top1\": %s, \"ref_ppl\": %s, \"bpw\": %.4f, \"tokens\": %d, \"chunks\": %d, \"ctx\": %d, "
                                + "\"cache_type\": \"%s\", \"kv_bytes_per_token\": %d, \"cache_policy\": \"%s\", \"kv_positions_max\": %d}%n",
                        model.toString().replace("\\", "\\\\").replace("\"", "\\\""), res.ppl(), res.pplError(),
                        num(res.kl()), num(res.klError()), num(res.top1()), num(res.refPpl()), bpw, res.scored(), res.chunks(), ctx,
                        cache.encoding().name().toLowerCase(Locale.ROOT), kvBytesPerToken, policyName, held);
            } else {
                System.out.printf(Locale.ROOT, "model        %s%n", model);
                System.out.printf(Locale.ROOT, "tokens       %,d scored in %d chunks of %d%n", res.scored(), res.chunks(), ctx);
                System.out.printf(Locale.ROOT, "bpw          %.3f (matrices)%n", bpw);
                System.out.printf(Locale.ROOT, "KV cache     %s, %,d bytes/token (residual window %d)%n",
                        cache.encoding().name().toLowerCase(Locale.ROOT), kvBytesPerToken, cache.residual());
                if (policy != null) {
                    System.out.printf(Locale.ROOT, "cache policy %s: at most %d positions (%d sinks, window %d), %,d bytes%n",
                            policyName, held, policy.sinks(), policy.recent(), held * kvBytesPerToken);
                }
                System.out.printf(Locale.ROOT, "PPL          %.4f ± %.4f%n", res.ppl(), res.pplError());
                if (res.hasReference()) {
                    System.out.printf(Locale.ROOT, "PPL (ref)    %.4f  (%+.3f%%)%n", res.refPpl(), (res.ppl() / res.refPpl() - 1) * 100);
                    System.out.printf(Locale.ROOT, "mean KLD     %.6f ± %.6f%n", res.kl(), res.klError());
                    System.out.printf(Locale.ROOT, "same top-1   %.3f %%%n", res.top1() * 100);
                }
            }
        }
        return 0;
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "null" : String.format(Locale.ROOT, "%.6f", v);
    }
}
