package dev.sieve.core.parallel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of persistent worker threads that run one data-parallel loop at a time.
 *
 * <p>{@link #parallelFor} splits {@code [0, n)} into chunks (aligned to a grain so quantized blocks
 * are never split; about {@link #CHUNKS_PER_THREAD} per thread) that the caller and the workers
 * claim from a shared counter until none is left, so a thread that runs slower (a busy core, a
 * late wake-up) simply takes fewer chunks and all finish together; then it returns. The caller waits
 * only for the workers that joined the loop while it had chunks left: a worker that wakes after the
 * caller took the last chunk does not join, so a descheduled worker (the load generator, the HTTP
 * threads or the JIT on the same cores) costs the caller nothing once the work is done. No thread is
 * created and nothing is allocated per call: workers spin briefly for the next loop (a decode step
 * issues hundreds back to back), then park.
 */
public final class WorkerPool implements AutoCloseable {

    /** The body of a loop over {@code [start, end)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end);
    }

    private static final int SPINS = 1 << 16;
    private static final int WAIT_SPINS = 1 << 12;
    /** Enough chunks to even out an uneven machine, few enough that claiming them costs nothing. */
    static final int CHUNKS_PER_THREAD = 4;

    private final Worker[] workers;
    private final int threads;
    private volatile RangeTask task;
    private volatile int total;
    private volatile int grain;
    private volatile int chunkUnits;
    private final AtomicInteger nextChunk = new AtomicInteger();
    private volatile long generation;
    /** Joining the current loop: its generation (high 32 bits), a closed bit, the workers that joined. */
    private final AtomicLong ticket = new AtomicLong();
    private static final long CLOSED = 1L << 31;
    private static final long JOINED = CLOSED - 1;
    /** Joined workers that are done with the current loop. */
    private final AtomicInteger finished = new AtomicInteger();
    private volatile Throwable failure;
    private volatile boolean closed;

    public WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].thread.start();
        }
    }

    /** A pool with one thread per available core. */
    public static WorkerPool ofAvailableCores() {
        return new WorkerPool(Runtime.getRuntime().availableProcessors());
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code body} over {@code [0, n)} split across all threads, in ranges aligned to {@code grain}. */
    public void parallelFor(int n, int grain, RangeTask body) {
        if (n <= 0) {
            return;
        }
        int units = (n + grain - 1) / grain;
        if (threads == 1 || units == 1) {
            body.run(0, n);
            return;
        }
        this.task = body;
        this.total = n;
        this.grain = grain;
        this.chunkUnits = Math.max(1, units / (threads * CHUNKS_PER_THREAD));
        nextChunk.set(0);
        this.failure = null;
        finished.set(0);
        long g = generation + 1;
        ticket.set(g << 32); // open for generation g (its low 32 bits), nobody joined yet
        generation = g; // publishes the fields above to the workers
        for (Worker w : workers) {
            if (w.parked) {
                LockSupport.unpark(w.thread);
            }
        }
        runChunks(body, n, grain, chunkUnits);
        // Every chunk is claimed: close the loop to late workers, then wait for those that joined.
        long t;
        do {
            t = ticket.get();
        } while (!ticket.compareAndSet(t, t | CLOSED));
        int joined = (int) (t & JOINED);
        // Spin briefly (the other shares usually finish within microseconds of ours), then yield
        // the core: on a machine with more runnable threads than cores, spinning would steal the
        // time slice from the very worker being waited for.
        int spins = 0;
        while (finished.get() != joined) {
            if (++spins < WAIT_SPINS) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        Throwable f = failure;
        if (f != null) {
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(f);
        }
    }

    private void runChunks(RangeTask body, int n, int grain, int chunk) {
        long step = (long) chunk * grain;
        for (long start = nextChunk.getAndIncrement() * step; start < n; start = nextChunk.getAndIncrement() * step) {
            body.run((int) start, (int) Math.min(n, start + step));
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) {
            LockSupport.unpark(w.thread);
        }
    }

    private final class Worker implements Runnable {
        final int index;
        final Thread thread;
        volatile boolean parked;

        Worker(int index) {
            this.index = index;
            this.thread = Thread.ofPlatform().daemon().name("sieve-worker-" + index).unstarted(this);
        }

        @Override
        public void run() {
            long seen = 0;
            while (true) {
                int spins = 0;
                while (generation == seen && !closed) {
                    if (++spins < SPINS) {
                        Thread.onSpinWait();
                    } else {
                        parked = true;
                        if (generation == seen && !closed) {
                            LockSupport.park(this);
                        }
                        parked = false;
                    }
                }
                if (closed) {
                    return;
                }
                seen = generation;
                if (!join(seen)) {
                    continue; // the caller already took every chunk of that loop
                }
                try {
                    runChunks(task, total, grain, chunkUnits);
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    finished.incrementAndGet();
                }
            }
        }

        /** Joins loop {@code g} unless the caller has closed it (or moved past it). */
        private boolean join(long g) {
            long gen = g & 0xFFFF_FFFFL; // the ticket keeps the generation's low 32 bits
            for (long t = ticket.get(); t >>> 32 == gen && (t & CLOSED) == 0; t = ticket.get()) {
                if (ticket.compareAndSet(t, t + 1)) {
                    return true;
                }
            }
            return false;
        }
    }
}
