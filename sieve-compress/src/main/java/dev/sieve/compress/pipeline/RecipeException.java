package dev.sieve.compress.pipeline;

/** A recipe (or the flags standing for one) asks for something invalid; raised before any work starts. */
public final class RecipeException extends IllegalArgumentException {
    public RecipeException(String message) {
        super(message);
    }
}
