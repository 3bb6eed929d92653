package dev.sieve.cli;

import dev.sieve.runtime.engine.GenerationResult;
import dev.sieve.runtime.engine.Session;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Continues a prompt and streams the text, then reports tokens per second.",
        footer = {"%nExamples:", "  sieve run -m model.gguf -p \"Once upon a time\" -n 128",
            "  sieve run -m model.gguf -f prompt.txt --temp 0 -n 64      # greedy"})
final class RunCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions = new ModelOptions();
    @Mixin SamplingOptions sampling = new SamplingOptions();
    @Mixin ContextShiftOptions shift = new ContextShiftOptions();

    static final class PromptSource {
        @Option(names = {"-p", "--prompt"}, description = "prompt text") String text;
        @Option(names = {"-f", "--file"}, description = "read the prompt from a file") Path file;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptSource prompt;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "128", description = "tokens to generate (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--no-display-prompt", description = "do not echo the prompt")
    boolean noDisplayPrompt;

    @Option(names = "--no-parse-special", description = "treat special-token text in the prompt as plain text")
    boolean noParseSpecial;

    @Override
    public Integer call() throws Exception {
        if (maxTokens < 0) {
            throw new UserException("-n must not be negative");
        }
        String text = prompt.text != null ? prompt.text : Files.readString(prompt.file, StandardCharsets.UTF_8);
        var params = sampling.params();
        try (var loaded = modelOptions.load(maxTokens)) {
            Session session = modelOptions.session(loaded);
            shift.apply(session);
            int[] ids = loaded.tokenizer().encode(text, true, !noParseSpecial);
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            if (!noDisplayPrompt) {
                out.print(text);
                out.flush();
            }
            long ready = System.currentTimeMillis(); // model, tokenizer and cache in place; the prompt is next
            GenerationResult r = session.generate(ids, params, maxTokens, sampling.stops, s -> {
                out.print(s);
                out.flush();
            });
            out.println();
            System.err.printf("%nprompt: %d tokens, %.2f tokens/s | generated: %d tokens, %.2f tokens/s | stop: %s%n",
                    r.promptTokens(), r.promptTokensPerSecond(), r.generatedTokens(), r.generatedTokensPerSecond(),
                    r.reason().name().toLowerCase());
            // Issue 3's start-up figure, as seen from inside: from the JVM's start to the model being
            // ready, and to the first token (the prompt evaluated; its sampling is microseconds).
            long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
            System.err.printf("start-up: model ready %.2f s and first token %.2f s after the JVM started%n",
                    (ready - jvmStart) / 1e3, (ready - jvmStart) / 1e3 + r.promptNanos() / 1e9);
        }
        return 0;
    }
}
