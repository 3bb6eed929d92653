package dev.sieve.runtime.engine;

/** Why generation ended. */
public enum StopReason {
    /** The model produced an end-of-generation token. */
    END_OF_GENERATION,
    /** The output reached the requested number of tokens. */
    MAX_TOKENS,
    /** A stop string appeared in the output. */
    STOP_STRING,
    /** The context window is full. */
    CONTEXT_FULL
}
