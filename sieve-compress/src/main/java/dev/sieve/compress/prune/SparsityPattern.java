package dev.sieve.compress.prune;

/** Which weights a pruner may zero: a fraction anywhere, or N kept in every M along the input. */
public sealed interface SparsityPattern {

    /** Zero the fraction {@code sparsity} ∈ [0, 1) of weights, exactly (rounded to a count) per pruner scope. */
    record Unstructured(double sparsity) implements SparsityPattern {
        public Unstructured {
            if (!(sparsity >= 0 && sparsity < 1)) {
                throw new IllegalArgumentException("sparsity must be in [0, 1): " + sparsity);
            }
        }

        /** The number pruned among {@code count} weights. */
        public int pruned(int count) {
            return (int) Math.round(sparsity * count);
        }
    }

    /** Keep exactly {@code n} non-zeros in every group of {@code m} consecutive inputs of a row (2:4, 4:8). */
    record NofM(int n, int m) implements SparsityPattern {
        public NofM {
            if (m < 1 || n < 0 || n > m) {
                throw new IllegalArgumentException("need 0 ≤ n ≤ m, m ≥ 1: " + n + ":" + m);
            }
        }
    }

    static void checkShape(float[] w, int rows, int cols, SparsityPattern p) {
        if ((long) rows * cols != w.length) {
            throw new IllegalArgumentException(rows + "×" + cols + " ≠ " + w.length + " weights");
        }
        if (p instanceof NofM nm && cols % nm.m() != 0) {
            throw new IllegalArgumentException("row length " + cols + " is not a multiple of M = " + nm.m());
        }
    }
}
