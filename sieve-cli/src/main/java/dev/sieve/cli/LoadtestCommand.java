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
import java.util.List;
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
            "  sieve loadtest --url http://127.0.0.1:8080 --concurrency 4 --requests 16 --long-prompt 1024"})
final class LoadtestCommand implements Callable<Integer> {
    @Option(names = "--url", defaultValue = "http://127.0.0.1:8080", description = "server base URL (default: ${DEFAULT-VALUE})")
    String url;

    @Option(names = "--concurrency", defaultValue = "1", description = "requests in flight (default: ${DEFAULT-VALUE})")
    int concurrency;

    @Option(names = "--requests", defaultValue = "8", description = "requests in all (default: ${DEFAULT-VALUE})")
    int requests;

    @Option(names = "--max-tokens", defaultValue = "64", description = "tokens per completion (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--prompt-words", defaultValue = "16", description = "words in each prompt (default: ${DEFAULT-VALUE})")
    int promptWords;

    @Option(names = "--long-prompt", defaultValue = "0", paramLabel = "WORDS",
            description = "also send one prompt of this many words once the others stream, and report the others' "
                    + "inter-token latency while it is prefilled")
    int longPrompt;

    @Option(names = "--api-key", description = "bearer token")
    String apiKey;

    private static final Pattern COMPLETION_TOKENS = Pattern.compile("\"completion_tokens\":(\\d+)");

    /** One streamed request's timing: submission, each chunk's arrival (ns), tokens from usage. */
    record Trace(long start, List<Long> arrivals, int tokens) {}

    @Override
    public Integer call() throws Exception {
        if (concurrency < 1 || requests < 1 || maxTokens < 1 || promptWords < 1 || longPrompt < 0 || requests > 100_000) {
            throw new UserException("loadtest options out of range");
        }
        if (!url.startsWith("http://") && !url.startsWith("https://")) {
            throw new UserException("--url must start with http:// or https://");
        }
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
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
                        traces.add(send(http, prompt(promptWords, i), maxTokens, seed * 1000 + i));
                    }
                    return null;
                }));
            }
            Future<Trace> lf = null;
            if (longPrompt > 0) {
                Thread.sleep(1000); // let the short streams reach steady decoding first
                lf = ex.submit(() -> send(http, prompt(longPrompt, 999_999), 8, 1));
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
        }
        return 0;
    }

    static String prompt(int words, int salt) {
        String[] vocab = {"the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "ran", "far", "away"};
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words; i++) {
            sb.append(i == 0 ? "" : " ").append(vocab[(i * 7 + salt) % vocab.length]);
        }
        return sb.toString();
    }

    private Trace send(HttpClient http, String prompt, int max, long seed) throws Exception {
        String body = "{\"prompt\":\"" + prompt + "\",\"max_tokens\":" + max + ",\"temperature\":1,\"seed\":" + seed
                + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
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
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                    continue;
                }
                Matcher m = COMPLETION_TOKENS.matcher(line);
                if (m.find()) {
                    tokens = Integer.parseInt(m.group(1));
                } else if (line.contains("\"finish_reason\":null")) {
                    arrivals.add(System.nanoTime());
                }
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
