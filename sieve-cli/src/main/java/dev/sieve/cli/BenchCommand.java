package dev.sieve.cli;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.KvEncoding;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measures prompt processing (pp) and generation (tg) throughput like llama-bench: after one warm-up"
                + " run (--warmup), each test repeats -r times; the table gives mean ± standard deviation.",
            "eff GB/s is the weight bytes streamed per generated token times tokens/s (decode is bound by memory"
                + " bandwidth); peak RSS is the process's high-water mark; 'in memory' names the layouts the kernels"
                + " converted the file's matrices to at load (--keep-layout: none).",
            "With --depth, tg runs after D tokens already in the cache (llama-bench's -d), once per --cache-type in a"
                + " comma list, interleaved token by token so the cache types see the same machine load.",
            "With --parallel, tg also runs B sequences decoding together, one token each per step (continuous batching,"
                + " as in llama-batched-bench): t/s counts all B streams' tokens; eff GB/s counts the weights once per step."},
        footer = {"%nExamples:", "  sieve bench -m tinyllama-q4_0.gguf -p 128 -n 64 -t 2 -r 3",
            "  sieve bench -m tl.gguf -p 0 -n 16 --depth 512,2048 --cache-type f32,q8,q4",
            "  sieve bench -m tl.gguf -p 0 -n 32 --parallel 1,4,8,16",
            "  sieve bench -m model.gguf --json > bench.json"})
final class BenchCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "GGUF model file")
    Path model;

    @Option(names = {"-p", "--n-prompt"}, defaultValue = "128", description = "prompt tokens; 0 skips pp (default: ${DEFAULT-VALUE})")
    int nPrompt;

    @Option(names = {"-n", "--n-gen"}, defaultValue = "64", description = "generated tokens; 0 skips tg (default: ${DEFAULT-VALUE})")
    int nGen;

    @Option(names = {"-t", "--threads"}, description = "threads (default: all cores)")
    Integer threads;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "N",
            description = {"untimed runs of each test before its repetitions (default: ${DEFAULT-VALUE}, as llama-bench). The JIT"
                    + " compiles a kernel once it is hot: one called once per forward pass (the output head in a"
                    + " prompt-only run) may need a few more runs before its timings settle"})
    int warmup;

    @Option(names = {"-r", "--repetitions"}, defaultValue = "3", description = "repetitions (default: ${DEFAULT-VALUE})")
    int reps;

    @Mixin CacheOptions cache = new CacheOptions();

    @Option(names = {"-d", "--depth"}, split = ",", paramLabel = "D",
            description = "context depths for tg: tokens in the cache before generating; 'max' = the model's context"
                    + " less the generated tokens (default: 0)")
    List<String> depths;

    @Option(names = "--parallel", split = ",", paramLabel = "B",
            description = "also run tg with B sequences decoding together (one token each per step), for each B in a"
                    + " comma list: the throughput of batched decode, as a server with B streams gets it")
    List<Integer> parallel;

    @Option(names = "--keep-layout", description = "multiply the weights in the file's own layout (no conversion at load to the layouts of the faster decoders: Q4_K_R, Q4_0_R, Q4_0_R16, Q8_0_R16, 16-row sliced sparse)")
    boolean keepLayout;

    @Option(names = "--json", description = "print a JSON list, one object per test (llama-bench's field names)")
    boolean json;

    record Row(String test, int nPrompt, int nGen, int parallel, double[] samples, double mean, double sd, double effGbps) {}

    @Override
    public Integer call() throws Exception {
        if (nPrompt < 0 || nGen < 0 || reps < 1 || (nPrompt == 0 && nGen == 0)) {
            throw new UserException("need -p ≥ 0, -n ≥ 0 (not both 0) and -r ≥ 1");
        }
        if (warmup < 0 || warmup > 100) {
            throw new UserException("--warmup takes 0 to 100 runs, not " + warmup);
        }
        List<Integer> streams = parallel == null ? List.of() : parallel;
        for (int b : streams) {
            if (b < 1 || b > 256) {
                throw new UserException("--parallel takes sequence counts from 1 to 256, not " + b);
            }
        }
        if (!streams.isEmpty() && nGen == 0) {
            throw new UserException("--parallel needs -n ≥ 1 (it measures generation)");
        }
        int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        List<Row> rows = new ArrayList<>();
        long fileSize = Files.size(model);
        String kernels;
        long params;
        double bpw;
        double density;
        String desc;
        Map<String, Map<String, Integer>> layouts;
        try (Model file = ModelLoader.load(model); WorkerPool pool = new WorkerPool(nThreads)) {
            kernels = KernelProvider.get().name();
            Linear linear = new Linear(KernelProvider.get(), pool);
            // Size and bits per weight are the file's; bandwidth counts the bytes decode reads.
            params = file.parameterCount();
            bpw = file.weightBytes() * 8.0 / params;
            Model m = keepLayout ? file : ModelLoader.relayout(file, linear.kernels(), pool, true);
            int ctx = Math.max(nPrompt, 1) + nGen + 1;
            int maxStreams = streams.stream().mapToInt(Integer::intValue).max().orElse(1);
            Transformer tf = new Transformer(m.config(), m.weights(), linear, Math.max(Math.max(1, nPrompt), maxStreams));
            KvCache kv = tf.newCache(ctx, encodings().get(0), cache.residual());
            desc = describe(file);
            density = density(m);
            layouts = layouts(file, m);
            // Bytes streamed per decoded token: every matrix but the embedding (of which one row is read).
            long perToken = m.weightBytes() - m.weights().tokenEmbedding().heldBytes()
                    + m.weights().tokenEmbedding().rowBytes()
                    + (m.weights().output() == m.weights().tokenEmbedding() ? m.weights().output().heldBytes() : 0);
            float[] logits = new float[Math.max(Math.max(1, nPrompt), maxStreams) * m.config().vocabSize()];
            SplittableRandom rng = new SplittableRandom(42);
            int vocab = m.config().vocabSize();
            if (nPrompt > 0) {
                int[] prompt = rng.ints(nPrompt, 0, vocab).toArray();
                double[] s = new double[reps];
                for (int r = -warmup; r < reps; r++) {
                    kv.truncate(0);
                    long t0 = System.nanoTime();
                    tf.forward(prompt, 0, nPrompt, kv, logits, 1);
                    double ts = nPrompt / ((System.nanoTime() - t0) / 1e9);
                    if (r >= 0) {
                        s[r] = ts;
                    }
                }
                rows.add(row("pp" + nPrompt, nPrompt, 0, s, 0));
            }
            if (nGen > 0 && (depths == null || depths.isEmpty())) {
                double[] s = new double[reps];
                int[] tok = {1};
                for (int r = -warmup; r < reps; r++) {
                    kv.truncate(0);
                    long t0 = System.nanoTime();
                    for (int i = 0; i < nGen; i++) {
                        tf.forward(tok, 0, 1, kv, logits, 1);
                        tok[0] = argmax(logits, vocab);
                    }
                    double ts = nGen / ((System.nanoTime() - t0) / 1e9);
                    if (r >= 0) {
                        s[r] = ts;
                    }
                }
                rows.add(row("tg" + nGen, 0, nGen, s, perToken));
            } else if (nGen > 0) {
                rows.addAll(depthRows(m, linear, perToken, rng));
            }
            for (int b : streams) {
                rows.add(parallelRow(tf, b, perToken, logits));
            }
        }
        long rss = peakRssBytes();
        if (json) {
            printJson(rows, fileSize, params, bpw, density, nThreads, rss, kernels, desc, layouts);
        } else {
            System.out.printf("| %-26s | %10s | %8s | %-14s | %7s | %8s | %16s | %5s | %7s | %8s |%n", "model", "size", "params",
                    "backend", "threads", "test", "t/s", "bpw", "density", "eff GB/s");
            System.out.printf("| %-26s | %10s | %8s | %-14s | %7s | %8s | %16s | %5s | %7s | %8s |%n", "-".repeat(26), "---------:",
                    "-------:", "-".repeat(14), "------:", "-------:", "---------------:", "----:", "------:", "-------:");
            for (Row r : rows) {
                System.out.printf(Locale.ROOT, "| %-26s | %10s | %8s | %-14s | %7d | %8s | %7.2f ± %6.2f | %5.2f | %7.3f | %8s |%n",
                        desc, Units.bytes(fileSize), params >= 1e9 ? String.format(Locale.ROOT, "%.2f B", params / 1e9)
                                : String.format(Locale.ROOT, "%.2f M", params / 1e6), "CPU " + kernels, nThreads, r.test, r.mean, r.sd, bpw,
                        density, r.effGbps > 0 ? String.format(Locale.ROOT, "%.1f", r.effGbps) : "");
            }
            System.out.printf("%npeak RSS %s (model file %s)%n", Units.bytes(rss), Units.bytes(fileSize));
            System.out.println("in memory: " + (layouts.isEmpty() ? "the file's layouts" : describeLayouts(layouts)));
        }
        return 0;
    }

    /** The cache types of {@code --cache-type}, a comma list here. */
    List<KvEncoding> encodings() {
        cache.requireFull("bench");
        List<KvEncoding> e = new ArrayList<>();
        for (String t : cache.cacheType.split(",")) {
            try {
                e.add(KvEncoding.parse(t));
            } catch (IllegalArgumentException x) {
                throw new UserException(x.getMessage());
            }
        }
        return e;
    }

    /**
     * tg at each depth for each cache type. The f32 cache is filled by running D random tokens
     * through the model; the other types get the same keys and values re-encoded (decode speed
     * depends on how many positions there are and how they are stored, not on their values), which
     * saves a prefill per type. Each repetition decodes with every type in turn, from depth D.
     */
    private List<Row> depthRows(Model m, Linear linear, long perToken, SplittableRandom rng) {
        List<KvEncoding> types = encodings();
        int maxCtx = m.config().contextLength();
        List<Row> out = new ArrayList<>();
        int vocab = m.config().vocabSize();
        float[] logits = new float[vocab];
        for (String ds : depths) {
            int d;
            try {
                d = ds.trim().equalsIgnoreCase("max") ? maxCtx - nGen - 1 : Integer.parseInt(ds.trim());
            } catch (NumberFormatException e) {
                throw new UserException("--depth takes numbers or 'max', not '" + ds + "'");
            }
            if (d < 1) {
                throw new UserException("--depth must be at least 1 (and 'max' needs a context above -n): " + ds);
            }
            Transformer tf = new Transformer(m.config(), m.weights(), linear, Math.min(d, 256));
            KvCache[] caches = new KvCache[types.size()];
            KvCache fill = tf.newCache(d + nGen + 1);
            tf.forward(rng.ints(d, 0, vocab).toArray(), 0, d, fill, new float[vocab], 1);
            float[] k = new float[m.config().kvDim()];
            float[] v = new float[m.config().kvDim()];
            for (int i = 0; i < types.size(); i++) {
                caches[i] = types.get(i) == KvEncoding.F32 ? fill : tf.newCache(d + nGen + 1, types.get(i), cache.residual());
                if (caches[i] != fill) {
                    for (int p = 0; p < d; p++) {
                        for (int l = 0; l < m.config().layers(); l++) {
                            fill.get(l, p, k, v);
                            caches[i].put(l, p, k, 0, v, 0);
                        }
                    }
                    caches[i].extendTo(d);
                }
            }
            // Interleaved token by token (type 0, 1, 2, 0, 1, 2, ...), so that a load change on a shared
            // machine hits every type alike; a repetition's tokens/s is nGen over its summed step times.
            double[][] s = new double[types.size()][reps];
            for (int r = -warmup; r < reps; r++) {
                long[] nanos = new long[types.size()];
                int[][] tok = new int[types.size()][];
                for (int i = 0; i < types.size(); i++) {
                    caches[i].truncate(d);
                    tok[i] = new int[] {1};
                }
                for (int j = 0; j < nGen; j++) {
                    for (int i = 0; i < types.size(); i++) {
                        long t0 = System.nanoTime();
                        tf.forward(tok[i], 0, 1, caches[i], logits, 1);
                        nanos[i] += System.nanoTime() - t0;
                        tok[i][0] = argmax(logits, vocab);
                    }
                }
                for (int i = 0; i < types.size() && r >= 0; i++) {
                    s[i][r] = nGen / (nanos[i] / 1e9);
                }
            }
            for (int i = 0; i < types.size(); i++) {
                out.add(row("tg" + nGen + "@d" + d + " " + types.get(i).name().toLowerCase(Locale.ROOT), d, nGen, s[i], perToken));
            }
        }
        return out;
    }

    /**
     * tg with {@code b} sequences in one batch: each step runs one new token of every sequence
     * through {@link Transformer#forwardBatch} (what the server's scheduler forms with b streams
     * decoding), greedy per sequence from distinct start tokens. A repetition's tokens/s is b·nGen
     * over its time; the weights are streamed once per step, so eff GB/s is per step, not per token.
     */
    private Row parallelRow(Transformer tf, int b, long perToken, float[] logits) {
        int vocab = tf.config().vocabSize();
        KvCache[] caches = new KvCache[b];
        int[][] tok = new int[b][];
        List<Transformer.BatchEntry> entries = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            caches[i] = tf.newCache(nGen + 1, encodings().get(0), cache.residual());
        }
        double[] s = new double[reps];
        for (int r = -warmup; r < reps; r++) {
            entries.clear();
            for (int i = 0; i < b; i++) {
                caches[i].truncate(0);
                tok[i] = new int[] {1 + i % (vocab - 1)};
                entries.add(new Transformer.BatchEntry(caches[i], tok[i], 0, 1));
            }
            long t0 = System.nanoTime();
            for (int j = 0; j < nGen; j++) {
                tf.forwardBatch(entries, logits);
                for (int i = 0; i < b; i++) {
                    tok[i][0] = argmax(logits, i * vocab, vocab);
                }
            }
            double ts = (double) b * nGen / ((System.nanoTime() - t0) / 1e9);
            if (r >= 0) {
                s[r] = ts;
            }
        }
        return row("tg" + nGen + " x" + b, 0, nGen, b, s, perToken / b);
    }

    private static Row row(String test, int np, int ng, double[] s, long bytesPerToken) {
        return row(test, np, ng, 1, s, bytesPerToken);
    }

    /** Mean and sample standard deviation of {@code s}; eff GB/s = {@code bytesPerToken} × the mean. */
    private static Row row(String test, int np, int ng, int parallel, double[] s, long bytesPerToken) {
        double mean = 0;
        for (double v : s) {
            mean += v;
        }
        mean /= s.length;
        double var = 0;
        for (double v : s) {
            var += (v - mean) * (v - mean);
        }
        double sd = s.length > 1 ? Math.sqrt(var / (s.length - 1)) : 0;
        return new Row(test, np, ng, parallel, s, mean, sd, bytesPerToken * mean / 1e9);
    }

    private static int argmax(float[] a, int n) {
        return argmax(a, 0, n);
    }

    /** The index (from {@code off}) of the largest of {@code a[off .. off + n)}. */
    private static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[off + i] > a[off + best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Stored weights over all weights of the matrices the forward pass multiplies (every matrix but
     * the embedding, unless it doubles as the output): 1.0 for a dense model.
     */
    static double density(Model m) {
        double stored = 0;
        double all = 0;
        var embd = m.weights().tokenEmbedding();
        for (var t : m.weights().matrices()) {
            if (t == embd && m.weights().output() != embd) {
                continue;
            }
            stored += t.encoding().density() * t.elementCount();
            all += t.elementCount();
        }
        return all == 0 ? 1.0 : stored / all;
    }

    static String describe(Model m) {
        var c = m.config();
        long p = m.parameterCount();
        String size = p >= 1e9 ? String.format(Locale.ROOT, "%.1fB", p / 1e9) : String.format(Locale.ROOT, "%dM", Math.round(p / 1e6));
        String type = m.metadata().optString("general.file_type_name").orElse(dominantEncoding(m));
        return c.architecture() + " " + size + " " + type;
    }

    private static String dominantEncoding(Model m) {
        var bytes = new TreeMap<String, Long>();
        for (var t : m.weights().matrices()) {
            bytes.merge(t.encoding().name(), t.byteSize(), Long::sum);
        }
        return bytes.entrySet().stream().max(java.util.Map.Entry.comparingByValue()).map(java.util.Map.Entry::getKey).orElse("?");
    }

    /**
     * The layouts {@code loaded}'s matrices took where they differ from {@code file}'s (the same matrices,
     * in the same order): file encoding → in-memory layout → matrices, in name order. A sparse type may
     * take two (a matrix that does not fit the tile-indexed layout keeps another).
     */
    static Map<String, Map<String, Integer>> layouts(Model file, Model loaded) {
        var from = file.weights().matrices();
        var to = loaded.weights().matrices();
        var out = new TreeMap<String, Map<String, Integer>>();
        for (int i = 0; i < Math.min(from.size(), to.size()); i++) {
            String a = from.get(i).encoding().name(), b = to.get(i).encoding().name();
            if (!a.equals(b)) {
                out.computeIfAbsent(a, k -> new TreeMap<>()).merge(b, 1, Integer::sum);
            }
        }
        return out;
    }

    /** "Q4_B77 as Q4_0_R16 (154), Q6_K as Q6_K_R16 (1)". */
    static String describeLayouts(Map<String, Map<String, Integer>> layouts) {
        var parts = new ArrayList<String>();
        layouts.forEach((from, tos) -> tos.forEach((to, n) -> parts.add(from + " as " + to + " (" + n + ")")));
        return String.join(", ", parts);
    }

    /** VmHWM from /proc/self/status (Linux), or 0 when unavailable. */
    static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    private void printJson(List<Row> rows, long size, long params, double bpw, double density, int nThreads, long rss, String kernels,
            String desc, Map<String, Map<String, Integer>> layouts) {
        StringBuilder lay = new StringBuilder("{");
        layouts.forEach((from, tos) -> {
            lay.append(lay.length() > 1 ? ", " : "").append('"').append(jsonEscape(from)).append("\": {");
            int[] k = {0};
            tos.forEach((to, n) -> lay.append(k[0]++ > 0 ? ", " : "").append('"').append(jsonEscape(to)).append("\": ").append(n));
            lay.append('}');
        });
        lay.append('}');
        StringBuilder sb = new StringBuilder("[\n");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            StringBuilder samples = new StringBuilder("[");
            for (int k = 0; k < r.samples.length; k++) {
                samples.append(k > 0 ? ", " : "").append(String.format(Locale.ROOT, "%.4f", r.samples[k]));
            }
            samples.append(']');
            sb.append(String.format(Locale.ROOT, """
                      {"build": "sieve 0.1.0", "backends": "CPU", "kernels": "%s", "model_filename": "%s", "model_type": "%s",
                       "model_size": %d, "model_n_params": %d, "n_threads": %d, "n_prompt": %d, "n_gen": %d, "n_parallel": %d, "test": "%s",
                       "avg_ts": %.4f, "stddev_ts": %.4f, "samples_ts": %s, "bpw": %.4f, "density": %.4f, "eff_gbps": %.3f, "peak_rss": %d,
                       "layouts": %s}%s
                    """, kernels, jsonEscape(model.toString()), jsonEscape(desc), size, params, nThreads, r.nPrompt, r.nGen,
                    r.parallel, r.test, r.mean, r.sd, samples, bpw, density, r.effGbps, rss, lay, i < rows.size() - 1 ? "," : ""));
        }
        System.out.print(sb.append("]\n"));
    }

    private static String jsonEscape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
