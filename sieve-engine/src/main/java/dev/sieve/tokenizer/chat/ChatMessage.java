package dev.sieve.tokenizer.chat;

/** One turn of a conversation: a role ({@code system}, {@code user}, {@code assistant}, ...) and its text. */
public record ChatMessage(String role, String content) {}
