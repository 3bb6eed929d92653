package dev.sieve.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sieve pull} against a fake hub on 127.0.0.1: the file lands in the cache, verified. */
class PullCommandTest {
    @TempDir Path dir;

    @Test
    void pullsIntoTheCacheAndReportsAMissingFileClearly() throws Exception {
        byte[] payload = new byte[50_000];
        new java.util.Random(3).nextBytes(payload);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(payload));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/org/model-GGUF/resolve/main/model-q4_0.gguf", ex -> {
            ex.getResponseHeaders().add("ETag", "\"" + sha + "\"");
            ex.sendResponseHeaders(200, payload.length);
            ex.getResponseBody().write(payload);
            ex.close();
        });
        server.createContext("/", ex -> {
            byte[] b = "not found".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(404, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        server.start();
        try {
            String hub = "http://127.0.0.1:" + server.getAddress().getPort();
            Path cache = dir.resolve("cache");
            CliTest.Result r = CliTest.sieve("", "pull", "org/model-GGUF:model-q4_0.gguf", "--hub", hub,
                    "--cache-dir", cache.toString());
            assertEquals(0, r.code(), r.err());
            Path got = Path.of(r.out().strip());
            assertTrue(got.startsWith(cache), got.toString());
            assertArrayEquals(payload, Files.readAllBytes(got));
            r = CliTest.sieve("", "pull", "org/model-GGUF:other.gguf", "--hub", hub, "--cache-dir", cache.toString());
            CliTest.assertCleanError(r, "not found");
        } finally {
            server.stop(0);
        }
    }
}
