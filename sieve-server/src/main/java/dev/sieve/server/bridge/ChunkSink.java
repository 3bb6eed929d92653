package dev.sieve.server.bridge;

import java.io.IOException;

/** Where a stream's chunks go; an {@link IOException} means the client is gone and cancels the generation. */
public interface ChunkSink {
    void send(Object chunk) throws IOException;

    /** Called while nothing was produced for a while: lets the transport notice a closed connection. */
    void keepAlive() throws IOException;
}
