package dev.sieve.io.hub;

import static org.junit.jupiter.api.Assertions.*;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A fake hub on 127.0.0.1 that serves a few KB with an ETag and (optionally) honours Range. */
class HubClientTest {
    @TempDir
    Path cache;

    HttpServer server;
    byte[] payload;
    String etag;                 // sent as ETag unless null
    boolean honorRange = true;
    boolean redirectWithLinkedEtag;
    final List<String> ranges = Collections.synchronizedList(new ArrayList<>());
    final List<String> auth = Collections.synchronizedList(new ArrayList<>());
    String modelInfo = "{\"id\":\"org/model\",\"siblings\":[{\"rfilename\":\"README.md\"},{\"rfilename\":\"model-Q4_0.gguf\"}]}";

    @BeforeEach
    void start() throws Exception {
        payload = new byte[5000];
        new Random(11).nextBytes(payload);
        etag = "\"" + sha256(payload) + "\"";
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        auth.add(String.valueOf(ex.getRequestHeaders().getFirst("Authorization")));
        if (path.equals("/api/models/org/model")) {
            send(ex, 200, modelInfo.getBytes(StandardCharsets.UTF_8));
        } else if (path.equals("/api/models/gated/model")) {
            send(ex, 401, "{\"error\":\"gated\"}".getBytes(StandardCharsets.UTF_8));
        } else if (path.equals("/org/model/resolve/main/model-Q4_0.gguf") && redirectWithLinkedEtag) {
            // HF-style: the hub redirects to a CDN and puts the sha256 in X-Linked-ETag.
            ex.getResponseHeaders().add("X-Linked-ETag", etag);
            ex.getResponseHeaders().add("Location", "/cdn/blob");
            ex.sendResponseHeaders(302, -1);
            ex.close();
        } else if (path.equals("/org/model/resolve/main/model-Q4_0.gguf") || path.equals("/cdn/blob")) {
            String range = ex.getRequestHeaders().getFirst("Range");
            ranges.add(String.valueOf(range));
            if (etag != null && !redirectWithLinkedEtag) {
                ex.getResponseHeaders().add("ETag", etag);
            }
            if (redirectWithLinkedEtag) {
                ex.getResponseHeaders().add("ETag", "\"cdn-md5-like-etag\"");
            }
            if (range != null && honorRange) {
                int from = Integer.parseInt(range.substring("bytes=".length(), range.indexOf('-')));
                ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (payload.length - 1) + "/" + payload.length);
                send(ex, 206, Arrays.copyOfRange(payload, from, payload.length));
            } else {
                send(ex, 200, payload);
            }
        } else {
            send(ex, 404, "Entry not found".getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(body);
        }
    }

    HubClient client(String token) {
        return new HubClient("http://127.0.0.1:" + server.getAddress().getPort(), token, cache);
    }

    @Test
    void fullDownloadVerifiesChecksumAndReportsProgress() throws Exception {
        List<long[]> progress = new ArrayList<>();
        Path p = client("secret").pull("org/model:model-Q4_0.gguf", (d, t) -> progress.add(new long[] {d, t}));
        assertEquals(cache.resolve("org--model").resolve("model-Q4_0.gguf"), p);
        assertArrayEquals(payload, Files.readAllBytes(p));
        assertFalse(Files.exists(p.resolveSibling("model-Q4_0.gguf.part")));
        assertEquals(List.of("null"), ranges);
        assertEquals("Bearer secret", auth.get(0));
        long[] last = progress.get(progress.size() - 1);
        assertEquals(payload.length, last[0]);
        assertEquals(payload.length, last[1]);
        // A second pull is served from the cache without asking the server.
        client(null).pull("org/model:model-Q4_0.gguf", HubClient.Progress.NONE);
        assertEquals(1, ranges.size());
    }

    @Test
    void resumesFromPartFile() throws Exception {
        Path dir = Files.createDirectories(cache.resolve("org--model"));
        Files.write(dir.resolve("model-Q4_0.gguf.part"), Arrays.copyOf(payload, 1234));
        List<long[]> progress = new ArrayList<>();
        Path p = client(null).pull("org/model:model-Q4_0.gguf", (d, t) -> progress.add(new long[] {d, t}));
        assertEquals(List.of("bytes=1234-"), ranges);
        assertArrayEquals(payload, Files.readAllBytes(p));
        assertEquals(1234, progress.get(0)[0]); // progress starts from what was already there
        assertEquals(payload.length, progress.get(0)[1]);
    }

    @Test
    void resumeWithCorruptPartFailsChecksumAndLeavesNothing() throws Exception {
        Path dir = Files.createDirectories(cache.resolve("org--model"));
        byte[] bad = Arrays.copyOf(payload, 1000);
        bad[10] ^= 1;
        Files.write(dir.resolve("model-Q4_0.gguf.part"), bad);
        HubException e = assertThrows(HubException.class, () -> client(null).pull("org/model:model-Q4_0.gguf", HubClient.Progress.NONE));
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("model-Q4_0.gguf.part")));
        assertFalse(Files.exists(dir.resolve("model-Q4_0.gguf")));
    }

    @Test
    void checksumMismatchDeletesPartAndFails() throws Exception {
        etag = "\"" + "0".repeat(64) + "\"";
        HubException e = assertThrows(HubException.class, () -> client(null).pull("org/model:model-Q4_0.gguf", HubClient.Progress.NONE));
        assertTrue(e.getMessage().contains("checksum mismatch") && e.getMessage().contains("0".repeat(64)), e.getMessage());
        Path dir = cache.resolve("org--model");
        assertFalse(Files.exists(dir.resolve("model-Q4_0.gguf")));
        assertFalse(Files.exists(dir.resolve("model-Q4_0.gguf.part")));
    }

    @Test
    void serverIgnoringRangeRestartsFromScratch() throws Exception {
        honorRange = false;
        Path dir = Files.createDirectories(cache.resolve("org--model"));
        Files.write(dir.resolve("model-Q4_0.gguf.part"), Arrays.copyOf(payload, 2000));
        Path p = client(null).pull("org/model:model-Q4_0.gguf", HubClient.Progress.NONE);
        assertEquals(List.of("bytes=2000-"), ranges); // asked for a range, got 200 with the whole file
        assertArrayEquals(payload, Files.readAllBytes(p));
    }

    @Test
    void linkedEtagOnRedirectIsTheChecksum() throws Exception {
        redirectWithLinkedEtag = true;
        Path p = client(null).pull("org/model:model-Q4_0.gguf", HubClient.Progress.NONE);
        assertArrayEquals(payload, Files.readAllBytes(p));
        // and a wrong linked etag is caught even though the CDN's ETag is not a sha256
        Files.delete(p);
        etag = "\"" + "f".repeat(64) + "\"";
        HubException e = assertThrows(HubException.class, () -> client(null).pull("org/model:model-Q4_0.gguf", HubClient.Progress.NONE));
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
    }

    @Test
    void withoutEtagDownloadIsNotVerifiedButCompletes() throws Exception {
        etag = null;
        assertArrayEquals(payload, Files.readAllBytes(client(null).pull("org/model:model-Q4_0.gguf", HubClient.Progress.NONE)));
    }

    @Test
    void notFoundIsClear() {
        HubException e = assertThrows(HubException.class, () -> client(null).pull("org/model:nope.gguf", HubClient.Progress.NONE));
        assertEquals(404, e.status());
        assertTrue(e.getMessage().contains("org/model/nope.gguf not found"), e.getMessage());
    }

    @Test
    void gatedRepoAsksForToken() {
        HubException e = assertThrows(HubException.class, () -> client(null).pull("gated/model", HubClient.Progress.NONE));
        assertEquals(401, e.status());
        assertTrue(e.getMessage().contains("HF_TOKEN"), e.getMessage());
    }

    @Test
    void listingWithOneGgufPicksIt() throws Exception {
        Path p = client(null).pull("org/model", HubClient.Progress.NONE);
        assertEquals("model-Q4_0.gguf", p.getFileName().toString());
        assertArrayEquals(payload, Files.readAllBytes(p));
    }

    @Test
    void listingWithSeveralGgufsListsCandidates() {
        modelInfo = "{\"siblings\": [ {\"rfilename\": \"a-Q4_0.gguf\"}, {\"rfilename\": \"a-Q8_0.gguf\"}, {\"rfilename\": \"config.json\"} ]}";
        HubException e = assertThrows(HubException.class, () -> client(null).pull("org/model", HubClient.Progress.NONE));
        assertTrue(e.getMessage().contains("a-Q4_0.gguf") && e.getMessage().contains("a-Q8_0.gguf")
                && !e.getMessage().contains("config.json"), e.getMessage());
    }

    @Test
    void networkFailureIsClear() throws Exception {
        int port = server.getAddress().getPort();
        server.stop(0);
        HubException e = assertThrows(HubException.class,
                () -> new HubClient("http://127.0.0.1:" + port, null, cache).pull("org/model:x.gguf", HubClient.Progress.NONE));
        assertTrue(e.getMessage().startsWith("network error"), e.getMessage());
    }

    @Test
    void siblingsParserUnescapes() throws Exception {
        assertEquals(List.of("dir/a\"b.gguf", "é.gguf"),
                HubClient.parseSiblings("{\"siblings\":[{\"rfilename\":\"dir\\/a\\\"b.gguf\"},{\"rfilename\":\"\\u00e9.gguf\"}]}"));
    }

    @Test
    void environmentSelectsUrlTokenAndCache() {
        HubClient c = HubClient.fromEnvironment(Map.of("HF_ENDPOINT", "http://mirror.example/", "SIEVE_CACHE", cache.toString()));
        assertEquals("http://mirror.example", c.baseUrl());
        assertEquals(cache.resolve("a--b").resolve("f.gguf"), c.cachePath("a/b", "f.gguf"));
        HubClient d = HubClient.fromEnvironment(Map.of("HF_ENDPOINT", "http://mirror.example", "SIEVE_HUB_URL", "http://sieve.example"));
        assertEquals("http://sieve.example", d.baseUrl());
        assertEquals(HubClient.DEFAULT_BASE, HubClient.fromEnvironment(Map.of()).baseUrl());
    }
}
