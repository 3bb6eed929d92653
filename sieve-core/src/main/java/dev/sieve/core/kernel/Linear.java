package dev.sieve.core.kernel;

import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.tensor.Tensor;

/**
 * {@code out = x · Wᵀ} for a batch of tokens: prepares the activations once, then splits the
 * weight rows across the worker pool so each thread streams its own slice of the matrix.
 */
public final class Linear {
    private final Kernels kernels;
    private final WorkerPool pool;
    private final Activations act = new Activations();

    public Linear(Kernels kernels, WorkerPool pool) {
        this.kernels = kernels;
        this.pool = pool;
    }

    public Kernels kernels() {
        return kernels;
    }

    public WorkerPool pool() {
        return pool;
    }

    /** {@code out[t * rows + r] = W[r,:] · x[t*cols ..]} for {@code tokens} tokens. */
    public void apply(Tensor w, float[] x, int tokens, float[] out) {
        int cols = w.cols();
        int rows = w.rows();
        act.set(x, tokens, cols);
        kernels.prepare(w, act);
        // 16-row grains keep each thread's share contiguous and cache-line friendly.
        pool.parallelFor(rows, 16, (r0, r1) -> kernels.matmul(w, act, out, rows, r0, r1));
    }
}
