package dev.sieve.model.layers;

/**
 * Sees the input of each projection of the forward pass: {@code tokens} rows of {@code
 * projection.in()} floats in {@code input}. Calibration uses it to gather activation statistics
 * (norms, the Hessian XᵀX) per linear layer.
 */
@FunctionalInterface
public interface LinearObserver {
    void input(int layer, Projection projection, float[] input, int tokens);
}
