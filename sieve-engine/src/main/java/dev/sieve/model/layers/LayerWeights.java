package dev.sieve.model.layers;

/**
 * The weights of one transformer block. Matrices keep their file encoding and stay memory-mapped
 * (each a {@link Projection}: dense, or a low-rank factor pair); small vectors (norms, biases) are
 * decoded to floats once at load. Shapes in ggml order ({@code [in, out]}).
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
        float[] attnNorm, Projection wq, Projection wk, Projection wv, Projection wo,
        float[] bq, float[] bk, float[] bv, float[] qNorm, float[] kNorm,
        float[] ffnNorm, Projection wGate, Projection wUp, Projection wDown) {

    /** These weights with every projection's tensors replaced by {@code f} of them. */
    public LayerWeights mapTensors(java.util.function.UnaryOperator<dev.sieve.core.tensor.Tensor> f) {
        return new LayerWeights(attnNorm, wq.mapTensors(f), wk.mapTensors(f), wv.mapTensors(f), wo.mapTensors(f),
                bq, bk, bv, qNorm, kNorm, ffnNorm, wGate.mapTensors(f), wUp.mapTensors(f), wDown.mapTensors(f));
    }

    /** The seven projections in forward order: q, k, v, o, gate, up, down. */
    public java.util.List<Projection> projections() {
        return java.util.List.of(wq, wk, wv, wo, wGate, wUp, wDown);
    }
}
