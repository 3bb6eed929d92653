package dev.sieve.model.layers;

import dev.sieve.core.tensor.Tensor;

/**
 * The weights of one transformer block. Matrices keep their file encoding and stay memory-mapped;
 * small vectors (norms, biases) are decoded to floats once at load. Shapes in ggml order
 * ({@code [in, out]}).
 *
 * @param attnNorm {@code [dim]} RMSNorm before attention
 * @param wq       {@code [dim, heads·headDim]}
 * @param wk       {@code [dim, kvHeads·headDim]}
 * @param wv       {@code [dim, kvHeads·headDim]}
 * @param wo       {@code [heads·headDim, dim]}
 * @param bq       {@code [heads·headDim]} or null (Qwen2)
 * @param bk       {@code [kvHeads·headDim]} or null
 * @param bv       {@code [kvHeads·headDim]} or null
 * @param qNorm    {@code [headDim]} per-head RMSNorm of queries or null (Qwen3)
 * @param kNorm    {@code [headDim]} per-head RMSNorm of keys or null
 * @param ffnNorm  {@code [dim]} RMSNorm before the feed-forward
 * @param wGate    {@code [dim, ffnDim]}
 * @param wUp      {@code [dim, ffnDim]}
 * @param wDown    {@code [ffnDim, dim]}
 */
public record LayerWeights(
        float[] attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo,
        float[] bq, float[] bk, float[] bv, float[] qNorm, float[] kNorm,
        float[] ffnNorm, Tensor wGate, Tensor wUp, Tensor wDown) {}
