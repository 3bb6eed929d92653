package dev.sieve.compress;

import dev.sieve.compress.calib.LayerStatistics;
import java.util.Random;

/** Random layers and correlated calibration inputs for the algorithm tests. */
public final class Fixtures {
    private Fixtures() {}

    public static float[] gaussian(Random r, int n, double sigma) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextGaussian() * sigma);
        }
        return a;
    }

    /**
     * X = Z·L + noise (tokens×cols) with Z of rank cols/4 and a random mixing L, so H = XᵀX is far
     * from diagonal; a few channels are scaled ×8 to act as activation outliers.
     */
    public static float[] correlatedInputs(Random r, int tokens, int cols) {
        int k = Math.max(1, cols / 4);
        float[] z = gaussian(r, tokens * k, 1);
        float[] l = gaussian(r, k * cols, 1 / Math.sqrt(k));
        double[] channelScale = new double[cols];
        for (int j = 0; j < cols; j++) {
            channelScale[j] = j % 17 == 3 ? 8 : 0.5 + r.nextDouble();
        }
        float[] x = new float[tokens * cols];
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += z[t * k + p] * l[p * cols + j];
                }
                x[t * cols + j] = (float) ((s + 0.1 * r.nextGaussian()) * channelScale[j]);
            }
        }
        return x;
    }

    public static LayerStatistics statistics(float[] x, int tokens, int cols) {
        LayerStatistics s = new LayerStatistics(cols);
        s.accumulate(x, 0, tokens);
        return s;
    }

    /** ‖W·X − Ŵ·X‖² computed directly on the token rows (independent of the Hessian form). */
    public static double outputError(float[] w, float[] wHat, int rows, int cols, float[] x, int tokens) {
        double total = 0;
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int j = 0; j < cols; j++) {
                    s += ((double) w[r * cols + j] - wHat[r * cols + j]) * x[t * cols + j];
                }
                total += s * s;
            }
        }
        return total;
    }

    public static double frobenius2(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            s += d * d;
        }
        return s;
    }
}
