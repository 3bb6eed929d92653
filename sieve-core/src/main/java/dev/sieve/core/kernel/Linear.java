package dev.sieve.core.kernel;

import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import java.util.Arrays;

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
        run(w, x, tokens, out, false);
    }

    /**
     * {@link #apply} for the input the previous call took, unchanged since (a layer's q, k and v, or
     * gate and up, read one normed input): when {@code w} is of the previous weights' encoding, the
     * activations that call prepared are used again instead of being rounded, summed and laid out
     * once more (seven preparations a layer become four; each ran on one thread). A different array,
     * token count or width prepares as {@link #apply} does.
     */
    public void applyAgain(Tensor w, float[] x, int tokens, float[] out) {
        run(w, x, tokens, out, true);
    }

    private WeightEncoding preparedFor;

    private void run(Tensor w, float[] x, int tokens, float[] out, boolean again) {
        int cols = w.cols();
        int rows = w.rows();
        if (!(again && preparedFor == w.encoding() && act.floats() == x && act.tokens() == tokens && act.cols() == cols)) {
            preparedFor = null; // until prepare returns: a failed one leaves nothing to reuse
            act.set(x, tokens, cols);
            kernels.prepare(w, act);
            preparedFor = w.encoding();
        }
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

    /**
     * {@code out[t * rows + r] += S[r,:] · x[t*cols ..]} for a sparse {@code rows × cols} matrix S in CSR
     * form ({@link Kernels#sparseRows}), its rows split across the pool like a dense product's. Several
     * tokens go through column-major scratch arrays (kept for the next call): the activations are
     * transposed once, each thread sums its rows' outputs into the transposed output and adds them back.
     */
    public void addSparse(int rows, int cols, int[] rowPtr, int[] col, float[] values, float[] x, int tokens,
            float[] out) {
        float[] xT = x;
        if (tokens > 1) {
            if (xScratch.length < tokens * cols) {
                xScratch = new float[tokens * cols];
            }
            if (yScratch.length < tokens * rows) {
                yScratch = new float[tokens * rows];
            }
            xT = xScratch;
            transpose(x, cols, xT, tokens, 0, tokens, 0, cols, false);
        }
        curPtr = rowPtr;
        curCol = col;
        curValues = values;
        curX = xT;
        curTokens = tokens;
        curOut = out;
        curRows = rows;
        try {
            pool.parallelFor(rows, 16, sparseTask);
        } finally {
            curPtr = null;
            curCol = null;
            curValues = null;
            curX = null;
            curOut = null;
        }
    }

    /**
     * {@code to[j * toStride + i] = from[i * fromStride + j]} (or {@code +=}) for i in {@code [i0, i1)}, j in
     * {@code [j0, j1)}, in 16 × 16 tiles: element by element, the writes of one source row land on as
     * many cache lines of the destination (2048 × 128 floats: 1 MiB), which cost more than the product.
     */
    private static void transpose(float[] from, int fromStride, float[] to, int toStride, int i0, int i1, int j0, int j1,
            boolean add) {
        for (int a = i0; a < i1; a += 16) {
            int a1 = Math.min(i1, a + 16);
            for (int b = j0; b < j1; b += 16) {
                int b1 = Math.min(j1, b + 16);
                for (int j = b; j < b1; j++) {
                    for (int i = a; i < a1; i++) {
                        float v = from[i * fromStride + j];
                        to[j * toStride + i] = add ? to[j * toStride + i] + v : v;
                    }
                }
            }
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

    // The sparse product being split, read by sparseTask (same reason).
    private int[] curPtr;
    private int[] curCol;
    private float[] curValues;
    private float[] curX;
    private float[] xScratch = new float[0];
    private float[] yScratch = new float[0];
    private int curTokens;
    private int curRows;
    private final WorkerPool.RangeTask sparseTask = this::sparseRows;

    private void sparseRows(int r0, int r1) {
        int n = curTokens;
        if (n == 1) {
            kernels.sparseRows(curPtr, curCol, curValues, curX, 1, curOut, r0, r1);
            return;
        }
        // This thread's rows of the transposed output: zeroed, summed into, added back token-major.
        float[] yT = yScratch;
        Arrays.fill(yT, r0 * n, r1 * n, 0f);
        kernels.sparseRows(curPtr, curCol, curValues, curX, n, yT, r0, r1);
        transpose(yT, n, curOut, curRows, r0, r1, 0, n, true);
    }
}
