package dev.sieve.model.loader;

import dev.sieve.io.gguf.GgufFile;
import dev.sieve.io.gguf.GgufMetadata;
import dev.sieve.model.layers.ModelWeights;
import dev.sieve.model.spec.ModelConfig;

/** A loaded model: its file (kept open: the weights are views of its mapping), hyperparameters and weights. */
public record Model(GgufFile file, ModelConfig config, ModelWeights weights) implements AutoCloseable {

    public GgufMetadata metadata() {
        return file.metadata();
    }

    /** Bytes of weights streamed per generated token (all matrices and sparse outliers, the embedding row aside). */
    public long weightBytes() {
        long b = 0;
        for (var t : weights.matrices()) {
            b += t.heldBytes();
        }
        for (var l : weights.layers()) {
            for (var p : l.projections()) {
                b += p.outlierBytes();
            }
        }
        return b;
    }

    /** Parameters of the matrices, counting a low-rank pair as the in×out map it replaces (so bpw compares). */
    public long parameterCount() {
        return weights.parameterCount();
    }

    @Override
    public void close() {
        file.close();
    }
}
