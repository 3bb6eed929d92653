package dev.sieve.io.gguf;

/** A GGUF file is malformed: the one exception the reader lets escape for bad input. */
public final class GgufFormatException extends RuntimeException {
    public GgufFormatException(String message) {
        super(message);
    }

    public GgufFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
