package dev.sieve.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.exception.AuthenticationException;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import dev.sieve.runtime.engine.Engine;
import dev.sieve.runtime.engine.GenerationResult;
import dev.sieve.runtime.engine.Session;
import dev.sieve.runtime.engine.StopReason;
import dev.sieve.runtime.sample.SamplingParams;
import dev.sieve.tokenizer.chat.ChatMessage;
import dev.sieve.tokenizer.chat.ChatTemplate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The server as a real OpenAI client library sees it (LangChain4j's OpenAI module over loopback):
 * what the client parses must be what the engine computed alone, streamed or not, and the server's
 * errors must reach the client as the matching typed exceptions.
 */
class OpenAiClientTest {
    static final String KEY = "test-key";

    @BeforeAll
    static void load() throws Exception {
        ServerTest.load();
    }

    @AfterAll
    static void unload() throws Exception {
        ServerTest.unload();
    }

    static ServerTest.Srv start() throws Exception {
        return ServerTest.start(new Engine.Config(256, 4, 64, 16, 0), KEY, 1 << 20);
    }

    /** The greedy reply to one user message, computed by a lone {@link Session} on the rendered template. */
    static GenerationResult soloReply(String user, int maxTokens) {
        ChatTemplate template = ChatTemplate.fromGguf(ServerTest.model.metadata());
        String text = template.render(List.of(new ChatMessage("user", user)), true);
        boolean hasBos = !template.bosToken().isEmpty() && text.startsWith(template.bosToken());
        int[] prompt = ServerTest.tok.encode(text, !hasBos, true);
        Session session = new Session(ServerTest.model, ServerTest.tok, ServerTest.linear, 256, 64);
        GenerationResult r = session.generate(prompt, SamplingParams.greedy(), maxTokens, List.of(), t -> {});
        assertTrue(r.generatedTokens() > 1 && !r.text().isEmpty(), "the model must say something to compare: " + r);
        return r;
    }

    static FinishReason expectedFinish(StopReason r) {
        return r == StopReason.MAX_TOKENS || r == StopReason.CONTEXT_FULL ? FinishReason.LENGTH : FinishReason.STOP;
    }

    static ChatModel chatModel(ServerTest.Srv s, String key, int maxTokens) {
        return OpenAiChatModel.builder().baseUrl(s.base() + "/v1").apiKey(key).modelName("tiny")
                .temperature(0.0).maxTokens(maxTokens).maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    }

    static StreamingChatModel streamingModel(ServerTest.Srv s, String key, int maxTokens) {
        return OpenAiStreamingChatModel.builder().baseUrl(s.base() + "/v1").apiKey(key).modelName("tiny")
                .temperature(0.0).maxTokens(maxTokens).timeout(Duration.ofSeconds(60)).build();
    }

    /** What a streaming call delivered: the partial texts joined, and the final response or the error. */
    record Streamed(String partials, ChatResponse response, Throwable error) {}

    static Streamed stream(StreamingChatModel m, String user) throws Exception {
        StringBuilder partials = new StringBuilder();
        CompletableFuture<Streamed> done = new CompletableFuture<>();
        m.chat(user, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String text) {
                partials.append(text);
            }

            @Override
            public void onCompleteResponse(ChatResponse r) {
                done.complete(new Streamed(partials.toString(), r, null));
            }

            @Override
            public void onError(Throwable t) {
                done.complete(new Streamed(partials.toString(), null, t));
            }
        });
        return done.get(60, TimeUnit.SECONDS);
    }

    @Test
    void chatCompletionIsTheSoloGreedyReply() throws Exception {
        GenerationResult expected = soloReply("Hello there, how are you?", 16);
        try (ServerTest.Srv s = start()) {
            ChatResponse r = chatModel(s, KEY, 16).chat(List.of(dev.langchain4j.data.message.UserMessage.from(
                    "Hello there, how are you?")));
            assertEquals(expected.text(), r.aiMessage().text());
            assertEquals("tiny", r.modelName());
            assertTrue(r.id().startsWith("chatcmpl-"), r.id());
            assertEquals(expectedFinish(expected.reason()), r.finishReason());
            assertEquals(expected.generatedTokens(), r.tokenUsage().outputTokenCount());
            assertEquals(expected.promptTokens(), r.tokenUsage().inputTokenCount());
            assertEquals(r.tokenUsage().inputTokenCount() + r.tokenUsage().outputTokenCount(),
                    r.tokenUsage().totalTokenCount());
        }
    }

    @Test
    void streamedChatDeliversTheSameReplyPieceByPiece() throws Exception {
        GenerationResult expected = soloReply("Tell me a story about a fox", 24);
        try (ServerTest.Srv s = start()) {
            Streamed st = stream(streamingModel(s, KEY, 24), "Tell me a story about a fox");
            if (st.error() != null) {
                throw new AssertionError("stream failed", st.error());
            }
            assertEquals(expected.text(), st.partials());
            assertEquals(expected.text(), st.response().aiMessage().text());
            assertEquals(expectedFinish(expected.reason()), st.response().finishReason());
            ServerTest.awaitMetric(s, "sieve_kv_blocks_used", 0);
            assertEquals(1, ServerTest.metric(s, "sieve_requests_finished_total"));
        }
    }

    @Test
    void serverErrorsReachTheClientAsTypedExceptions() throws Exception {
        try (ServerTest.Srv s = start()) {
            // 401: a wrong key
            assertThrows(AuthenticationException.class, () -> chatModel(s, "wrong", 4).chat("hi"));
            // 400 context_length_exceeded: a prompt longer than the 256-token context
            String longPrompt = "word ".repeat(400);
            InvalidRequestException e = assertThrows(InvalidRequestException.class,
                    () -> chatModel(s, KEY, 4).chat(longPrompt));
            assertTrue(e.getMessage().contains("maximum context length"), e.getMessage());
            // the same refusal on a streamed request arrives through onError, with no partial text
            Streamed st = stream(streamingModel(s, KEY, 4), longPrompt);
            assertNotNull(st.error(), "a refused stream must end in onError");
            assertInstanceOf(InvalidRequestException.class, st.error());
            assertEquals("", st.partials());
            // nothing was admitted, and the server still answers
            assertEquals(0, ServerTest.metric(s, "sieve_kv_blocks_used"));
            assertEquals(soloReply("hi", 4).text(), chatModel(s, KEY, 4).chat("hi"));
        }
    }
}
