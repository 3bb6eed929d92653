package dev.sieve.compress.linalg;

/** Small dense helpers on row-major arrays. */
public final class Matrices {
    private Matrices() {}

    /** Bᵀ of an r×c matrix (c×r result). */
    public static double[] transpose(double[] a, int r, int c) {
        double[] t = new double[r * c];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < c; j++) {
                t[j * r + i] = a[i * c + j];
            }
        }
        return t;
    }

    /** A·B for A (n×k) and B (k×m). */
    public static double[] multiply(double[] a, double[] b, int n, int k, int m) {
        double[] c = new double[n * m];
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < k; p++) {
                double aip = a[i * k + p];
                if (aip == 0) {
                    continue;
                }
                int bo = p * m;
                int co = i * m;
                for (int j = 0; j < m; j++) {
                    c[co + j] += aip * b[bo + j];
                }
            }
        }
        return c;
    }

    public static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    public static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            f[i] = (float) a[i];
        }
        return f;
    }

    /**
     * tr(Δ·H·Δᵀ) for Δ = W − Ŵ (rows×n) and symmetric H (n×n): the squared output error
     * ‖(W − Ŵ)X‖² summed over the calibration tokens whose Gram matrix H is.
     */
    public static double outputError(float[] w, float[] wHat, int rows, int n, double[] h) {
        double total = 0;
        double[] d = new double[n];
        for (int r = 0; r < rows; r++) {
            int o = r * n;
            for (int j = 0; j < n; j++) {
                d[j] = (double) w[o + j] - wHat[o + j];
            }
            total += quadraticForm(d, h, n);
        }
        return total;
    }

    /** dᵀ·H·d. */
    public static double quadraticForm(double[] d, double[] h, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            if (d[i] == 0) {
                continue;
            }
            double t = 0;
            int ho = i * n;
            for (int j = 0; j < n; j++) {
                t += h[ho + j] * d[j];
            }
            s += d[i] * t;
        }
        return s;
    }
}
