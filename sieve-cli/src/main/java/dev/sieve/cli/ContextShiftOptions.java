package dev.sieve.cli;

import dev.sieve.runtime.engine.Session;
import picocli.CommandLine.Option;

/** What generation does at the context limit (llama.cpp's --context-shift and --keep; StreamingLLM's sinks). */
final class ContextShiftOptions {
    @Option(names = "--context-shift",
            description = "when the context fills, keep the first --keep tokens, drop the older half of the rest and go on"
                    + " (StreamingLLM: -c SINKS+WINDOW --context-shift --keep SINKS); default: stop at the limit")
    boolean contextShift;

    @Option(names = "--keep", defaultValue = "4", paramLabel = "N",
            description = "tokens kept at the start by --context-shift: the attention sinks (default: ${DEFAULT-VALUE})")
    int keep;

    void apply(Session session) {
        if (!contextShift) {
            return;
        }
        if (keep < 0) {
            throw new UserException("--keep must not be negative");
        }
        try {
            session.setContextShift(keep);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
    }
}
