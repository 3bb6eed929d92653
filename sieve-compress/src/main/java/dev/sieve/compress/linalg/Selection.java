package dev.sieve.compress.linalg;

import java.util.Arrays;

/** Exact-count selections by score, used for masks and outlier sets. */
public final class Selection {
    private Selection() {}

    /**
     * Marks exactly {@code k} entries of {@code scores[0..len)}: the smallest, ties going to the
     * lower index, so the count is exact whatever the ties.
     */
    public static boolean[] smallest(double[] scores, int len, int k) {
        if (k < 0 || k > len) {
            throw new IllegalArgumentException("k = " + k + " outside [0, " + len + "]");
        }
        boolean[] mark = new boolean[len];
        if (k == 0) {
            return mark;
        }
        double[] sorted = Arrays.copyOf(scores, len);
        Arrays.sort(sorted);
        double t = sorted[k - 1];
        int taken = 0;
        for (int i = 0; i < len; i++) {
            if (scores[i] < t) {
                mark[i] = true;
                taken++;
            }
        }
        for (int i = 0; i < len && taken < k; i++) {
            if (scores[i] == t) {
                mark[i] = true;
                taken++;
            }
        }
        return mark;
    }

    /** Marks exactly {@code k} largest entries, ties going to the lower index. */
    public static boolean[] largest(double[] scores, int len, int k) {
        double[] neg = new double[len];
        for (int i = 0; i < len; i++) {
            neg[i] = -scores[i];
        }
        return smallest(neg, len, k);
    }
}
