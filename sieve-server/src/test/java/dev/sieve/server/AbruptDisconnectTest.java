package dev.sieve.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sieve.runtime.engine.Engine;
import dev.sieve.runtime.engine.Session;
import dev.sieve.runtime.sample.SamplingParams;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Clients that vanish at random points of their streams (before the response, inside a chunk,
 * between chunks; with a FIN or a reset) while others queue, decode and get preempted under a tight
 * KV budget: afterwards every KV block is back, nothing runs or waits, every admitted request is
 * accounted as finished or cancelled, and a fresh request gets exactly its solo greedy output.
 */
class AbruptDisconnectTest {
    static final long SEED = 20261124L;

    @BeforeAll
    static void load() throws Exception {
        ServerTest.load();
    }

    @AfterAll
    static void unload() throws Exception {
        ServerTest.unload();
    }

    /** How a client leaves. */
    enum Exit { BEFORE_RESPONSE, MID_STREAM, MID_STREAM_RESET, READS_TO_END }

    /** One client: sends a streamed request, reads {@code cutAfter} bytes (or all), then closes. */
    static Exit client(ServerTest.Srv s, Random rnd, int i) throws Exception {
        Exit exit = Exit.values()[rnd.nextInt(Exit.values().length)];
        boolean chat = rnd.nextBoolean();
        int maxTokens = 20 + rnd.nextInt(180);
        String words = "w" + i + " the cat sat on the mat".repeat(1 + rnd.nextInt(6));
        String body = chat
                ? "{\"messages\":[{\"role\":\"user\",\"content\":\"" + words + "\"}],\"max_tokens\":" + maxTokens
                        + ",\"temperature\":1,\"seed\":" + i + ",\"stream\":true}"
                : "{\"prompt\":\"" + words + "\",\"max_tokens\":" + maxTokens + ",\"temperature\":1,\"seed\":" + i
                        + ",\"stream\":true}";
        int cutAfter = 1 + rnd.nextInt(1500); // bytes of response read before leaving: headers, mid-chunk, later
        Thread.sleep(rnd.nextInt(300));
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        try (Socket sock = new Socket("127.0.0.1", s.http().port())) {
            sock.setSoTimeout(60_000);
            OutputStream out = sock.getOutputStream();
            out.write(("POST " + (chat ? "/v1/chat/completions" : "/v1/completions") + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + b.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(b);
            out.flush();
            if (exit == Exit.BEFORE_RESPONSE) {
                return exit;
            }
            InputStream in = sock.getInputStream();
            StringBuilder seen = new StringBuilder();
            for (int n = 0; exit == Exit.READS_TO_END || n < cutAfter; n++) {
                int c = in.read();
                if (c < 0) {
                    break;
                }
                seen.append((char) c);
                if (exit == Exit.READS_TO_END && seen.indexOf("data: [DONE]") >= 0) {
                    break;
                }
            }
            if (exit == Exit.READS_TO_END) {
                assertTrue(seen.indexOf("data: [DONE]") >= 0, "a client that stayed got the whole stream: " + seen);
            }
            if (exit == Exit.MID_STREAM_RESET) {
                sock.setSoLinger(true, 0); // close sends RST instead of FIN
            }
        }
        return exit;
    }

    @Test
    void everyBlockComesBackAfterClientsVanishMidStream() throws Exception {
        long perToken = 2L * ServerTest.model.config().layers() * ServerTest.model.config().kvDim() * Float.BYTES;
        // 4 sequences of up to 256 tokens share 20 blocks (320 tokens): preemption happens alongside the cuts
        Engine.Config cfg = new Engine.Config(256, 4, 16, 32, 20 * 16 * perToken);
        int clients = 24;
        try (ServerTest.Srv s = ServerTest.start(cfg, null, 1 << 20)) {
            Random seeds = new Random(SEED);
            AtomicInteger toEnd = new AtomicInteger();
            try (ExecutorService ex = Executors.newFixedThreadPool(8)) { // 8 clients at a time
                List<Future<Exit>> fs = new ArrayList<>();
                for (int i = 0; i < clients; i++) {
                    Random rnd = new Random(seeds.nextLong());
                    int id = i;
                    fs.add(ex.submit(() -> client(s, rnd, id)));
                }
                for (Future<Exit> f : fs) {
                    if (f.get(120, TimeUnit.SECONDS) == Exit.READS_TO_END) {
                        toEnd.incrementAndGet();
                    }
                }
            }
            assertTrue(toEnd.get() > 0 && toEnd.get() < clients, "the seed should mix leaving and staying clients");
            // the server notices every vanished client (at its next write or keep-alive) and frees it
            ServerTest.awaitMetric(s, "sieve_running_sequences", 0);
            ServerTest.awaitMetric(s, "sieve_queue_length", 0);
            ServerTest.awaitMetric(s, "sieve_kv_blocks_used", 0);
            long finished = ServerTest.metric(s, "sieve_requests_finished_total");
            long cancelled = ServerTest.metric(s, "sieve_requests_cancelled_total");
            assertTrue(cancelled > 0, "some clients left mid-stream: " + cancelled + " cancelled");
            assertTrue(finished >= toEnd.get(), finished + " finished, " + toEnd.get() + " clients read to the end");
            // no sequence is lost: every request the engine accepted ended as finished or cancelled
            long submitted = ServerTest.metric(s, "sieve_requests_submitted_total");
            assertTrue(submitted <= clients, submitted + " submitted");
            assertEquals(submitted, finished + cancelled, finished + " finished + " + cancelled + " cancelled");

            // the server still serves: greedy output equals a lone session's, and it frees its blocks again
            String prompt = "after the storm";
            String expected = new Session(ServerTest.model, ServerTest.tok, ServerTest.linear, 256, 64)
                    .generate(ServerTest.tok.encode(prompt, true, true), SamplingParams.greedy(), 24, List.of(), t -> {})
                    .text();
            HttpResponse<String> r = ServerTest.post(s, "/v1/completions",
                    "{\"prompt\":\"" + prompt + "\",\"max_tokens\":24,\"temperature\":0}");
            assertEquals(200, r.statusCode(), r.body());
            JsonNode j = ServerTest.JSON.readTree(r.body());
            assertEquals(expected, j.get("choices").get(0).get("text").asText());
            String streamed = ServerTest.events(ServerTest.post(s, "/v1/completions",
                    "{\"prompt\":\"" + prompt + "\",\"max_tokens\":24,\"temperature\":0,\"stream\":true}").body())
                    .stream().map(e -> e.get("choices").get(0).get("text").asText()).reduce("", String::concat);
            assertEquals(expected, streamed);
            ServerTest.awaitMetric(s, "sieve_kv_blocks_used", 0);
            assertEquals(finished + 2, ServerTest.metric(s, "sieve_requests_finished_total"));
        }
    }
}
