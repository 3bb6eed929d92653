package dev.sieve.compress.linalg;

/**
 * Cholesky factorization and triangular inverses of dense symmetric matrices stored row-major
 * in {@code double[n·n]}. Plain loops: layer Hessians are a few thousand wide at most and are
 * factored once per layer.
 */
public final class Cholesky {
    private Cholesky() {}

    /** Thrown when a matrix is not (numerically) positive definite. */
    public static final class NotPositiveDefiniteException extends ArithmeticException {
        NotPositiveDefiniteException(int pivot, double value) {
            super("matrix is not positive definite: pivot " + pivot + " is " + value);
        }
    }

    /** Lower-triangular L with A = L·Lᵀ; A is not modified. */
    public static double[] factor(double[] a, int n) {
        double[] l = new double[n * n];
        for (int j = 0; j < n; j++) {
            double d = a[j * n + j];
            double[] lj = l;
            for (int k = 0; k < j; k++) {
                d -= lj[j * n + k] * lj[j * n + k];
            }
            if (!(d > 0)) {
                throw new NotPositiveDefiniteException(j, d);
            }
            double ljj = Math.sqrt(d);
            l[j * n + j] = ljj;
            for (int i = j + 1; i < n; i++) {
                double s = a[i * n + j];
                int ri = i * n;
                int rj = j * n;
                for (int k = 0; k < j; k++) {
                    s -= l[ri + k] * l[rj + k];
                }
                l[ri + j] = s / ljj;
            }
        }
        return l;
    }

    /**
     * Factors A + δ·I, starting from δ = {@code relDamp}·mean(diag A) and multiplying δ by 10
     * until the factorization succeeds (at most 12 tries); δ = 0 first when relDamp is 0.
     */
    public static double[] factorDamped(double[] a, int n, double relDamp) {
        double mean = 0;
        for (int i = 0; i < n; i++) {
            mean += a[i * n + i];
        }
        mean = Math.max(mean / n, Double.MIN_NORMAL);
        double delta = relDamp * mean;
        for (int attempt = 0; ; attempt++) {
            double[] b = a.clone();
            for (int i = 0; i < n; i++) {
                b[i * n + i] += delta;
            }
            try {
                return factor(b, n);
            } catch (NotPositiveDefiniteException e) {
                if (attempt == 12) {
                    throw e;
                }
                delta = delta == 0 ? 1e-8 * mean : delta * 10;
            }
        }
    }

    /** Inverse of a lower-triangular matrix (lower triangular again), by forward substitution. */
    public static double[] invertLower(double[] l, int n) {
        double[] inv = new double[n * n];
        for (int j = 0; j < n; j++) {
            inv[j * n + j] = 1 / l[j * n + j];
            for (int i = j + 1; i < n; i++) {
                double s = 0;
                for (int k = j; k < i; k++) {
                    s -= l[i * n + k] * inv[k * n + j];
                }
                inv[i * n + j] = s / l[i * n + i];
            }
        }
        return inv;
    }

    /**
     * The upper-triangular U with H⁻¹ = Uᵀ·U, for an already damped positive-definite H: GPTQ's
     * and SparseGPT's {@code cholesky(cholesky_inverse(cholesky(H)), upper=True)}. Row i of U
     * holds the OBS update direction of column i against the columns not yet processed.
     */
    public static double[] inverseUpperFactor(double[] h, int n) {
        double[] linv = invertLower(factor(h, n), n);
        // H⁻¹ = L⁻ᵀ·L⁻¹; only entries with k ≥ max(i, j) are non-zero in column k of L⁻¹.
        double[] hinv = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int k = i; k < n; k++) {
                    s += linv[k * n + i] * linv[k * n + j];
                }
                hinv[i * n + j] = s;
                hinv[j * n + i] = s;
            }
        }
        double[] lower = factor(hinv, n);
        return Matrices.transpose(lower, n, n);
    }
}
