package dev.sieve.server.openai;

import java.util.List;

/** A parsed POST /v1/chat/completions body. */
public record ChatCompletionRequest(String model, List<Message> messages, GenerationOptions options) {
    /** A message; content parts of type text are joined into one string. */
    public record Message(String role, String content) {}
}
