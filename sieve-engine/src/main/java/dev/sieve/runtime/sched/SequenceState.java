package dev.sieve.runtime.sched;

import java.util.Arrays;

/**
 * What the scheduler knows of one sequence: its tokens (prompt, then generated ones) and how many
 * of them have keys and values in the cache. The engine extends it with sampling state.
 */
public class SequenceState {
    private final long id;
    private final int promptLength;
    private int[] tokens;
    private int length;
    private int computed;
    private boolean started;

    public SequenceState(long id, int[] prompt) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        this.id = id;
        this.promptLength = prompt.length;
        this.tokens = Arrays.copyOf(prompt, prompt.length + 16);
        this.length = prompt.length;
    }

    public final long id() {
        return id;
    }

    public final int promptLength() {
        return promptLength;
    }

    /** Prompt plus generated tokens. */
    public final int length() {
        return length;
    }

    /** Tokens whose keys and values are in the cache. */
    public final int computed() {
        return computed;
    }

    /** Tokens still to run through the model before the next token can be sampled. */
    public final int remaining() {
        return length - computed;
    }

    /** The token array (valid up to {@link #length()}); read by the forward pass, never kept. */
    public final int[] tokens() {
        return tokens;
    }

    public final int generated() {
        return length - promptLength;
    }

    /** Whether this sequence has ever been scheduled (a preempted one has). */
    public final boolean started() {
        return started;
    }

    /** Adds a sampled token; the next step computes it. */
    public final void append(int token) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[length++] = token;
    }

    final void advance(int n) {
        computed += n;
    }

    final void resetComputed() {
        computed = 0;
    }

    final void markStarted() {
        started = true;
    }
}
