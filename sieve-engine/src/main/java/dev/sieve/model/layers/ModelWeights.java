package dev.sieve.model.layers;

import dev.sieve.core.tensor.Tensor;
import java.util.List;

/**
 * All weights of a model.
 *
 * @param tokenEmbedding  {@code [dim, vocab]}: row t is token t's embedding
 * @param layers          the blocks
 * @param outputNorm      {@code [dim]} final RMSNorm
 * @param output          {@code [dim, vocab]} the LM head (the embedding itself when tied)
 * @param ropeFreqFactors {@code [ropeDim/2]} divisors of RoPE frequencies (Llama 3.1 scaling) or null
 */
public record ModelWeights(
        Tensor tokenEmbedding, List<LayerWeights> layers, float[] outputNorm, Tensor output, float[] ropeFreqFactors) {

    /** Every matrix, for size accounting. */
    public List<Tensor> matrices() {
        var all = new java.util.ArrayList<Tensor>();
        all.add(tokenEmbedding);
        for (LayerWeights l : layers) {
            all.addAll(List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.wGate(), l.wUp(), l.wDown()));
        }
        if (output != tokenEmbedding) {
            all.add(output);
        }
        return all;
    }
}
