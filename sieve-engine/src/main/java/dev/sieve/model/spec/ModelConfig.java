package dev.sieve.model.spec;

/**
 * The hyperparameters of a decoder-only transformer of the Llama family.
 *
 * @param architecture the GGUF {@code general.architecture} string
 * @param dim          embedding width (d_model)
 * @param layers       number of transformer blocks
 * @param heads        query heads
 * @param kvHeads      key/value heads (GQA when fewer than {@code heads})
 * @param headDim      width of one head (usually dim / heads; Qwen3 sets it explicitly)
 * @param ffnDim       hidden width of the SwiGLU feed-forward
 * @param vocabSize    rows of the token embedding
 * @param contextLength the context the model was trained for
 * @param rmsEps       RMSNorm epsilon
 * @param ropeTheta    RoPE base frequency
 * @param ropeDim      dimensions of each head that RoPE rotates
 * @param ropeType     pairing of rotated dimensions
 * @param block        what the blocks of this architecture add to the plain Llama block
 */
public record ModelConfig(
        String architecture,
        int dim,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int ffnDim,
        int vocabSize,
        int contextLength,
        float rmsEps,
        float ropeTheta,
        int ropeDim,
        RopeType ropeType,
        BlockOptions block) {

    /** Architecture-specific switches of the shared transformer block. */
    public record BlockOptions(boolean qkvBias, boolean qkNorm) {
        public static final BlockOptions LLAMA = new BlockOptions(false, false);
    }

    public ModelConfig {
        if (dim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || ffnDim <= 0 || vocabSize <= 0) {
            throw new IllegalArgumentException("non-positive model dimension in " + this);
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " query heads do not divide into " + kvHeads + " KV heads");
        }
        if (ropeDim > headDim || ropeDim % 2 != 0) {
            throw new IllegalArgumentException("RoPE dimension " + ropeDim + " does not fit head of " + headDim);
        }
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }
}
