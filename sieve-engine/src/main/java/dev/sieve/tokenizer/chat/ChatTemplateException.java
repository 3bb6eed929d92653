package dev.sieve.tokenizer.chat;

/** A chat template failed: a syntax error, an error while rendering, or a {@code raise_exception} call. */
public class ChatTemplateException extends RuntimeException {
    public ChatTemplateException(String message) {
        super(message);
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
