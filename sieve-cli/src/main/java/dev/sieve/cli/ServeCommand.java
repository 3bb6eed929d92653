package dev.sieve.cli;

import dev.sieve.model.layers.KvEncoding;
import dev.sieve.runtime.engine.Engine;
import dev.sieve.server.bridge.OpenAiBridge;
import dev.sieve.server.http.SieveHttpServer;
import dev.sieve.tokenizer.chat.ChatTemplate;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serves the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions,"
                + " /v1/models, /health, /metrics) with continuous batching and chunked prefill.",
        footer = {"%nExamples:", "  sieve serve -m model.gguf --port 8080 --parallel 8",
            "  curl http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \\",
            "       -d '{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":32}'"})
final class ServeCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions = new ModelOptions();

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "address to listen on (default: ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "port; 0 = any free one (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--api-key", paramLabel = "KEY", description = "require 'Authorization: Bearer KEY' (default: open)")
    String apiKey;

    @Option(names = {"-np", "--parallel"}, defaultValue = "4", paramLabel = "N",
            description = "sequences generated at once (default: ${DEFAULT-VALUE})")
    int parallel;

    @Option(names = "--batch-tokens", defaultValue = "256", paramLabel = "B",
            description = "tokens per forward pass: decodes plus prompt chunks (default: ${DEFAULT-VALUE})")
    int batchTokens;

    @Option(names = "--step-cost-ratio", defaultValue = "1.25", paramLabel = "R",
            description = "a step that prefills next to decodes may cost R times a pure-decode step, as measured while "
                    + "serving: bounds the streams' inter-token latency during a long prompt (short prompts, 32 tokens "
                    + "or fewer, always go whole into one step); 0 = only --batch-tokens (default: ${DEFAULT-VALUE})")
    double stepCostRatio;

    @Option(names = "--queue", defaultValue = "64", paramLabel = "N",
            description = "requests waiting at most; more get 429 (default: ${DEFAULT-VALUE})")
    int queue;

    @Option(names = "--kv-budget-mib", defaultValue = "0", paramLabel = "MIB",
            description = "KV memory handed out in 16-token blocks; 0 = a full context per parallel sequence")
    long kvBudgetMib;

    @Option(names = "--max-body-kib", defaultValue = "1024", paramLabel = "KIB",
            description = "largest request body; more gets 413 (default: ${DEFAULT-VALUE})")
    int maxBodyKib;

    @Option(names = "--alias", paramLabel = "NAME", description = "model name reported by the API (default: the file name)")
    String alias;

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535 || parallel < 1 || batchTokens < 1 || queue < 0 || kvBudgetMib < 0 || maxBodyKib < 1
                || !(stepCostRatio == 0 || stepCostRatio > 1)) {
            throw new UserException("serve options out of range (need 0 ≤ --port ≤ 65535, --parallel ≥ 1, "
                    + "--batch-tokens ≥ 1, --queue ≥ 0, --kv-budget-mib ≥ 0, --max-body-kib ≥ 1, --step-cost-ratio 0 or > 1)");
        }
        modelOptions.cache.requireFull("serve");
        KvEncoding encoding = modelOptions.cache.encoding(); // the block pool's storage (--cache-type)
        try (var loaded = modelOptions.load()) {
            int ctx = modelOptions.contextSize > 0 ? modelOptions.contextSize
                    : Math.min(4096, loaded.model().config().contextLength());
            String name = alias != null ? alias : modelOptions.model.getFileName().toString().replaceFirst("\\.gguf$", "");
            try (Engine engine = new Engine(loaded.model(), loaded.tokenizer(), loaded.linear(),
                    new Engine.Config(ctx, parallel, batchTokens, queue, kvBudgetMib << 20, encoding,
                            modelOptions.cache.residual(), stepCostRatio)).start();
                    SieveHttpServer server = new SieveHttpServer(new SieveHttpServer.Options(host, port, apiKey,
                            maxBodyKib * 1024, 1), new OpenAiBridge(engine, ChatTemplate.fromGguf(loaded.model().metadata()),
                            name)).start()) {
                System.err.printf("sieve: serving %s on http://%s:%d (context %d, parallel %d, batch %d tokens, "
                        + "step cost ratio %s, %d KV blocks)%n", name, host, server.port(), ctx, parallel, batchTokens,
                        stepCostRatio == 0 ? "off" : Double.toString(stepCostRatio),
                        engine.stats().kvBlocksTotal());
                CountDownLatch stop = new CountDownLatch(1);
                Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
                stop.await();
            }
        }
        return 0;
    }
}
