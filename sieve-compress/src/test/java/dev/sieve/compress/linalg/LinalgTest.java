package dev.sieve.compress.linalg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class LinalgTest {

    /** A random symmetric positive-definite matrix Gᵀ·G + 0.1·I. */
    static double[] spd(Random r, int n) {
        double[] g = new double[n * n];
        for (int i = 0; i < g.length; i++) {
            g[i] = r.nextGaussian();
        }
        double[] a = Matrices.multiply(Matrices.transpose(g, n, n), g, n, n, n);
        for (int i = 0; i < n; i++) {
            a[i * n + i] += 0.1;
        }
        return a;
    }

    static void assertClose(double[] expected, double[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol, what + " at " + i);
        }
    }

    static double[] identity(int n) {
        double[] e = new double[n * n];
        for (int i = 0; i < n; i++) {
            e[i * n + i] = 1;
        }
        return e;
    }

    @Test
    void choleskyReconstructsAndIsLowerTriangular() {
        int n = 23;
        double[] a = spd(new Random(1), n);
        double[] l = Cholesky.factor(a, n);
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                assertEquals(0, l[i * n + j]);
            }
            assertTrue(l[i * n + i] > 0);
        }
        assertClose(a, Matrices.multiply(l, Matrices.transpose(l, n, n), n, n, n), 1e-9, "L·Lᵀ");
        assertClose(identity(n), Matrices.multiply(Cholesky.invertLower(l, n), l, n, n, n), 1e-9, "L⁻¹·L");
    }

    @Test
    void inverseUpperFactorGivesTheInverse() {
        int n = 17;
        double[] a = spd(new Random(2), n);
        double[] u = Cholesky.inverseUpperFactor(a, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                assertEquals(0, u[i * n + j], "upper triangular");
            }
        }
        double[] hinv = Matrices.multiply(Matrices.transpose(u, n, n), u, n, n, n);
        assertClose(identity(n), Matrices.multiply(hinv, a, n, n, n), 1e-8, "(UᵀU)·H");
    }

    @Test
    void choleskyRefusesIndefiniteAndDampingRescuesSingular() {
        double[] indefinite = {1, 2, 2, 1};
        assertThrows(Cholesky.NotPositiveDefiniteException.class, () -> Cholesky.factor(indefinite, 2));
        double[] singular = {1, 1, 1, 1};
        double[] l = Cholesky.factorDamped(singular, 2, 0);
        assertTrue(l[3] > 0);
    }

    @Test
    void svdReconstructsWithOrthonormalFactors() {
        Random r = new Random(3);
        for (int[] shape : new int[][] {{30, 12}, {9, 25}, {16, 16}}) {
            int m = shape[0], n = shape[1];
            double[] a = new double[m * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = r.nextGaussian();
            }
            Svd svd = Svd.of(a, m, n);
            int k = Math.min(m, n);
            assertEquals(k, svd.k());
            for (int i = 1; i < k; i++) {
                assertTrue(svd.s()[i - 1] >= svd.s()[i], "non-increasing");
            }
            double[] us = svd.u().clone();
            for (int i = 0; i < m; i++) {
                for (int t = 0; t < k; t++) {
                    us[i * k + t] *= svd.s()[t];
                }
            }
            assertClose(a, Matrices.multiply(us, svd.vt(), m, k, n), 1e-10, "UΣVᵀ " + m + "×" + n);
            assertClose(identity(k), Matrices.multiply(Matrices.transpose(svd.u(), m, k), svd.u(), k, m, k), 1e-10, "UᵀU");
            assertClose(identity(k), Matrices.multiply(svd.vt(), Matrices.transpose(svd.vt(), k, n), k, n, k), 1e-10, "VᵀV");
        }
    }

    @Test
    void svdOfAKnownMatrix() {
        // diag(3, 2) rotated: singular values 3 and 2 whatever the rotation.
        double c = Math.cos(0.7), s = Math.sin(0.7);
        double[] a = {3 * c, -2 * s, 3 * s, 2 * c};
        Svd svd = Svd.of(a, 2, 2);
        assertArrayEquals(new double[] {3, 2}, svd.s(), 1e-12);
    }

    @Test
    void selectionCountsAreExactWithTies() {
        double[] scores = {1, 0, 1, 1, 2, 0, 1};
        boolean[] small = Selection.smallest(scores, scores.length, 4);
        assertArrayEquals(new boolean[] {true, true, true, false, false, true, false}, small);
        boolean[] large = Selection.largest(scores, scores.length, 2);
        assertArrayEquals(new boolean[] {true, false, false, false, true, false, false}, large);
    }
}
