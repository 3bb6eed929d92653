package dev.sieve.server.openai;

/** OpenAI's error body. */
public record ErrorResponse(Error error) {
    public record Error(String message, String type, String param, String code) {}
}
