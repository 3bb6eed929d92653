package dev.sieve.runtime.engine;

/** The waiting queue is full; the caller should try again later. */
public final class EngineBusyException extends RuntimeException {
    public EngineBusyException(int queued) {
        super("the server is busy: " + queued + " requests are already waiting");
    }
}
