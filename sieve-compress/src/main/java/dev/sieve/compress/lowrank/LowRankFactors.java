package dev.sieve.compress.lowrank;

/**
 * W ≈ A·B with A[rows×rank] and B[rank×cols], row-major floats: the two tensors stored in place of
 * W (y = A·(B·x)). {@code sigma} holds all singular values of the factored matrix (W, or W·S for
 * the whitened form) and {@code droppedEnergy} Σ_{i>rank} σᵢ², the squared error the truncation
 * leaves in the norm it minimizes.
 */
public record LowRankFactors(int rows, int rank, int cols, float[] a, float[] b, double[] sigma, double droppedEnergy) {

    /** A·B as a dense rows×cols matrix (float sums in double). */
    public float[] product() {
        float[] w = new float[rows * cols];
        double[] acc = new double[cols];
        for (int i = 0; i < rows; i++) {
            java.util.Arrays.fill(acc, 0);
            for (int k = 0; k < rank; k++) {
                double aik = a[i * rank + k];
                int bo = k * cols;
                for (int j = 0; j < cols; j++) {
                    acc[j] += aik * b[bo + j];
                }
            }
            for (int j = 0; j < cols; j++) {
                w[i * cols + j] = (float) acc[j];
            }
        }
        return w;
    }

    public long parameters() {
        return (long) rank * (rows + cols);
    }
}
