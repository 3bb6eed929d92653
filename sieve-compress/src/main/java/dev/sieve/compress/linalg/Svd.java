package dev.sieve.compress.linalg;

/**
 * Thin singular value decomposition A = U·diag(s)·Vᵀ of an m×n matrix (row-major doubles) by
 * one-sided Jacobi (Hestenes): plane rotations orthogonalize the columns of A, accumulated into
 * V; the column norms are the singular values. Chosen over Gram-matrix eigensolvers because it
 * keeps full relative accuracy of small singular values, which truncation error checks rely on.
 * Cost is O(sweeps·n²·m) with typically 6–10 sweeps: fine for calibration-sized and test
 * matrices, slow (minutes) for 4096-wide layers.
 *
 * @param m rows of A
 * @param n columns of A
 * @param k min(m, n), the number of singular triplets
 * @param u m×k, orthonormal columns
 * @param s k singular values, non-increasing
 * @param vt k×n, orthonormal rows
 */
public record Svd(int m, int n, int k, double[] u, double[] s, double[] vt) {

    private static final int MAX_SWEEPS = 80;

    public static Svd of(double[] a, int m, int n) {
        if (m < n) {
            Svd t = of(Matrices.transpose(a, m, n), n, m);
            // Aᵀ = U'ΣV'ᵀ ⇒ A = V'ΣU'ᵀ.
            return new Svd(m, n, t.k, Matrices.transpose(t.vt, t.k, m), t.s, Matrices.transpose(t.u, n, t.k));
        }
        double[][] col = new double[n][m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                col[j][i] = a[i * n + j];
            }
        }
        double[][] v = new double[n][n];
        for (int j = 0; j < n; j++) {
            v[j][j] = 1;
        }
        double eps = 1e-15;
        for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
            boolean rotated = false;
            for (int p = 0; p < n - 1; p++) {
                for (int q = p + 1; q < n; q++) {
                    double[] cp = col[p];
                    double[] cq = col[q];
                    double alpha = 0, beta = 0, gamma = 0;
                    for (int i = 0; i < m; i++) {
                        alpha += cp[i] * cp[i];
                        beta += cq[i] * cq[i];
                        gamma += cp[i] * cq[i];
                    }
                    if (gamma == 0 || Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) {
                        continue;
                    }
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.signum(zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
                    if (zeta == 0) {
                        t = 1;
                    }
                    double c = 1 / Math.sqrt(1 + t * t);
                    double sn = c * t;
                    rotate(cp, cq, c, sn, m);
                    rotate(v[p], v[q], c, sn, n);
                }
            }
            if (!rotated) {
                break;
            }
        }
        double[] norms = new double[n];
        Integer[] order = new Integer[n];
        for (int j = 0; j < n; j++) {
            double s2 = 0;
            for (int i = 0; i < m; i++) {
                s2 += col[j][i] * col[j][i];
            }
            norms[j] = Math.sqrt(s2);
            order[j] = j;
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(norms[y], norms[x]));
        double[] u = new double[m * n];
        double[] s = new double[n];
        double[] vt = new double[n * n];
        for (int r = 0; r < n; r++) {
            int j = order[r];
            s[r] = norms[j];
            double inv = norms[j] > 0 ? 1 / norms[j] : 0;
            for (int i = 0; i < m; i++) {
                u[i * n + r] = col[j][i] * inv;
            }
            System.arraycopy(v[j], 0, vt, r * n, n);
        }
        return new Svd(m, n, n, u, s, vt);
    }

    /** (x, y) ← (c·x − s·y, s·x + c·y). */
    private static void rotate(double[] x, double[] y, double c, double s, int len) {
        for (int i = 0; i < len; i++) {
            double xi = x[i];
            double yi = y[i];
            x[i] = c * xi - s * yi;
            y[i] = s * xi + c * yi;
        }
    }
}
