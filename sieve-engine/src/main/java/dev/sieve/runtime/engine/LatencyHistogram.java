package dev.sieve.runtime.engine;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;

/** A lock-free cumulative histogram of durations in seconds, Prometheus style (fixed upper bounds). */
public final class LatencyHistogram {
    public static final double[] BOUNDS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

    private final AtomicLongArray counts = new AtomicLongArray(BOUNDS.length + 1);
    private final DoubleAdder sum = new DoubleAdder();

    public void record(long nanos) {
        double s = nanos / 1e9;
        int i = 0;
        while (i < BOUNDS.length && s > BOUNDS[i]) {
            i++;
        }
        counts.incrementAndGet(i);
        sum.add(s);
    }

    /** Observations at or below {@code BOUNDS[i]} (i = BOUNDS.length: all of them). */
    public long cumulative(int i) {
        long c = 0;
        for (int j = 0; j <= i; j++) {
            c += counts.get(j);
        }
        return c;
    }

    public long count() {
        return cumulative(BOUNDS.length);
    }

    public double sum() {
        return sum.sum();
    }
}
