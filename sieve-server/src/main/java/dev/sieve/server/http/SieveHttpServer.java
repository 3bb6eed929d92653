package dev.sieve.server.http;

import dev.sieve.server.bridge.ChunkSink;
import dev.sieve.server.bridge.Generation;
import dev.sieve.server.bridge.OpenAiBridge;
import dev.sieve.server.bridge.PrometheusMetrics;
import dev.sieve.server.openai.ApiException;
import dev.sieve.server.openai.OpenAiJson;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/** The OpenAI-compatible HTTP server. */
public final class SieveHttpServer implements AutoCloseable {

    /**
     * @param apiKey            bearer token required on every endpoint but /health; null = open
     * @param maxBodyBytes      larger request bodies get 413
     * @param retryAfterSeconds sent with 429 when the queue is full
     */
    public record Options(String host, int port, String apiKey, int maxBodyBytes, int retryAfterSeconds) {}

    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);

    private final Options options;
    private final OpenAiBridge bridge;
    private final Server server;
    private final ServerConnector connector;

    public SieveHttpServer(Options options, OpenAiBridge bridge) {
        this.options = options;
        this.bridge = bridge;
        QueuedThreadPool threads = new QueuedThreadPool(16, 2);
        threads.setName("sieve-http");
        this.server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        this.connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        connector.setHost(options.host());
        connector.setPort(options.port());
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                // Handlers block (reading bodies, waiting for tokens): one virtual thread each.
                Thread.ofVirtual().name("sieve-request").start(() -> serve(request, response, callback));
                return true;
            }
        });
    }

    public SieveHttpServer start() throws Exception {
        server.start();
        return this;
    }

    /** The bound port (useful with port 0). */
    public int port() {
        return connector.getLocalPort();
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }

    private void serve(Request request, Response response, Callback callback) {
        try {
            route(request, response);
            callback.succeeded();
        } catch (ApiException e) {
            try {
                if (e.status() == 429) {
                    response.getHeaders().put(HttpHeader.RETRY_AFTER, Integer.toString(options.retryAfterSeconds()));
                }
                if (e.status() == 401) {
                    response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
                }
                json(response, e.status(), OpenAiJson.write(e.body()));
                callback.succeeded();
            } catch (Throwable t) {
                callback.failed(t);
            }
        } catch (Throwable t) {
            if (!response.isCommitted()) {
                try {
                    json(response, 500, OpenAiJson.write(new ApiException(500, "internal error: " + t,
                            "server_error", null, null).body()));
                    callback.succeeded();
                    return;
                } catch (Throwable ignored) {
                    // fall through: the connection is broken
                }
            }
            callback.failed(t);
        }
    }

    private void route(Request request, Response response) throws IOException {
        String path = Request.getPathInContext(request);
        String method = request.getMethod();
        if (path.equals("/health")) {
            requireMethod(method, "GET");
            json(response, 200, "{\"status\":\"ok\"}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        authorize(request);
        switch (path) {
            case "/v1/models" -> {
                requireMethod(method, "GET");
                json(response, 200, OpenAiJson.write(bridge.models()));
            }
            case "/metrics" -> {
                requireMethod(method, "GET");
                response.setStatus(200);
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, PrometheusMetrics.CONTENT_TYPE);
                write(response, PrometheusMetrics.render(bridge).getBytes(StandardCharsets.UTF_8));
            }
            case "/v1/chat/completions" -> {
                requireMethod(method, "POST");
                Generation g = bridge.start(OpenAiJson.parseChat(body(request)));
                if (g.stream()) {
                    sse(request, response, g, sink -> bridge.streamChat(g, sink));
                } else {
                    json(response, 200, OpenAiJson.write(bridge.chat(g)));
                }
            }
            case "/v1/completions" -> {
                requireMethod(method, "POST");
                Generation g = bridge.start(OpenAiJson.parseCompletion(body(request)));
                if (g.stream()) {
                    sse(request, response, g, sink -> bridge.streamCompletion(g, sink));
                } else {
                    json(response, 200, OpenAiJson.write(bridge.completion(g)));
                }
            }
            default -> throw new ApiException(404, "unknown endpoint " + method + " " + path, "invalid_request_error",
                    null, "not_found");
        }
    }

    private static void requireMethod(String method, String expected) {
        if (!method.equals(expected)) {
            throw new ApiException(405, "use " + expected + " here, not " + method, "invalid_request_error", null,
                    "method_not_allowed");
        }
    }

    private void authorize(Request request) {
        if (options.apiKey() == null) {
            return;
        }
        String h = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        String want = "Bearer " + options.apiKey();
        if (h == null || !MessageDigest.isEqual(h.getBytes(StandardCharsets.UTF_8), want.getBytes(StandardCharsets.UTF_8))) {
            throw new ApiException(401, "Incorrect or missing API key: send 'Authorization: Bearer <key>'",
                    "invalid_request_error", null, "invalid_api_key");
        }
    }

    /** The body, refused with 413 past the limit (checked on the header first, then while reading). */
    private byte[] body(Request request) throws IOException {
        long declared = request.getLength();
        int max = options.maxBodyBytes();
        if (declared > max) {
            throw tooLarge(max);
        }
        try (InputStream in = Content.Source.asInputStream(request)) {
            byte[] b = in.readNBytes(max + 1);
            if (b.length > max) {
                throw tooLarge(max);
            }
            return b;
        }
    }

    private static ApiException tooLarge(int max) {
        return new ApiException(413, "the request body exceeds the limit of " + max + " bytes",
                "invalid_request_error", null, "request_too_large");
    }

    private static void json(Response response, int status, byte[] body) throws IOException {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        write(response, body);
    }

    private static void write(Response response, byte[] body) throws IOException {
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        try (OutputStream out = Content.Sink.asOutputStream(response)) {
            out.write(body);
        }
    }

    private interface Streamer {
        void run(ChunkSink sink) throws IOException;
    }

    /** Server-Sent Events: one {@code data:} line per chunk, flushed at once, then {@code data: [DONE]}. */
    private static void sse(Request request, Response response, Generation g, Streamer streamer) throws IOException {
        request.addFailureListener(t -> g.cancel()); // the connection failed under us
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream");
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        try (OutputStream out = Content.Sink.asOutputStream(response)) {
            streamer.run(new ChunkSink() {
                @Override
                public void send(Object chunk) throws IOException {
                    out.write(("data: " + OpenAiJson.writeString(chunk) + "\n\n").getBytes(StandardCharsets.UTF_8));
                    out.flush();
                }

                @Override
                public void keepAlive() throws IOException {
                    out.write(KEEP_ALIVE);
                    out.flush();
                }
            });
            out.write(DONE);
        } catch (IOException | RuntimeException e) {
            g.cancel();
            throw e;
        }
    }
}
