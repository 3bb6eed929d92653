package dev.sieve.cli;

import dev.sieve.io.hub.HubClient;
import dev.sieve.io.hub.HubException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "pull", mixinStandardHelpOptions = true,
        description = {"Downloads a GGUF file from a Hugging Face repository into the local cache.",
            "Resumes interrupted downloads and verifies the SHA-256 the hub publishes.",
            "Cache: $SIEVE_CACHE or ~/.cache/sieve/models. Hub: $SIEVE_HUB_URL or $HF_ENDPOINT. Token: $HF_TOKEN."},
        footer = {"%nExamples:", "  sieve pull Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_0.gguf",
            "  sieve pull TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF     # picks the repo's only .gguf, or lists them"})
final class PullCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "REPO[:FILE]", description = "repository, optionally with the file name")
    String spec;

    @Option(names = "--hub", description = "hub base URL (default: $SIEVE_HUB_URL, $HF_ENDPOINT or https://huggingface.co)")
    String hub;

    @Option(names = "--cache-dir", description = "where models are kept")
    Path cacheDir;

    @Override
    public Integer call() throws Exception {
        HubClient env = HubClient.fromEnvironment();
        HubClient client = new HubClient(hub != null ? hub : env.baseUrl(), System.getenv("HF_TOKEN"),
                cacheDir != null ? cacheDir : env.cacheDir());
        ProgressBar bar = new ProgressBar("pull");
        try {
            Path p = client.pull(spec, (done, total) -> bar.update(done, Math.max(total, done),
                    Units.bytes(done) + (total > 0 ? " / " + Units.bytes(total) : "")));
            System.out.println(p);
        } catch (HubException e) {
            throw new UserException(e.getMessage());
        }
        return 0;
    }
}
