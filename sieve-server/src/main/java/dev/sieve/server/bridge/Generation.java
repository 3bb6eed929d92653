package dev.sieve.server.bridge;

import dev.sieve.runtime.engine.Engine;
import dev.sieve.runtime.engine.EngineEvent;
import dev.sieve.server.openai.GenerationOptions;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** One submitted generation: the engine's events arrive in a queue that the request's thread drains. */
public final class Generation {
    private final Engine engine;
    final long id;
    final String publicId;
    final int promptTokens;
    final GenerationOptions options;
    final long created = System.currentTimeMillis() / 1000;
    final LinkedBlockingQueue<EngineEvent> events = new LinkedBlockingQueue<>();
    private volatile boolean over;

    Generation(Engine engine, long id, String publicId, int promptTokens, GenerationOptions options) {
        this.engine = engine;
        this.id = id;
        this.publicId = publicId;
        this.promptTokens = promptTokens;
        this.options = options;
    }

    public boolean stream() {
        return options.stream();
    }

    /** The next event, or null after {@code millis} without one. */
    EngineEvent next(long millis) throws InterruptedException {
        EngineEvent e = events.poll(millis, TimeUnit.MILLISECONDS);
        if (e instanceof EngineEvent.Done || e instanceof EngineEvent.Failed) {
            over = true;
        }
        return e;
    }

    /** Frees the sequence at the engine's next step, unless it already ended. */
    public void cancel() {
        if (!over) {
            engine.cancel(id);
        }
    }
}
