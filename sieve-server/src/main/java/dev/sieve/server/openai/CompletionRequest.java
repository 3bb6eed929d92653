package dev.sieve.server.openai;

/** A parsed POST /v1/completions body (one prompt string; echo and best_of are not supported). */
public record CompletionRequest(String model, String prompt, GenerationOptions options) {}
