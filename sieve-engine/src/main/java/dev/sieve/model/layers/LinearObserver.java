package dev.sieve.model.layers;

import dev.sieve.core.tensor.Tensor;

/**
 * Sees the input of each matrix product of the forward pass: {@code tokens} rows of {@code
 * weight.cols()} floats in {@code input}. Calibration uses it to gather activation statistics
 * (norms, the Hessian XᵀX) per linear layer.
 */
@FunctionalInterface
public interface LinearObserver {
    void input(int layer, Tensor weight, float[] input, int tokens);
}
