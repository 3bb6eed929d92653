package dev.sieve.compress.quantize;

import dev.sieve.compress.linalg.Cholesky;
import dev.sieve.core.quant.BlockGrid;
import java.util.stream.IntStream;

/**
 * GPTQ (Frantar et al., 2022): quantize W column by column, and after each column spread its
 * rounding error over the not-yet-quantized columns along the inverse Hessian, which minimizes
 * ‖WX − ŴX‖² for the calibration inputs X (H = XᵀX):
 *
 * <pre>
 *   H += λ·mean(diag H)·I;  U = chol(H⁻¹) upper
 *   for each block of B columns [i1, i2):
 *     for i in [i1, i2):
 *       at a group start: fit the group's grid to the current (already updated) weights
 *       q = round(w_i);  e = (w_i − q) / U_ii
 *       w_j −= e·U_ij  for j in (i, i2)        (inside the block)
 *     W[:, i2:] −= E·U[i1:i2, i2:]             (lazy batch update)
 * </pre>
 *
 * The grid is a {@link BlockGrid}, so the result sits exactly on an encoding's grid and encodes
 * to a plain Q4_0/Q4_K/… tensor. With act-order the columns go by decreasing H_jj; then all
 * groups are fitted up front on the original weights ("static groups"), so each block's scales
 * still describe one contiguous block of the file layout. Rows are independent given H, so they
 * are processed in parallel chunks.
 */
public final class GptqQuantizer {

    /**
     * @param damp λ, relative to mean(diag H) (GPTQ's percdamp, default 0.01)
     * @param blockSize lazy-batch width B (default 128)
     * @param actOrder process columns by decreasing diag(H)
     * @param importance fit each block's scales minimizing Σ h_jj·(w_j − q_j)² (the damped diagonal
     *     of H as per-column importance, llama.cpp's imatrix rule) rather than the plain error
     * @param lazySubBlocks for grids with sub-blocks under a shared scale (K-quants): fit each
     *     sub-block's scale when GPTQ reaches it, to the weights as updated by then (the super-block
     *     scale stays as fitted at the block start), as reference GPTQ fits its groups
     * @param conditional with {@code importance}: weight column j by 1/U_jj² instead of h_jj, where
     *     U = chol(H⁻¹) in processing order. That is GPTQ's own cost of a unit rounding error in
     *     column j once the later columns compensate it (1/[(H_FF)⁻¹]_jj over the remaining set F),
     *     where h_jj is the cost with no compensation; they agree when H is diagonal
     */
    public record Options(double damp, int blockSize, boolean actOrder, boolean importance, boolean lazySubBlocks,
            boolean conditional) {
        public static final Options DEFAULT = new Options(0.01, 128, false, false, false, false);

        public Options(double damp, int blockSize, boolean actOrder, boolean importance, boolean lazySubBlocks) {
            this(damp, blockSize, actOrder, importance, lazySubBlocks, false);
        }

        public Options(double damp, int blockSize, boolean actOrder) {
            this(damp, blockSize, actOrder, false, false);
        }

        public Options(double damp, int blockSize, boolean actOrder, boolean importance) {
            this(damp, blockSize, actOrder, importance, false);
        }

        public Options {
            if (!(damp >= 0)) {
                throw new IllegalArgumentException("damp must be ≥ 0: " + damp);
            }
            if (blockSize < 1) {
                throw new IllegalArgumentException("blockSize must be positive: " + blockSize);
            }
            if (conditional && !importance) {
                throw new IllegalArgumentException("conditional importance needs importance");
            }
        }

        public Options withActOrder(boolean on) {
            return new Options(damp, blockSize, on, importance, lazySubBlocks, conditional);
        }

        public Options withImportance(boolean on) {
            return new Options(damp, blockSize, actOrder, on, lazySubBlocks, conditional && on);
        }

        public Options withLazySubBlocks(boolean on) {
            return new Options(damp, blockSize, actOrder, importance, on, conditional);
        }

        public Options withConditionalImportance(boolean on) {
            return new Options(damp, blockSize, actOrder, importance || on, lazySubBlocks, on);
        }
    }

    private static final int ROW_CHUNK = 16;

    private final Options options;

    public GptqQuantizer(Options options) {
        this.options = options;
    }

    public GptqQuantizer() {
        this(Options.DEFAULT);
    }

    /** Quantizes W[rows][cols] with input Hessian H (cols×cols, e.g. {@code LayerStatistics.hessian()}). */
    public QuantizedWeights quantize(float[] w, int rows, int cols, double[] h, BlockGrid grid) {
        return quantize(w, rows, cols, h, grid, null, null);
    }

    /**
     * The full form: positions marked in {@code exact} are not rounded (their error is zero, so
     * nothing propagates from them) and count as zero when groups are fitted; their final,
     * error-compensated target values go to {@code exactTargets} (same layout as w) while the
     * returned values there are those targets rounded to the grid.
     */
    QuantizedWeights quantize(float[] w, int rows, int cols, double[] hIn, BlockGrid grid,
            boolean[] exact, float[] exactTargets) {
        QuantizedWeights.checkShape(w, rows, cols, grid);
        if (hIn.length != cols * cols) {
            throw new IllegalArgumentException("Hessian is not " + cols + "×" + cols);
        }
        int bs = grid.blockSize();
        int nb = cols / bs;
        double[] h = hIn.clone();
        float[] work = w.clone();
        // Inputs that never fire: their weights do not affect the output; GPTQ zeroes them.
        for (int j = 0; j < cols; j++) {
            if (h[j * cols + j] == 0) {
                h[j * cols + j] = 1;
                for (int r = 0; r < rows; r++) {
                    work[r * cols + j] = 0;
                }
            }
        }
        int[] perm = identity(cols);
        if (options.actOrder()) {
            perm = IntStream.range(0, cols).boxed()
                    .sorted((a, b) -> Double.compare(h[b * cols + b], h[a * cols + a]))
                    .mapToInt(Integer::intValue).toArray();
        }
        double mean = 0;
        for (int j = 0; j < cols; j++) {
            mean += h[j * cols + j];
        }
        double delta = options.damp() * mean / cols;
        double[] hp = new double[cols * cols];
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < cols; j++) {
                hp[i * cols + j] = h[perm[i] * cols + perm[j]];
            }
            hp[i * cols + i] += delta;
        }
        double[] u = Cholesky.inverseUpperFactor(hp, cols);
        // Per-column importance for the grid fits (original column order), or null for plain fits.
        float[] imp = null;
        if (options.importance()) {
            imp = new float[cols];
            for (int i = 0; i < cols; i++) {
                double uii = u[i * cols + i];
                imp[perm[i]] = (float) (options.conditional() ? 1 / (uii * uii) : h[perm[i] * cols + perm[i]] + delta);
            }
        }
        final float[] importance = imp;

        BlockGrid.Block[] blocks = new BlockGrid.Block[rows * nb];
        boolean staticGroups = options.actOrder();
        if (staticGroups) {
            float[] scratch = new float[bs];
            for (int r = 0; r < rows; r++) {
                for (int b = 0; b < nb; b++) {
                    blocks[r * nb + b] = fit(grid, work, r * cols + b * bs, exact, scratch, importance, b * bs);
                }
            }
        }
        float[] out = new float[w.length];
        final int[] order = perm;
        int chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
        IntStream.range(0, chunks).parallel().forEach(c -> run(work, out, rows, cols, c * ROW_CHUNK,
                Math.min(rows, (c + 1) * ROW_CHUNK), order, u, grid, blocks, staticGroups, exact, exactTargets, importance));
        return new QuantizedWeights(rows, cols, grid, blocks, out);
    }

    private static BlockGrid.Block fit(BlockGrid grid, float[] w, int off, boolean[] exact, float[] scratch,
            float[] importance, int col) {
        BlockGrid.Block block = grid.newBlock();
        for (int i = 0; i < scratch.length; i++) {
            scratch[i] = exact != null && exact[off + i] ? 0f : w[off + i];
        }
        if (importance != null) {
            block.fit(scratch, 0, importance, col);
        } else {
            block.fit(scratch, 0);
        }
        return block;
    }

    /** GPTQ on rows [r0, r1): each row is independent given U. */
    private void run(float[] work, float[] out, int rows, int cols, int r0, int r1, int[] perm,
            double[] u, BlockGrid grid, BlockGrid.Block[] blocks, boolean staticGroups,
            boolean[] exact, float[] exactTargets, float[] importance) {
        int bs = grid.blockSize();
        int nb = cols / bs;
        int n = r1 - r0;
        int bw = options.blockSize();
        // Working weights of these rows in processing (permuted) order, double for the updates.
        double[] wp = new double[n * cols];
        for (int r = 0; r < n; r++) {
            for (int k = 0; k < cols; k++) {
                wp[r * cols + k] = work[(r0 + r) * cols + perm[k]];
            }
        }
        double[] err = new double[n * bw];
        float[] scratch = new float[bs];
        float[] rowValues = new float[cols];
        for (int i1 = 0; i1 < cols; i1 += bw) {
            int i2 = Math.min(i1 + bw, cols);
            for (int i = i1; i < i2; i++) {
                int orig = perm[i];
                int b = orig / bs;
                double d = u[i * cols + i];
                for (int r = 0; r < n; r++) {
                    int row = r0 + r;
                    int ro = r * cols;
                    if (!staticGroups && orig % bs == 0) {
                        // Group start: fit on the current weights (identity order here).
                        for (int k = 0; k < bs; k++) {
                            rowValues[k] = (float) wp[ro + i + k];
                        }
                        blocks[row * nb + b] = fit(grid, rowValues, 0, exact == null ? null
                                : slice(exact, row * cols + orig, bs), scratch, importance, orig);
                    } else if (!staticGroups && options.lazySubBlocks()) {
                        BlockGrid.Block blk = blocks[row * nb + b];
                        int sub = blk.subBlockSize();
                        int at = orig % bs;
                        if (sub < bs && at % sub == 0) {
                            // Sub-block start: its scale from the current weights (the block start's
                            // full fit already used them for sub-block 0).
                            for (int k = 0; k < sub; k++) {
                                boolean ex = exact != null && exact[row * cols + orig + k];
                                rowValues[k] = ex ? 0f : (float) wp[ro + i + k];
                            }
                            blk.refitSubBlock(at / sub, rowValues, 0, importance, orig);
                        }
                    }
                    double wv = wp[ro + i];
                    int at = row * cols + orig;
                    double q;
                    if (exact != null && exact[at]) {
                        q = wv;
                        exactTargets[at] = (float) wv;
                        out[at] = blocks[row * nb + b].round(orig % bs, (float) wv);
                    } else {
                        q = blocks[row * nb + b].round(orig % bs, (float) wv);
                        out[at] = (float) q;
                    }
                    double e = (wv - q) / d;
                    err[r * bw + (i - i1)] = e;
                    if (e != 0) {
                        int uo = i * cols;
                        for (int j = i + 1; j < i2; j++) {
                            wp[ro + j] -= e * u[uo + j];
                        }
                    }
                }
            }
            if (i2 < cols) {
                for (int r = 0; r < n; r++) {
                    int ro = r * cols;
                    for (int k = i1; k < i2; k++) {
                        double e = err[r * bw + (k - i1)];
                        if (e == 0) {
                            continue;
                        }
                        int uo = k * cols;
                        for (int j = i2; j < cols; j++) {
                            wp[ro + j] -= e * u[uo + j];
                        }
                    }
                }
            }
        }
    }

    private static boolean[] slice(boolean[] a, int from, int len) {
        boolean[] s = new boolean[len];
        System.arraycopy(a, from, s, 0, len);
        return s;
    }

    private static int[] identity(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        return p;
    }
}
