package dev.sieve.compress.prune;

/** A pruned W[rows][cols]: the new weights (zero where pruned) and the mask ({@code true} = kept). */
public record Pruned(int rows, int cols, float[] weights, boolean[] kept) {

    public int prunedCount() {
        int c = 0;
        for (boolean k : kept) {
            c += k ? 0 : 1;
        }
        return c;
    }
}
