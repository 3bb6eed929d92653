package dev.sieve.model.loader;

/** A model file is valid GGUF but not a model Sieve can run (unknown architecture, missing or misshapen tensor). */
public final class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }
}
