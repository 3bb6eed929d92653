package dev.sieve.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "loadtest", mixinStandardHelpOptions = true,
        description = "Sends streamed completions to a running 'sieve serve' (or any OpenAI-compatible server) and "
                + "reports throughput, time to first token and inter-token latency.",
        footer = {"%nExamples:", "  sieve loadtest --url http://127.0.0.1:8080 --concurrency 8 --requests 32 --max-tokens 64",
            "  sieve loadtest --url http://127.0.0.1:8080 --warmup 1 --concurrency 1,8 --requests 8 --max-tokens 128 --ignore-eos",
            "  sieve loadtest --url http://127.0.0.1:8080 --concurrency 4 --requests 16 --long-prompt 1024",
            "  sieve loadtest --url http://127.0.0.1:8080 --rate 0.5 --duration 600 --max-tokens 32   (soak)"})
final class LoadtestCommand implements Callable<Integer> {
    @Option(names = "--url", defaultValue = "http://127.0.0.1:8080", description = "server base URL (default: ${DEFAULT-VALUE})")
    String url;

    @Option(names = "--concurrency", defaultValue = "1", split = ",", paramLabel = "C[,C...]",
            description = "requests in flight; several levels (e.g. 1,8) run one after another, each with its own "
                    + "prompts, and end with a table that compares each level's throughput with the first's "
                    + "(default: ${DEFAULT-VALUE})")
    List<Integer> concurrency;

    @Option(names = "--requests", defaultValue = "8",
            description = "requests in all, per concurrency level (at least the level itself) (default: ${DEFAULT-VALUE})")
    int requests;

    @Option(names = "--warmup", defaultValue = "0", paramLabel = "N",
            description = "send N requests of up to 16 tokens first, one at a time, and leave them out of the "
                    + "figures (the server's JIT compiles its paths on the first ones) (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--max-tokens", defaultValue = "64", description = "tokens per completion (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--prompt-words", defaultValue = "16", description = "words in each prompt (default: ${DEFAULT-VALUE})")
    int promptWords;

    @Option(names = "--long-prompt", defaultValue = "0", paramLabel = "WORDS",
            description = "also send one prompt of this many words once the others stream, and report the others' "
                    + "inter-token latency while it is prefilled")
    int longPrompt;

    @Option(names = "--long-prompt-after", defaultValue = "1", paramLabel = "SECONDS",
            description = "send the long prompt this long after the start; the others' inter-token latency in the "
                    + "second half of that time is the baseline it is compared with (default: ${DEFAULT-VALUE})")
    double longPromptAfter;

    @Option(names = "--run", defaultValue = "0", paramLabel = "N",
            description = "a number that starts every prompt when not 0, so that a repeated run against the same "
                    + "server (one warmed up by a first run, say) finds nothing in its prefix cache (default: 0)")
    int run;

    @Option(names = "--ignore-eos",
            description = "ask for exactly --max-tokens tokens a request ('ignore_eos', a llama.cpp and vLLM extension "
                    + "that OpenAI's own API rejects), so no stream ends early and a concurrency level's throughput "
                    + "is measured with that many streams throughout")
    boolean ignoreEos;

    @Option(names = "--api-key", description = "bearer token")
    String apiKey;

    @Option(names = "--duration", defaultValue = "0", paramLabel = "SECONDS",
            description = "soak mode: send --rate requests per second for this long (open loop, whatever the answers' "
                    + "pace), then wait for the last ones; fails on any failed request, samples the server's /metrics "
                    + "(memory, queue, KV blocks) every --sample-every seconds and checks that nothing was left behind")
    int duration;

    @Option(names = "--rate", defaultValue = "1", paramLabel = "R",
            description = "soak mode: requests per second, evenly spaced (default: ${DEFAULT-VALUE})")
    double rate;

    @Option(names = "--sample-every", defaultValue = "30", paramLabel = "SECONDS",
            description = "soak mode: seconds between /metrics samples (default: ${DEFAULT-VALUE})")
    int sampleEvery;

    private static final Pattern COMPLETION_TOKENS = Pattern.compile("\"completion_tokens\":(\\d+)");

    /** One streamed request's timing: submission, each chunk's arrival (ns), tokens from usage. */
    record Trace(long start, List<Long> arrivals, int tokens) {}

    @Override
    public Integer call() throws Exception {
        if (concurrency.stream().anyMatch(c -> c < 1 || c > 10_000) || warmup < 0 || warmup > 1000
                || requests < 1 || maxTokens < 1 || promptWords < 1 || longPrompt < 0 || requests > 100_000
                || duration < 0 || duration > 24 * 3600 || !(rate > 0 && rate <= 1000) || sampleEvery < 1
                || !(longPromptAfter >= 0 && longPromptAfter <= 3600)) {
            throw new UserException("loadtest options out of range");
        }
        if (!url.startsWith("http://") && !url.startsWith("https://")) {
            throw new UserException("--url must start with http:// or https://");
        }
        if (longPrompt > 0 && concurrency.size() > 1) {
            throw new UserException("--long-prompt takes one --concurrency level");
        }
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        for (int i = 0; i < warmup; i++) {
            send(http, prompt(promptWords, i, "warm-up " + i + ":"), Math.min(16, maxTokens), i);
        }
        if (duration > 0) {
            return soak(http);
        }
        List<Level> levels = new ArrayList<>();
        for (int c : concurrency) {
            levels.add(level(http, c, concurrency.size() > 1 ? "c" + c + ":" : ""));
        }
        if (levels.size() > 1) {
            System.out.println();
            System.out.println("| concurrency | requests | tokens | tokens/s | vs first | TTFT p50 / p99 (ms) | ITL p50 / p99 (ms) |");
            System.out.println("|---:|---:|---:|---:|---:|---|---|");
            for (Level l : levels) {
                System.out.printf("| %d | %d | %d | %.1f | %.2f× | %.1f / %.1f | %.1f / %.1f |%n", l.concurrency(),
                        l.requests(), l.tokens(), l.tokensPerSecond(),
                        l.tokensPerSecond() / levels.get(0).tokensPerSecond(), l.ttft50(), l.ttft99(), l.itl50(),
                        l.itl99());
            }
        }
        return 0;
    }

    /** One concurrency level's figures. */
    record Level(int concurrency, int requests, long tokens, double tokensPerSecond, double ttft50, double ttft99,
            double itl50, double itl99) {}

    /** Runs one concurrency level (its prompts start with {@code tag}) and prints its figures. */
    private Level level(HttpClient http, int concurrency, String tag) throws Exception {
        int requests = Math.max(this.requests, concurrency);
        List<Trace> traces = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger next = new AtomicInteger();
        long t0 = System.nanoTime();
        Trace longTrace;
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> workers = new ArrayList<>();
            for (int w = 0; w < concurrency; w++) {
                int seed = w;
                workers.add(ex.submit(() -> {
                    for (int i; (i = next.getAndIncrement()) < requests; ) {
                        traces.add(send(http, prompt(promptWords, i, tag), maxTokens, seed * 1000 + i));
                    }
                    return null;
                }));
            }
            Future<Trace> lf = null;
            if (longPrompt > 0) {
                Thread.sleep((long) (longPromptAfter * 1000)); // let the short streams reach steady decoding first
                lf = ex.submit(() -> send(http, prompt(longPrompt, 999_999, ""), 8, 1));
            }
            for (Future<?> f : workers) {
                f.get();
            }
            longTrace = lf == null ? null : lf.get();
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        List<Double> ttft = new ArrayList<>();
        List<Double> itl = new ArrayList<>();
        List<Double> itlDuringLong = new ArrayList<>();
        List<Double> itlBeforeLong = new ArrayList<>();
        long tokens = 0;
        for (Trace t : traces) {
            tokens += t.tokens();
            if (t.arrivals().isEmpty()) {
                continue;
            }
            ttft.add((t.arrivals().get(0) - t.start()) / 1e6);
            for (int i = 1; i < t.arrivals().size(); i++) {
                long at = t.arrivals().get(i);
                double ms = (at - t.arrivals().get(i - 1)) / 1e6;
                itl.add(ms);
                if (longTrace != null && !longTrace.arrivals().isEmpty() && at >= longTrace.start()
                        && at <= longTrace.arrivals().get(0)) {
                    itlDuringLong.add(ms);
                } else if (longTrace != null && at < longTrace.start()
                        && at >= longTrace.start() - (long) (longPromptAfter * 0.5e9)) {
                    itlBeforeLong.add(ms);
                }
            }
        }
        System.out.printf("requests %d, concurrency %d, generated %d tokens in %.2f s: %.1f tokens/s%n",
                traces.size(), concurrency, tokens, wall, tokens / wall);
        System.out.printf("TTFT ms: p50 %.1f  p99 %.1f%n", pct(ttft, 50), pct(ttft, 99));
        System.out.printf("ITL  ms: p50 %.1f  p99 %.1f%n", pct(itl, 50), pct(itl, 99));
        if (longTrace != null) {
            System.out.printf("long prompt (%d words): first token after %.1f ms; ITL of the others meanwhile: "
                    + "n %d  p50 %.1f  p99 %.1f  max %.1f ms%n", longPrompt,
                    longTrace.arrivals().isEmpty() ? Double.NaN : (longTrace.arrivals().get(0) - longTrace.start()) / 1e6,
                    itlDuringLong.size(), pct(itlDuringLong, 50), pct(itlDuringLong, 99), pct(itlDuringLong, 100));
            System.out.printf("their ITL in the %.1f s before it: n %d  p50 %.1f  p99 %.1f ms; p99 meanwhile / p50 before: %.2f%n",
                    longPromptAfter / 2, itlBeforeLong.size(), pct(itlBeforeLong, 50), pct(itlBeforeLong, 99),
                    pct(itlDuringLong, 99) / pct(itlBeforeLong, 50));
        }
        return new Level(concurrency, traces.size(), tokens, tokens / wall, pct(ttft, 50), pct(ttft, 99), pct(itl, 50),
                pct(itl, 99));
    }

    /** A request's end in soak mode: its trace, or why it failed. */
    private record Outcome(Trace trace, String failure) {}

    /**
     * Open-loop soak: one request every 1/rate seconds for {@code duration} seconds, each on its own
     * virtual thread, whatever the server's pace; then the server must be idle with nothing left behind.
     */
    private int soak(HttpClient http) throws Exception {
        long periodNanos = (long) (1e9 / rate);
        int total = (int) Math.ceil(duration * rate);
        List<Future<Outcome>> outcomes = new ArrayList<>();
        List<String> samples = new ArrayList<>();
        System.out.printf("soak: %d requests at %.3f/s over %d s, %d tokens each, sampling /metrics every %d s%n",
                total, rate, duration, maxTokens, sampleEvery);
        samples.add(sample(http, 0));
        long t0 = System.nanoTime();
        long nextSample = t0 + sampleEvery * 1_000_000_000L;
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < total; i++) {
                long due = t0 + i * periodNanos;
                for (long now; (now = System.nanoTime()) < due; ) {
                    if (now >= nextSample) {
                        samples.add(sample(http, (now - t0) / 1e9));
                        nextSample += sampleEvery * 1_000_000_000L;
                    }
                    Thread.sleep(Math.max(1, Math.min((due - now) / 1_000_000, (nextSample - now) / 1_000_000)));
                }
                int n = i;
                outcomes.add(ex.submit(() -> {
                    try {
                        Trace t = send(http, prompt(promptWords, n, ""), maxTokens, n);
                        return new Outcome(t, t.tokens() < 1 ? "no usage or no tokens" : null);
                    } catch (Exception e) {
                        return new Outcome(null, e.toString());
                    }
                }));
            }
            for (Future<Outcome> f : outcomes) {
                while (!f.isDone()) {
                    long now = System.nanoTime();
                    if (now >= nextSample) {
                        samples.add(sample(http, (now - t0) / 1e9));
                        nextSample += sampleEvery * 1_000_000_000L;
                    }
                    Thread.sleep(100);
                }
            }
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        Thread.sleep(500); // the engine publishes its counters after each step
        samples.add(sample(http, wall + 0.5));
        List<Double> ttft = new ArrayList<>();
        List<Double> itl = new ArrayList<>();
        long tokens = 0;
        int failed = 0;
        for (Future<Outcome> f : outcomes) {
            Outcome o = f.get();
            if (o.failure() != null) {
                failed++;
                if (failed <= 5) {
                    System.out.println("failed: " + o.failure());
                }
                continue;
            }
            Trace t = o.trace();
            tokens += t.tokens();
            if (t.arrivals().isEmpty()) {
                continue;
            }
            ttft.add((t.arrivals().get(0) - t.start()) / 1e6);
            for (int i = 1; i < t.arrivals().size(); i++) {
                itl.add((t.arrivals().get(i) - t.arrivals().get(i - 1)) / 1e6);
            }
        }
        System.out.printf("requests %d, failed %d, generated %d tokens in %.1f s: %.2f tokens/s%n",
                outcomes.size(), failed, tokens, wall, tokens / wall);
        System.out.printf("TTFT ms: p50 %.1f  p99 %.1f%n", pct(ttft, 50), pct(ttft, 99));
        System.out.printf("ITL  ms: p50 %.1f  p99 %.1f%n", pct(itl, 50), pct(itl, 99));
        System.out.println("samples (t s, RSS MiB, heap used MiB, heap after the latest GC MiB, heap committed MiB, queue, "
                + "running, KV blocks used, submitted, finished, cancelled):");
        samples.forEach(System.out::println);
        Map<String, Double> end = metrics(http);
        long submitted = Math.round(end.getOrDefault("sieve_requests_submitted_total", Double.NaN));
        long finished = Math.round(end.getOrDefault("sieve_requests_finished_total", Double.NaN));
        boolean idle = end.getOrDefault("sieve_running_sequences", -1.0) == 0 && end.getOrDefault("sieve_queue_length", -1.0) == 0
                && end.getOrDefault("sieve_kv_blocks_used", -1.0) == 0;
        System.out.printf("end: server idle with no KV block held: %s; submitted %d = finished %d: %s%n", idle, submitted,
                finished, submitted == finished);
        return failed == 0 && idle ? 0 : 1;
    }

    /** One /metrics sample as a line; "unavailable" when the server does not answer. */
    private String sample(HttpClient http, double at) {
        try {
            Map<String, Double> m = metrics(http);
            return String.format("%7.1f  %7.1f  %7.1f  %7.1f  %7.1f  %3.0f  %3.0f  %4.0f  %6.0f  %6.0f  %4.0f", at,
                    m.getOrDefault("process_resident_memory_bytes", Double.NaN) / (1 << 20),
                    m.getOrDefault("jvm_memory_heap_used_bytes", Double.NaN) / (1 << 20),
                    m.getOrDefault("jvm_memory_heap_after_gc_bytes", Double.NaN) / (1 << 20),
                    m.getOrDefault("jvm_memory_heap_committed_bytes", Double.NaN) / (1 << 20),
                    m.getOrDefault("sieve_queue_length", Double.NaN), m.getOrDefault("sieve_running_sequences", Double.NaN),
                    m.getOrDefault("sieve_kv_blocks_used", Double.NaN),
                    m.getOrDefault("sieve_requests_submitted_total", Double.NaN),
                    m.getOrDefault("sieve_requests_finished_total", Double.NaN),
                    m.getOrDefault("sieve_requests_cancelled_total", Double.NaN));
        } catch (Exception e) {
            return String.format("%7.1f  unavailable: %s", at, e);
        }
    }

    /** The server's unlabelled Prometheus samples by name. */
    private Map<String, Double> metrics(HttpClient http) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + "/metrics")).timeout(Duration.ofSeconds(30)).GET();
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        Map<String, Double> out = new HashMap<>();
        for (String line : http.send(b.build(), HttpResponse.BodyHandlers.ofString()).body().split("\n")) {
            int sp = line.indexOf(' ');
            if (line.startsWith("#") || sp < 0 || line.indexOf('{') >= 0) {
                continue;
            }
            try {
                out.put(line.substring(0, sp), Double.parseDouble(line.substring(sp + 1).trim()));
            } catch (NumberFormatException ignored) {
                // not a plain sample
            }
        }
        return out;
    }

    /** Prompt {@code salt} of {@code words} words; {@code tag} (and the run number when set) starts it. */
    private String prompt(int words, int salt, String tag) {
        return words(words, salt, (run == 0 ? "" : "run " + run + ":") + tag);
    }

    /** {@code words} words of a small vocabulary, in an order {@code salt} picks, after {@code start}. */
    static String words(int words, int salt, String start) {
        String[] vocab = {"the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "ran", "far", "away"};
        StringBuilder sb = new StringBuilder(start);
        for (int i = 0; i < words; i++) {
            sb.append(i == 0 && start.isEmpty() ? "" : " ").append(vocab[(i * 7 + salt) % vocab.length]);
        }
        return sb.toString();
    }

    private Trace send(HttpClient http, String prompt, int max, long seed) throws Exception {
        String body = "{\"prompt\":\"" + prompt + "\",\"max_tokens\":" + max + ",\"temperature\":1,\"seed\":" + seed
                + (ignoreEos ? ",\"ignore_eos\":true" : "") + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + "/v1/completions"))
                .timeout(Duration.ofMinutes(10)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        long start = System.nanoTime();
        HttpResponse<java.io.InputStream> r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        List<Long> arrivals = new ArrayList<>();
        int tokens = 0;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            if (r.statusCode() != 200) {
                throw new UserException("server answered " + r.statusCode() + ": " + in.readLine());
            }
            boolean done = false;
            for (String line; (line = in.readLine()) != null; ) {
                if (line.equals("data: [DONE]")) {
                    done = true;
                }
                if (!line.startsWith("data: ") || done) {
                    continue;
                }
                if (line.startsWith("data: {\"error\"")) {
                    throw new UserException("the stream carried an error: " + line);
                }
                Matcher m = COMPLETION_TOKENS.matcher(line);
                if (m.find()) {
                    tokens = Integer.parseInt(m.group(1));
                } else if (line.contains("\"finish_reason\":null")) {
                    arrivals.add(System.nanoTime());
                }
            }
            if (!done) {
                throw new UserException("the stream ended without data: [DONE]");
            }
        }
        return new Trace(start, arrivals, tokens);
    }

    static double pct(List<Double> xs, double p) {
        if (xs.isEmpty()) {
            return Double.NaN;
        }
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        int i = (int) Math.ceil(p / 100 * s.size()) - 1;
        return s.get(Math.max(0, Math.min(s.size() - 1, i)));
    }
}
