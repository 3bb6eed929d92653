package dev.sieve.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code sieve loadtest} against a fake OpenAI-style server on 127.0.0.1 that streams canned completions. */
class LoadtestCommandTest {
    /** Streams {@code max_tokens} chunks (the count read from the request), then usage and [DONE]. */
    static HttpServer fakeServer(List<String> bodies) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/completions", ex -> {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            bodies.add(body);
            int n = Integer.parseInt(body.replaceAll(".*\"max_tokens\":(\\d+).*", "$1"));
            StringBuilder sse = new StringBuilder();
            for (int i = 0; i < n; i++) {
                sse.append("data: {\"choices\":[{\"text\":\"a\",\"index\":0,\"finish_reason\":null}]}\n\n");
            }
            sse.append("data: {\"choices\":[{\"text\":\"\",\"index\":0,\"finish_reason\":\"length\"}]}\n\n");
            sse.append("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":").append(n)
                    .append(",\"total_tokens\":").append(9 + n).append("}}\n\n");
            sse.append("data: [DONE]\n\n");
            byte[] b = sse.toString().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "text/event-stream");
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        server.start();
        return server;
    }

    interface WithServer {
        void run(String url, List<String> bodies) throws Exception;
    }

    /** Runs {@code body} against {@link #fakeServer}, given its URL and the request bodies it received. */
    static void withFakeServer(WithServer body) throws Exception {
        List<String> bodies = Collections.synchronizedList(new ArrayList<>());
        HttpServer server = fakeServer(bodies);
        try {
            body.run("http://127.0.0.1:" + server.getAddress().getPort(), bodies);
        } finally {
            server.stop(0);
        }
    }

    @Test
    void countsTheStreamedTokensAndSendsIgnoreEosOnlyWhenAsked() throws Exception {
        withFakeServer((url, bodies) -> {
            CliTest.Result r = CliTest.sieve("", "loadtest", "--url", url, "--concurrency", "2", "--requests", "4",
                    "--max-tokens", "5", "--ignore-eos");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("requests 4, concurrency 2, generated 20 tokens"), r.out());
            assertEquals(4, bodies.size());
            assertTrue(bodies.stream().allMatch(b -> b.contains("\"ignore_eos\":true") && b.contains("\"max_tokens\":5")),
                    bodies.toString());
            bodies.clear();
            r = CliTest.sieve("", "loadtest", "--url", url, "--requests", "1", "--max-tokens", "3");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("generated 3 tokens"), r.out());
            assertTrue(bodies.stream().noneMatch(b -> b.contains("ignore_eos")), bodies.toString());
        });
    }

    /** Several levels: a warm-up left out, each level its own prompts, and a table against the first level. */
    @Test
    void aSweepOfConcurrencyLevelsEndsWithATable() throws Exception {
        withFakeServer((url, bodies) -> {
            CliTest.Result r = CliTest.sieve("", "loadtest", "--url", url, "--warmup", "1", "--concurrency", "1,3",
                    "--requests", "2", "--max-tokens", "20");
            assertEquals(0, r.code(), r.err());
            // the warm-up (16 tokens at most), then 2 requests at concurrency 1 and 3 (at least the level) at 3
            assertEquals(1 + 2 + 3, bodies.size(), bodies.toString());
            assertTrue(bodies.get(0).contains("warm-up 0:") && bodies.get(0).contains("\"max_tokens\":16"), bodies.get(0));
            assertEquals(2, bodies.stream().filter(b -> b.contains("\"prompt\":\"c1:")).count(), bodies.toString());
            assertEquals(3, bodies.stream().filter(b -> b.contains("\"prompt\":\"c3:")).count(), bodies.toString());
            assertTrue(r.out().contains("| concurrency | requests | tokens | tokens/s | vs first |"), r.out());
            assertTrue(r.out().contains("| 1 | 2 | 40 | ") && r.out().contains("| 3 | 3 | 60 | "), r.out());
            assertTrue(r.out().contains("| 1.00× |"), r.out());
            CliTest.assertCleanError(CliTest.sieve("", "loadtest", "--url", url, "--concurrency", "1,8",
                    "--long-prompt", "100"), "--long-prompt takes one --concurrency level");
        });
    }
}
