package dev.sieve.core.parallel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of persistent worker threads that run one data-parallel loop at a time.
 *
 * <p>{@link #parallelFor} splits {@code [0, n)} into chunks (aligned to a grain so quantized blocks
 * are never split; about {@link #CHUNKS_PER_THREAD} per thread) that the caller and the workers
 * claim from a shared counter until none is left, so a thread that runs slower (a busy core, a
 * late wake-up) simply takes fewer chunks and all finish together; then it returns. No thread is created and nothing is allocated per
 * call: workers spin briefly for the next loop (a decode step issues hundreds back to back), then
 * park.
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
    private final AtomicInteger pending = new AtomicInteger();
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
        pending.set(workers.length);
        generation++; // publishes the fields above to the workers
        for (Worker w : workers) {
            if (w.parked) {
                LockSupport.unpark(w.thread);
            }
        }
        runChunks(body, n, grain, chunkUnits);
        // Spin briefly (the other shares usually finish within microseconds of ours), then yield
        // the core: on a machine with more runnable threads than cores, spinning would steal the
        // time slice from the very worker being waited for.
        int spins = 0;
        while (pending.get() != 0) {
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
                try {
                    runChunks(task, total, grain, chunkUnits);
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    pending.decrementAndGet();
                }
            }
        }
    }
}
