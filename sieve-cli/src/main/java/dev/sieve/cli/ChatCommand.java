package dev.sieve.cli;

import dev.sieve.runtime.engine.GenerationResult;
import dev.sieve.runtime.engine.Session;
import dev.sieve.tokenizer.chat.ChatMessage;
import dev.sieve.tokenizer.chat.ChatTemplate;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "chat", mixinStandardHelpOptions = true,
        description = {"An interactive conversation using the model's chat template.",
            "Each line you type is a user turn; the KV cache is kept between turns, so only the new text is evaluated.",
            "Type /reset to start over, /exit (or end of input) to quit."},
        footer = {"%nExample:", "  sieve chat -m qwen2.5-0.5b-instruct-q4_0.gguf -sys \"You are terse.\""})
final class ChatCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions = new ModelOptions();
    @Mixin SamplingOptions sampling = new SamplingOptions();
    @Mixin ContextShiftOptions shift = new ContextShiftOptions();

    @Option(names = {"-sys", "--system-prompt"}, description = "system message")
    String system;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "512", description = "most tokens per reply (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--chat-template", description = "a Jinja2 chat template to use instead of the model's")
    String templateOverride;

    @Override
    public Integer call() throws Exception {
        var params = sampling.params();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (var loaded = modelOptions.load()) {
            Session session = modelOptions.session(loaded);
            shift.apply(session);
            ChatTemplate fromFile = ChatTemplate.fromGguf(loaded.model().metadata());
            ChatTemplate template = templateOverride != null
                    ? new ChatTemplate(templateOverride, fromFile.bosToken(), fromFile.eosToken()) : fromFile;
            List<String> stops = new ArrayList<>(sampling.stops);
            if (template.source().equals(ChatTemplate.PLAIN)) {
                stops.add("\nuser:"); // the plain fallback has no end-of-turn token
            }
            List<ChatMessage> messages = new ArrayList<>();
            if (system != null) {
                messages.add(new ChatMessage("system", system));
            }
            boolean interactive = System.console() != null;
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            if (interactive) {
                System.err.println("sieve chat: " + modelOptions.model.getFileName() + " (/reset to start over, /exit to quit)");
            }
            while (true) {
                if (interactive) {
                    out.print("> ");
                    out.flush();
                }
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) {
                    break;
                }
                if (line.strip().equals("/reset")) {
                    messages.clear();
                    if (system != null) {
                        messages.add(new ChatMessage("system", system));
                    }
                    continue;
                }
                if (line.isBlank()) {
                    continue;
                }
                messages.add(new ChatMessage("user", line));
                String prompt = template.render(messages, true);
                boolean bosInText = !template.bosToken().isEmpty() && prompt.startsWith(template.bosToken());
                int[] ids = loaded.tokenizer().encode(prompt, !bosInText, true);
                if (ids.length + 1 >= session.contextSize()) {
                    System.err.println("sieve: the conversation (" + ids.length + " tokens) no longer fits the context of "
                            + session.contextSize() + " tokens; /reset or raise -c");
                    messages.removeLast();
                    continue;
                }
                // With --context-shift a reply may run past the context; the next turn's prompt must still fit.
                int room = shift.contextShift ? maxTokens : Math.min(maxTokens, session.contextSize() - ids.length);
                GenerationResult r = session.generate(ids, params, room, stops, s -> {
                    out.print(s);
                    out.flush();
                });
                out.println();
                messages.add(new ChatMessage("assistant", r.text().strip()));
                System.err.printf("[%d new prompt tokens (%d reused) at %.1f t/s, %d generated at %.1f t/s]%n",
                        r.promptTokens(), r.reusedTokens(), r.promptTokensPerSecond(), r.generatedTokens(),
                        r.generatedTokensPerSecond());
            }
        }
        return 0;
    }
}
