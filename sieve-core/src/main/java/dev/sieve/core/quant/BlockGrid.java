package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * The value grid of a block encoding, split into its three steps so that error-feedback
 * quantizers (GPTQ, AWQ, outlier splitting) can produce weights an encoding stores exactly:
 *
 * <ol>
 *   <li>{@link Block#fit}: choose one block's scales (and mins) from given values with the
 *       encoding's reference rule, then freeze them;
 *   <li>{@link Block#round}: round any value at position {@code i} of that block to the frozen
 *       grid, returning exactly the float that {@link WeightEncoding#dequantize} will produce;
 *   <li>{@link Block#encode}: write values already on the grid as the encoding's block bytes.
 * </ol>
 *
 * Fitting the original values and rounding them reproduces the encoding's own quantize then
 * dequantize, so a plain round-to-nearest through a grid equals the reference quantizer. Grids
 * without a file form (experimental b-bit grids) return an empty {@link #encoding()} and refuse
 * {@link Block#encode}.
 */
public interface BlockGrid {

    /** Values per block: the unit whose scales are chosen together. */
    int blockSize();

    /** The encoding whose blocks {@link Block#encode} writes; empty when there is none. */
    Optional<WeightEncoding> encoding();

    /** A fresh block state; reuse it with {@link Block#fit}. Not thread-safe. */
    Block newBlock();

    /** One block's frozen grid. */
    interface Block {

        /** Chooses this block's scales from {@code values[offset .. offset + blockSize)}. */
        void fit(float[] values, int offset);

        /**
         * Chooses this block's scales minimizing the importance-weighted error Σᵢ impᵢ·(vᵢ − qᵢ)²
         * ({@code importance[importanceOffset ..]}, one non-negative weight per value, e.g. the
         * mean square of the input channel the weight multiplies): llama.cpp's quantizers with an
         * importance matrix. Grids without a weighted rule fit as {@link #fit(float[], int)}.
         */
        default void fit(float[] values, int offset, float[] importance, int importanceOffset) {
            fit(values, offset);
        }

        /**
         * Width of the sub-blocks whose scales are stored under this block's shared (super-block)
         * scale; the block size when the block has one scale.
         */
        default int subBlockSize() {
            return Integer.MAX_VALUE;
        }

        /**
         * Re-chooses the scale (and min) of sub-block {@code sub} from {@code values[offset ..
         * offset + subBlockSize())}, keeping the super-block scales fitted before, so that error
         * feedback (GPTQ) can fit each sub-block to the weights as they are when it is reached.
         * {@code importance} may be null (plain fit). Blocks without sub-blocks do nothing.
         */
        default void refitSubBlock(int sub, float[] values, int offset, float[] importance, int importanceOffset) {}

        /**
         * The grid point for value {@code v} at position {@code i} (0-based within the block),
         * chosen with the encoding's reference rounding rule and clamped to the level range.
         * The result is bit-for-bit what decoding the stored level gives (up to the sign of zero).
         */
        float round(int i, float v);

        /**
         * Writes {@code values[offset .. offset + blockSize)} as one encoded block at {@code
         * dstOffset}, with this block's scales; values off the grid are rounded first.
         */
        void encode(float[] values, int offset, MemorySegment dst, long dstOffset);
    }
}
