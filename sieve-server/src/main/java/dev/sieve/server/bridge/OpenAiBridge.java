package dev.sieve.server.bridge;

import dev.sieve.runtime.engine.Engine;
import dev.sieve.runtime.engine.EngineBusyException;
import dev.sieve.runtime.engine.EngineEvent;
import dev.sieve.runtime.engine.EngineRequest;
import dev.sieve.runtime.engine.StopReason;
import dev.sieve.runtime.sample.SamplingParams;
import dev.sieve.server.openai.ApiException;
import dev.sieve.server.openai.ChatCompletionRequest;
import dev.sieve.server.openai.CompletionRequest;
import dev.sieve.server.openai.GenerationOptions;
import dev.sieve.server.openai.Responses;
import dev.sieve.tokenizer.Tokenizer;
import dev.sieve.tokenizer.chat.ChatMessage;
import dev.sieve.tokenizer.chat.ChatTemplate;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/** OpenAI requests in, engine requests out, engine events back to OpenAI responses. */
public final class OpenAiBridge {
    /** How long a stream may stay silent before a keep-alive probes the connection. */
    static final long KEEP_ALIVE_MILLIS = 1000;

    private final Engine engine;
    private final ChatTemplate template;
    private final String modelName;
    private final long started = System.currentTimeMillis() / 1000;
    private final AtomicLong ids = new AtomicLong();
    private final AtomicLong submitted = new AtomicLong();
    private final Object textLock = new Object();

    public OpenAiBridge(Engine engine, ChatTemplate template, String modelName) {
        this.engine = engine;
        this.template = template;
        this.modelName = modelName;
        HeapAfterGc.watch(); // from the start, so /metrics knows the heap after every collection
    }

    public String modelName() {
        return modelName;
    }

    public Engine engine() {
        return engine;
    }

    /** Requests the engine accepted; once idle, each is finished or cancelled, so none can be lost unseen. */
    public long requestsSubmitted() {
        return submitted.get();
    }

    public Responses.ModelList models() {
        return new Responses.ModelList("list", List.of(new Responses.ModelCard(modelName, "model", started, "sieve")));
    }

    public Generation start(ChatCompletionRequest r) {
        List<ChatMessage> msgs = r.messages().stream().map(m -> new ChatMessage(m.role(), m.content())).toList();
        int[] prompt;
        synchronized (textLock) { // the template engine and tokenizer are not promised thread-safe
            String text = template.render(msgs, true);
            boolean hasBos = !template.bosToken().isEmpty() && text.startsWith(template.bosToken());
            prompt = engine.tokenizer().encode(text, !hasBos, true);
        }
        return submit(prompt, r.options(), "messages", "chatcmpl-");
    }

    public Generation start(CompletionRequest r) {
        int[] prompt;
        synchronized (textLock) {
            prompt = engine.tokenizer().encode(r.prompt(), true, true);
        }
        return submit(prompt, r.options(), "prompt", "cmpl-");
    }

    private Generation submit(int[] prompt, GenerationOptions o, String promptParam, String idPrefix) {
        int ctx = engine.config().contextSize();
        if (prompt.length == 0) {
            throw ApiException.invalid(promptParam, "the prompt encodes to no tokens");
        }
        if (prompt.length >= ctx) {
            throw new ApiException(400, "This model's maximum context length is " + ctx + " tokens, but the prompt ('"
                    + promptParam + "') has " + prompt.length + " tokens, leaving no room for the completion",
                    "invalid_request_error", promptParam, "context_length_exceeded");
        }
        // A completion longer than the context is cut there, with finish_reason "length" (as llama.cpp does).
        int maxTokens = o.maxTokens() == null ? ctx - prompt.length : Math.min(o.maxTokens(), ctx - prompt.length + 1);
        SamplingParams d = SamplingParams.defaults();
        SamplingParams p = new SamplingParams(
                o.temperature() == null ? d.temperature() : o.temperature().floatValue(), d.topK(),
                o.topP() == null ? d.topP() : o.topP().floatValue(), d.minP(), 1.0f, d.repeatLastN(),
                (float) o.frequencyPenalty(), (float) o.presencePenalty(),
                o.seed() == null ? ThreadLocalRandom.current().nextLong() : o.seed());
        long id = ids.incrementAndGet();
        String publicId = idPrefix + Long.toHexString(started) + Long.toHexString(id);
        Generation g = new Generation(engine, id, publicId, prompt.length, o);
        try {
            engine.submit(new EngineRequest(id, prompt, p, maxTokens, o.stop(),
                    o.topLogprobs() == null ? -1 : o.topLogprobs(), o.ignoreEos(), g.events::add));
            submitted.incrementAndGet();
        } catch (EngineBusyException e) {
            throw new ApiException(429, e.getMessage() + "; retry later", "server_busy", null, "rate_limit_exceeded");
        }
        return g;
    }

    private static String finishReason(StopReason r) {
        return switch (r) {
            case END_OF_GENERATION, STOP_STRING -> "stop";
            case MAX_TOKENS, CONTEXT_FULL -> "length";
        };
    }

    private static ApiException failure(EngineEvent.Failed f) {
        return new ApiException(500, f.message(), "server_error", null, null);
    }

    /** Waits for the end of a non-streamed generation; cancels it if the thread is interrupted. */
    private EngineEvent.Done collect(Generation g, StringBuilder text, List<EngineEvent.TokenLogprob> lps) {
        try {
            while (true) {
                EngineEvent e = g.next(KEEP_ALIVE_MILLIS);
                switch (e) {
                    case null -> { }
                    case EngineEvent.Delta d -> {
                        text.append(d.text());
                        lps.addAll(d.logprobs());
                    }
                    case EngineEvent.Done done -> {
                        return done;
                    }
                    case EngineEvent.Failed f -> throw failure(f);
                }
            }
        } catch (InterruptedException ie) {
            g.cancel();
            Thread.currentThread().interrupt();
            throw new ApiException(503, "the request was interrupted", "server_error", null, null);
        }
    }

    public Responses.ChatCompletion chat(Generation g) {
        StringBuilder text = new StringBuilder();
        List<EngineEvent.TokenLogprob> lps = new ArrayList<>();
        EngineEvent.Done done = collect(g, text, lps);
        var choice = new Responses.ChatChoice(0, new Responses.Message("assistant", text.toString()),
                g.options.topLogprobs() == null ? null : chatLogprobs(lps), finishReason(done.reason()));
        return new Responses.ChatCompletion(g.publicId, "chat.completion", g.created, modelName, List.of(choice),
                Responses.Usage.of(done.promptTokens(), done.completionTokens()));
    }

    public Responses.Completion completion(Generation g) {
        StringBuilder text = new StringBuilder();
        List<EngineEvent.TokenLogprob> lps = new ArrayList<>();
        EngineEvent.Done done = collect(g, text, lps);
        var choice = new Responses.TextChoice(text.toString(), 0,
                g.options.topLogprobs() == null ? null : legacyLogprobs(lps, 0), finishReason(done.reason()));
        return new Responses.Completion(g.publicId, "text_completion", g.created, modelName, List.of(choice),
                Responses.Usage.of(done.promptTokens(), done.completionTokens()));
    }

    /** Streams a chat completion; an IOException from the sink (client gone) cancels the generation. */
    public void streamChat(Generation g, ChunkSink sink) throws IOException {
        stream(g, sink, true);
    }

    public void streamCompletion(Generation g, ChunkSink sink) throws IOException {
        stream(g, sink, false);
    }

    private void stream(Generation g, ChunkSink sink, boolean chat) throws IOException {
        try {
            if (chat) {
                sink.send(chatChunk(g, new Responses.Delta("assistant", ""), null, null));
            }
            int offset = 0;
            while (true) {
                EngineEvent e = g.next(KEEP_ALIVE_MILLIS);
                switch (e) {
                    case null -> sink.keepAlive();
                    case EngineEvent.Delta d -> {
                        if (chat) {
                            sink.send(chatChunk(g, new Responses.Delta(null, d.text()),
                                    g.options.topLogprobs() == null ? null : chatLogprobs(d.logprobs()), null));
                        } else {
                            sink.send(textChunk(g, d.text(),
                                    g.options.topLogprobs() == null ? null : legacyLogprobs(d.logprobs(), offset), null));
                            offset += d.text().length();
                        }
                    }
                    case EngineEvent.Done done -> {
                        String reason = finishReason(done.reason());
                        sink.send(chat ? chatChunk(g, new Responses.Delta(null, null), null, reason)
                                : textChunk(g, "", null, reason));
                        if (g.options.includeUsage()) {
                            var usage = Responses.Usage.of(done.promptTokens(), done.completionTokens());
                            sink.send(chat ? new Responses.ChatCompletionChunk(g.publicId, "chat.completion.chunk",
                                    g.created, modelName, List.of(), usage)
                                    : new Responses.Completion(g.publicId, "text_completion", g.created, modelName,
                                    List.of(), usage));
                        }
                        return;
                    }
                    case EngineEvent.Failed f -> {
                        sink.send(failure(f).body());
                        return;
                    }
                }
            }
        } catch (IOException | RuntimeException ex) {
            g.cancel();
            throw ex;
        } catch (InterruptedException ie) {
            g.cancel();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", ie);
        }
    }

    private Responses.ChatCompletionChunk chatChunk(Generation g, Responses.Delta delta, Responses.ChoiceLogprobs lp,
            String finish) {
        return new Responses.ChatCompletionChunk(g.publicId, "chat.completion.chunk", g.created, modelName,
                List.of(new Responses.ChunkChoice(0, delta, lp, finish)), null);
    }

    private Responses.Completion textChunk(Generation g, String text, Responses.LegacyLogprobs lp, String finish) {
        return new Responses.Completion(g.publicId, "text_completion", g.created, modelName,
                List.of(new Responses.TextChoice(text, 0, lp, finish)), null);
    }

    private String tokenText(int id) {
        return new String(engine.tokenizer().tokenBytes(id), StandardCharsets.UTF_8);
    }

    private int[] tokenBytes(int id) {
        byte[] b = engine.tokenizer().tokenBytes(id);
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] & 0xFF;
        }
        return out;
    }

    private Responses.ChoiceLogprobs chatLogprobs(List<EngineEvent.TokenLogprob> lps) {
        List<Responses.TokenLogprob> content = new ArrayList<>(lps.size());
        for (EngineEvent.TokenLogprob t : lps) {
            List<Responses.TopLogprob> top = new ArrayList<>(t.topTokens().length);
            for (int i = 0; i < t.topTokens().length; i++) {
                top.add(new Responses.TopLogprob(tokenText(t.topTokens()[i]), t.topLogprobs()[i], tokenBytes(t.topTokens()[i])));
            }
            content.add(new Responses.TokenLogprob(tokenText(t.token()), t.logprob(), tokenBytes(t.token()), top));
        }
        return new Responses.ChoiceLogprobs(content);
    }

    private Responses.LegacyLogprobs legacyLogprobs(List<EngineEvent.TokenLogprob> lps, int offset) {
        List<String> tokens = new ArrayList<>();
        List<Double> values = new ArrayList<>();
        List<Map<String, Double>> tops = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        for (EngineEvent.TokenLogprob t : lps) {
            String s = tokenText(t.token());
            tokens.add(s);
            values.add((double) t.logprob());
            Map<String, Double> top = new LinkedHashMap<>();
            for (int i = 0; i < t.topTokens().length; i++) {
                top.putIfAbsent(tokenText(t.topTokens()[i]), (double) t.topLogprobs()[i]);
            }
            tops.add(top);
            offsets.add(offset);
            offset += s.length();
        }
        return new Responses.LegacyLogprobs(tokens, values, tops, offsets);
    }
}
