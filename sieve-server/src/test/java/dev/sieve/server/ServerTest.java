package dev.sieve.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.model.synth.ModelShape;
import dev.sieve.model.synth.SyntheticModelWriter;
import dev.sieve.runtime.engine.Engine;
import dev.sieve.runtime.engine.Session;
import dev.sieve.runtime.sample.SamplingParams;
import dev.sieve.server.bridge.OpenAiBridge;
import dev.sieve.server.http.SieveHttpServer;
import dev.sieve.tokenizer.Tokenizer;
import dev.sieve.tokenizer.Tokenizers;
import dev.sieve.tokenizer.chat.ChatTemplate;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Black-box tests over loopback HTTP against a tiny synthetic model. */
class ServerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static Path dir;
    static WorkerPool pool;
    static Model model;
    static Tokenizer tok;
    static Linear linear;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void load() throws Exception {
        dir = Files.createTempDirectory("sieve-server-test");
        Path f = dir.resolve("tiny.gguf");
        pool = new WorkerPool(2);
        new SyntheticModelWriter(ModelShape.byName("tiny"), SyntheticModelWriter.TypeMix.parse("Q8_0"), 7)
                .write(f, pool, (i, n, s) -> {});
        model = ModelLoader.load(f);
        tok = Tokenizers.fromGguf(model.metadata());
        linear = new Linear(KernelProvider.get(), pool);
    }

    @AfterAll
    static void unload() throws Exception {
        model.close();
        pool.close();
        Files.deleteIfExists(dir.resolve("tiny.gguf"));
        Files.deleteIfExists(dir);
    }

    /** A started engine and server; closing stops both. */
    record Srv(Engine engine, SieveHttpServer http, String base, String key) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            http.close();
            engine.close();
        }
    }

    static Srv start(Engine.Config cfg, String key, int maxBody) throws Exception {
        Engine e = new Engine(model, tok, linear, cfg).start();
        OpenAiBridge bridge = new OpenAiBridge(e, ChatTemplate.fromGguf(model.metadata()), "tiny");
        SieveHttpServer s = new SieveHttpServer(new SieveHttpServer.Options("127.0.0.1", 0, key, maxBody, 2), bridge).start();
        return new Srv(e, s, "http://127.0.0.1:" + s.port(), key);
    }

    static Srv start() throws Exception {
        return start(new Engine.Config(256, 4, 64, 16, 0), null, 1 << 20);
    }

    static HttpResponse<String> post(Srv s, String path, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.base() + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(Srv s, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.base() + path)).timeout(Duration.ofSeconds(30)).GET();
        if (headers.length > 0) {
            b.headers(headers);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The JSON payloads of an SSE body, and whether it ended with [DONE]. */
    static List<JsonNode> events(String body) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        boolean done = false;
        for (String ev : body.split("\n\n")) {
            if (ev.isBlank() || ev.startsWith(":")) {
                continue;
            }
            assertTrue(ev.startsWith("data: "), "SSE event without data: " + ev);
            assertFalse(done, "data after [DONE]");
            String data = ev.substring(6).trim();
            if (data.equals("[DONE]")) {
                done = true;
            } else {
                out.add(JSON.readTree(data));
            }
        }
        assertTrue(done, "stream did not end with data: [DONE]");
        return out;
    }

    static long metric(Srv s, String name) throws Exception {
        HttpResponse<String> r = s.key() == null ? get(s, "/metrics") : get(s, "/metrics", "Authorization", "Bearer " + s.key());
        for (String line : r.body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return (long) Double.parseDouble(line.substring(name.length() + 1));
            }
        }
        throw new AssertionError("metric " + name + " missing");
    }

    static String chatBody(String content, int maxTokens, String extra) {
        return "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":" + quote(content) + "}],"
                + "\"max_tokens\":" + maxTokens + ",\"temperature\":0" + extra + "}";
    }

    static String quote(String s) {
        try {
            return JSON.writeValueAsString(s);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static void assertError(HttpResponse<String> r, int status, String param) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertNotNull(e, r.body());
        assertTrue(e.get("message").isTextual() && !e.get("message").asText().isEmpty());
        assertTrue(e.has("type") && e.has("param") && e.has("code"), r.body());
        if (param != null) {
            assertEquals(param, e.get("param").asText(), r.body());
        }
    }

    @Test
    void chatCompletionNonStreamHasOpenAiShape() throws Exception {
        try (Srv s = start()) {
            HttpResponse<String> r = post(s, "/v1/chat/completions", chatBody("Hello there", 12, ""));
            assertEquals(200, r.statusCode(), r.body());
            JsonNode j = JSON.readTree(r.body());
            assertTrue(j.get("id").asText().startsWith("chatcmpl-"));
            assertEquals("chat.completion", j.get("object").asText());
            assertTrue(j.get("created").asLong() > 1_600_000_000L);
            assertEquals("tiny", j.get("model").asText());
            JsonNode c = j.get("choices").get(0);
            assertEquals(0, c.get("index").asInt());
            assertEquals("assistant", c.get("message").get("role").asText());
            assertTrue(c.get("message").get("content").isTextual());
            assertTrue(List.of("stop", "length").contains(c.get("finish_reason").asText()));
            JsonNode u = j.get("usage");
            assertTrue(u.get("prompt_tokens").asInt() > 3);
            assertTrue(u.get("completion_tokens").asInt() >= 1 && u.get("completion_tokens").asInt() <= 12);
            assertEquals(u.get("prompt_tokens").asInt() + u.get("completion_tokens").asInt(), u.get("total_tokens").asInt());
        }
    }

    @Test
    void streamedChatMatchesNonStreamedAndReportsUsage() throws Exception {
        try (Srv s = start()) {
            String whole = JSON.readTree(post(s, "/v1/chat/completions", chatBody("Tell me a story", 20, "")).body())
                    .get("choices").get(0).get("message").get("content").asText();
            HttpResponse<String> r = post(s, "/v1/chat/completions",
                    chatBody("Tell me a story", 20, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
            assertEquals(200, r.statusCode());
            assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
            List<JsonNode> ev = events(r.body());
            assertEquals("assistant", ev.get(0).get("choices").get(0).get("delta").get("role").asText());
            StringBuilder text = new StringBuilder();
            String finish = null;
            int contentChunks = 0;
            for (JsonNode e : ev) {
                assertEquals("chat.completion.chunk", e.get("object").asText());
                assertEquals(ev.get(0).get("id").asText(), e.get("id").asText());
                for (JsonNode c : e.get("choices")) {
                    if (c.get("delta").has("content") && !c.get("delta").get("content").isNull() && e != ev.get(0)) {
                        text.append(c.get("delta").get("content").asText());
                        contentChunks++;
                    }
                    if (!c.get("finish_reason").isNull()) {
                        finish = c.get("finish_reason").asText();
                    }
                }
            }
            assertEquals(whole, text.toString());
            assertNotNull(finish);
            JsonNode last = ev.get(ev.size() - 1);
            assertEquals(0, last.get("choices").size());
            int tokens = last.get("usage").get("completion_tokens").asInt();
            assertTrue(tokens >= 1);
            // a chunk per generated token (its text may be empty while undecided), so clients see the pace;
            // only a last token with nothing left to add goes without one
            assertTrue(contentChunks == tokens || contentChunks == tokens - 1, contentChunks + " chunks for " + tokens + " tokens");
        }
    }

    @Test
    void greedyCompletionEqualsSessionGenerate() throws Exception {
        String prompt = "The quick brown fox jumps over";
        Session session = new Session(model, tok, linear, 256, 64);
        String expected = session.generate(tok.encode(prompt, true, true), SamplingParams.greedy(), 24, List.of(), t -> {})
                .text();
        try (Srv s = start()) {
            HttpResponse<String> r = post(s, "/v1/completions",
                    "{\"prompt\":" + quote(prompt) + ",\"max_tokens\":24,\"temperature\":0}");
            assertEquals(200, r.statusCode(), r.body());
            JsonNode j = JSON.readTree(r.body());
            assertEquals("text_completion", j.get("object").asText());
            assertTrue(j.get("id").asText().startsWith("cmpl-"));
            assertEquals(expected, j.get("choices").get(0).get("text").asText());
            // streamed completions give the same text
            String streamed = events(post(s, "/v1/completions",
                    "{\"prompt\":" + quote(prompt) + ",\"max_tokens\":24,\"temperature\":0,\"stream\":true}").body())
                    .stream().map(e -> e.get("choices").get(0).get("text").asText()).reduce("", String::concat);
            assertEquals(expected, streamed);
        }
    }

    @Test
    void concurrentRequestsAllCompleteWithTheirSoloGreedyOutput() throws Exception {
        List<String> prompts = List.of("alpha beta", "one two three four five six", "a", "lorem ipsum dolor sit amet",
                "the cat sat on the mat and then", "zebra");
        List<String> expected = new ArrayList<>();
        for (String p : prompts) {
            Session session = new Session(model, tok, linear, 256, 64);
            expected.add(session.generate(tok.encode(p, true, true), SamplingParams.greedy(), 16, List.of(), t -> {}).text());
        }
        // batch of 8 tokens: the longer prompts are split over steps while others decode
        try (Srv s = start(new Engine.Config(256, 4, 8, 16, 0), null, 1 << 20)) {
            List<CompletableFuture<HttpResponse<String>>> fs = new ArrayList<>();
            for (String p : prompts) {
                fs.add(HTTP.sendAsync(HttpRequest.newBuilder(URI.create(s.base() + "/v1/completions"))
                        .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(
                                "{\"prompt\":" + quote(p) + ",\"max_tokens\":16,\"temperature\":0}")).build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            for (int i = 0; i < prompts.size(); i++) {
                HttpResponse<String> r = fs.get(i).get();
                assertEquals(200, r.statusCode(), r.body());
                assertEquals(expected.get(i), JSON.readTree(r.body()).get("choices").get(0).get("text").asText(),
                        "prompt " + i);
            }
            assertEquals(0, metric(s, "sieve_kv_blocks_used"));
            assertEquals(prompts.size(), metric(s, "sieve_requests_finished_total"));
        }
    }

    /** A greedy 5-token chat with {@code extra}: one entry a token, each ≤ 0 with {@code top} alternatives. */
    static JsonNode chatLogprobs(Srv s, String extra, int top) throws Exception {
        HttpResponse<String> r = post(s, "/v1/chat/completions", chatBody("hi", 5, extra));
        assertEquals(200, r.statusCode(), r.body());
        JsonNode j = JSON.readTree(r.body());
        JsonNode content = j.get("choices").get(0).get("logprobs").get("content");
        assertEquals(j.get("usage").get("completion_tokens").asInt(), content.size());
        for (JsonNode t : content) {
            assertTrue(t.get("logprob").asDouble() <= 0);
            assertEquals(top, t.get("top_logprobs").size());
        }
        return content;
    }

    @Test
    void logprobsReportChosenTokenAndAlternatives() throws Exception {
        try (Srv s = start()) {
            for (JsonNode t : chatLogprobs(s, ",\"logprobs\":true,\"top_logprobs\":3", 3)) {
                // greedy: the chosen token is the most likely one
                assertEquals(t.get("logprob").asDouble(), t.get("top_logprobs").get(0).get("logprob").asDouble(), 1e-6);
                assertTrue(t.get("top_logprobs").get(0).get("logprob").asDouble()
                        >= t.get("top_logprobs").get(1).get("logprob").asDouble());
            }
        }
    }

    /**
     * {@code logprobs: true} alone (no {@code top_logprobs}) gives each token's log-probability and no
     * alternatives; it once threw inside the engine's step and failed every request in flight.
     */
    @Test
    void logprobsWithoutAlternatives() throws Exception {
        try (Srv s = start()) {
            chatLogprobs(s, ",\"logprobs\":true", 0);
        }
    }

    /**
     * {@code ignore_eos} (llama.cpp's and vLLM's extension) reaches the engine: a seed whose completion
     * ends at the end of text without it (the control, searched among 40 seeds)
     * runs to exactly max_tokens with it.
     */
    @Test
    void ignoreEosRunsAStreamThatWouldStopToMaxTokens() throws Exception {
        try (Srv s = start()) {
            String req = "{\"prompt\":\"abc\",\"max_tokens\":200,\"temperature\":2,\"seed\":%d%s}";
            int seed = -1;
            for (int i = 0; i < 40 && seed < 0; i++) {
                JsonNode c = JSON.readTree(post(s, "/v1/completions", req.formatted(i, "")).body());
                if (c.get("choices").get(0).get("finish_reason").asText().equals("stop")) {
                    seed = i;
                }
            }
            assertTrue(seed >= 0, "no control completion ended at the end of text in 40 seeds");
            HttpResponse<String> r = post(s, "/v1/completions", req.formatted(seed, ",\"ignore_eos\":true"));
            assertEquals(200, r.statusCode(), r.body());
            JsonNode j = JSON.readTree(r.body());
            assertEquals(200, j.get("usage").get("completion_tokens").asInt());
            assertEquals("length", j.get("choices").get(0).get("finish_reason").asText());
        }
    }

    @Test
    void modelsHealthAndMetrics() throws Exception {
        try (Srv s = start()) {
            assertEquals(200, get(s, "/health").statusCode());
            JsonNode m = JSON.readTree(get(s, "/v1/models").body());
            assertEquals("list", m.get("object").asText());
            assertEquals("tiny", m.get("data").get(0).get("id").asText());
            assertEquals("model", m.get("data").get(0).get("object").asText());
            post(s, "/v1/completions", "{\"prompt\":\"abc\",\"max_tokens\":4,\"temperature\":0}");
            HttpResponse<String> r = get(s, "/metrics");
            assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
            String body = r.body();
            for (String name : List.of("sieve_queue_length", "sieve_running_sequences", "sieve_kv_blocks_used",
                    "sieve_kv_blocks_total", "sieve_generated_tokens_total", "sieve_time_to_first_token_seconds_bucket",
                    "sieve_inter_token_latency_seconds_count", "sieve_requests_submitted_total", "jvm_memory_heap_used_bytes")) {
                assertTrue(body.contains(name), name + " missing in\n" + body);
            }
            assertTrue(metric(s, "sieve_generated_tokens_total") >= 1);
            assertEquals(1, metric(s, "sieve_time_to_first_token_seconds_count"));
            assertEquals(1, metric(s, "sieve_requests_submitted_total"));
            assertTrue(metric(s, "jvm_memory_heap_used_bytes") > 0);
            // After a collection the server reports what survived it: more than nothing (the model, the
            // caches), at most what is committed. The JVM delivers the notification on its own thread.
            long collections = metric(s, "jvm_gc_collections_total");
            System.gc();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (metric(s, "jvm_gc_collections_total") == collections && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(metric(s, "jvm_gc_collections_total") > collections, "no collection reported after System.gc()");
            long afterGc = metric(s, "jvm_memory_heap_after_gc_bytes");
            assertTrue(afterGc > 0 && afterGc <= metric(s, "jvm_memory_heap_committed_bytes"), "heap after GC " + afterGc);
            assertEquals(4 * 256 / 16, metric(s, "sieve_kv_blocks_total"));
        }
    }

    @Test
    void bearerAuthIsRequiredWhenConfigured() throws Exception {
        try (Srv s = start(new Engine.Config(256, 2, 64, 4, 0), "sekrit", 1 << 20)) {
            assertError(get(s, "/v1/models"), 401, null);
            assertError(get(s, "/v1/models", "Authorization", "Bearer wrong"), 401, null);
            assertEquals(200, get(s, "/v1/models", "Authorization", "Bearer sekrit").statusCode());
            assertEquals(200, get(s, "/health").statusCode());
        }
    }

    @Test
    void badRequestsAreRefusedNamingTheField() throws Exception {
        try (Srv s = start(new Engine.Config(256, 2, 64, 4, 0), null, 4096)) {
            assertError(post(s, "/v1/chat/completions", "{\"messages\": [}"), 400, null);
            assertError(post(s, "/v1/chat/completions", "[1,2]"), 400, null);
            assertError(post(s, "/v1/chat/completions", chatBody("x", 4, ",\"temperature\":\"hot\"")
                    .replace("\"temperature\":0,", "")), 400, "temperature");
            assertError(post(s, "/v1/chat/completions", chatBody("x", 4, ",\"top_p\":7")), 400, "top_p");
            assertError(post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":5}]}"), 400,
                    "messages[0].content");
            assertError(post(s, "/v1/chat/completions", "{\"messages\":[]}"), 400, "messages");
            assertError(post(s, "/v1/chat/completions", chatBody("x", 4, ",\"n\":3")), 400, "n");
            assertError(post(s, "/v1/chat/completions", chatBody("x", 4, ",\"stop\":[1]")), 400, "stop");
            assertError(post(s, "/v1/chat/completions", chatBody("x", 0, "")), 400, "max_tokens");
            assertError(post(s, "/v1/chat/completions", chatBody("x", 4, ",\"ignore_eos\":\"yes\"")), 400, "ignore_eos");
            assertError(post(s, "/v1/completions", "{\"prompt\":12}"), 400, "prompt");
            String longPrompt = "word ".repeat(400);
            HttpResponse<String> tooLong = post(s, "/v1/completions", "{\"prompt\":" + quote(longPrompt) + "}");
            assertError(tooLong, 400, "prompt");
            assertEquals("context_length_exceeded", JSON.readTree(tooLong.body()).get("error").get("code").asText());
            assertError(post(s, "/v1/completions", "{\"prompt\":" + quote("x".repeat(5000)) + "}"), 413, null);
            assertError(get(s, "/v1/nothing"), 404, null);
            assertEquals(0, metric(s, "sieve_kv_blocks_used"));
        }
    }

    /** Opens a raw streaming request and returns the socket after the first data event arrived. */
    static Socket openStream(Srv s, String body) throws Exception {
        Socket sock = new Socket("127.0.0.1", s.http().port());
        sock.setSoTimeout(30_000);
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        OutputStream out = sock.getOutputStream();
        out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(b);
        out.flush();
        InputStream in = sock.getInputStream();
        StringBuilder seen = new StringBuilder();
        while (!seen.toString().contains("data: {")) {
            int c = in.read();
            if (c < 0) {
                throw new AssertionError("stream closed early: " + seen);
            }
            seen.append((char) c);
        }
        return sock;
    }

    static void awaitMetric(Srv s, String name, long value) throws Exception {
        for (int i = 0; i < 200; i++) { // at most 10 s
            if (metric(s, name) == value) {
                return;
            }
            Thread.sleep(50);
        }
        assertEquals(value, metric(s, name), name);
    }

    /**
     * A prompt whose greedy continuation runs 300 tokens without an end-of-sequence token (greedy
     * decoding of a random model falls into a loop): a request that keeps running. Sampled requests
     * end whenever the sampler draws the end token, which depends on the kernels' rounding.
     */
    static String endlessPrompt() {
        for (String p : List.of("hello", "one two", "zebra", "lorem ipsum", "a b c", "the cat")) {
            Session session = new Session(model, tok, linear, 512, 64);
            if (session.generate(tok.encode(p, true, true), SamplingParams.greedy(), 300, List.of(), t -> {})
                    .generatedTokens() == 300) {
                return p;
            }
        }
        throw new AssertionError("no prompt runs 300 greedy tokens on the test model");
    }

    @Test
    void clientDisconnectMidStreamFreesTheSequence() throws Exception {
        try (Srv s = start(new Engine.Config(8192, 2, 64, 4, 0), null, 1 << 20)) {
            Socket sock = openStream(s, "{\"prompt\":" + quote(endlessPrompt()) + ",\"max_tokens\":8000,\"temperature\":0,\"stream\":true}");
            assertEquals(1, metric(s, "sieve_running_sequences"));
            assertTrue(metric(s, "sieve_kv_blocks_used") > 0);
            sock.close();
            awaitMetric(s, "sieve_requests_cancelled_total", 1);
            awaitMetric(s, "sieve_kv_blocks_used", 0);
            assertEquals(0, metric(s, "sieve_running_sequences"));
            assertTrue(metric(s, "sieve_generated_tokens_total") < 8000);
        }
    }

    @Test
    void fullQueueAnswers429WithRetryAfter() throws Exception {
        // one running sequence, one waiting place
        try (Srv s = start(new Engine.Config(8192, 1, 64, 1, 0), null, 1 << 20)) {
            Socket running = openStream(s, "{\"prompt\":" + quote(endlessPrompt()) + ",\"max_tokens\":8000,\"temperature\":0,\"stream\":true}");
            CompletableFuture<HttpResponse<String>> queued = HTTP.sendAsync(HttpRequest.newBuilder(
                    URI.create(s.base() + "/v1/completions")).POST(HttpRequest.BodyPublishers.ofString(
                    "{\"prompt\":\"queued\",\"max_tokens\":3,\"temperature\":0}")).build(), HttpResponse.BodyHandlers.ofString());
            awaitMetric(s, "sieve_queue_length", 1);
            HttpResponse<String> refused = post(s, "/v1/completions", "{\"prompt\":\"more\",\"max_tokens\":3}");
            assertError(refused, 429, null);
            assertEquals("2", refused.headers().firstValue("Retry-After").orElse(""));
            running.close(); // frees the slot: the queued request runs
            assertEquals(200, queued.get().statusCode());
            awaitMetric(s, "sieve_kv_blocks_used", 0);
        }
    }

    @Test
    void stopStringsCutTheText() throws Exception {
        try (Srv s = start()) {
            String full = JSON.readTree(post(s, "/v1/completions", "{\"prompt\":\"abc def\",\"max_tokens\":30,\"temperature\":0}")
                    .body()).get("choices").get(0).get("text").asText();
            if (full.length() < 4) {
                return; // the model ended at once; nothing to cut
            }
            String stop = full.substring(full.length() / 2, full.length() / 2 + 2);
            JsonNode j = JSON.readTree(post(s, "/v1/completions", "{\"prompt\":\"abc def\",\"max_tokens\":30,\"temperature\":0,"
                    + "\"stop\":" + quote(stop) + "}").body());
            assertEquals(full.substring(0, full.indexOf(stop)), j.get("choices").get(0).get("text").asText());
            assertEquals("stop", j.get("choices").get(0).get("finish_reason").asText());
        }
    }

}
