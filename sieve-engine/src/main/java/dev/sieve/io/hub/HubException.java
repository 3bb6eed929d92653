package dev.sieve.io.hub;

import java.io.IOException;

/** A download or listing failed; the message says why and what to do (e.g. set HF_TOKEN). */
public class HubException extends IOException {
    private final int status;

    public HubException(String message, int status) {
        super(message);
        this.status = status;
    }

    public HubException(String message, Throwable cause) {
        super(message, cause);
        this.status = -1;
    }

    /** The HTTP status behind the failure, or -1 when there was none (network, checksum). */
    public int status() {
        return status;
    }
}
