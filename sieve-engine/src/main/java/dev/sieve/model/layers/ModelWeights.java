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

    /** Every stored matrix (both factors of a low-rank pair), for byte accounting. */
    public List<Tensor> matrices() {
        var all = new java.util.ArrayList<Tensor>();
        all.add(tokenEmbedding);
        for (LayerWeights l : layers) {
            for (Projection p : l.projections()) {
                all.addAll(p.tensors());
            }
        }
        if (output != tokenEmbedding) {
            all.add(output);
        }
        return all;
    }

    /** Parameters of the matrices the model stands for: a factored in×out map counts in·out. */
    public long parameterCount() {
        long n = tokenEmbedding.elementCount();
        for (LayerWeights l : layers) {
            for (Projection p : l.projections()) {
                n += p.parameterCount();
            }
        }
        return output != tokenEmbedding ? n + output.elementCount() : n;
    }
}
