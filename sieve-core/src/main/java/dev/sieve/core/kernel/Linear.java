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
        curW = w;
        curOut = out;
        try {
            // 16-row grains keep each thread's share contiguous and cache-line friendly.
            pool.parallelFor(rows, 16, rowsTask);
        } finally {
            curW = null;
            curOut = null;
        }
    }

    // The product being split, read by rowsTask: fields and one task object, so that a matrix
    // product allocates nothing (a capturing lambda per call cost 32 bytes, 15 a token on a 2-layer model).
    private Tensor curW;
    private float[] curOut;
    private final WorkerPool.RangeTask rowsTask = this::matmulRows;

    private void matmulRows(int r0, int r1) {
        kernels.matmul(curW, act, curOut, curW.rows(), r0, r1);
    }
}
