package dev.sieve.compress.quantize;

import dev.sieve.core.quant.BlockGrid;
import dev.sieve.core.quant.WeightEncoding;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * A generic b-bit grid with one scale (and zero point) per group of {@code groupSize} values,
 * GPTQ's reference quantizer, for experiments at bit widths no GGUF encoding stores (2, 3 bits)
 * or with group sizes other than the encodings'. Levels q ∈ [0, 2ᵇ − 1], value = scale·(q − z).
 * Asymmetric: the range [min(x, 0), max(x, 0)] spans the levels and z = round(−min/scale).
 * Symmetric: the range is ±max|x| and z = 2ᵇ⁻¹ (the middle level). Values only: there is no
 * file form, so {@link #encoding()} is empty and {@link Block#encode} refuses.
 */
public record UniformGrid(int bits, int groupSize, boolean symmetric) implements BlockGrid {

    public UniformGrid {
        if (bits < 2 || bits > 8) {
            throw new IllegalArgumentException("bits must be in [2, 8]: " + bits);
        }
        if (groupSize < 1) {
            throw new IllegalArgumentException("group size must be positive: " + groupSize);
        }
    }

    @Override
    public int blockSize() {
        return groupSize;
    }

    @Override
    public Optional<WeightEncoding> encoding() {
        return Optional.empty();
    }

    @Override
    public Block newBlock() {
        return new Block() {
            final int maxq = (1 << bits) - 1;
            float scale;
            float zero;

            @Override
            public void fit(float[] v, int off) {
                float min = 0;
                float max = 0;
                for (int i = 0; i < groupSize; i++) {
                    min = Math.min(min, v[off + i]);
                    max = Math.max(max, v[off + i]);
                }
                if (symmetric) {
                    max = Math.max(-min, max);
                    min = -max;
                }
                if (max == min) {
                    // All zero: any scale decodes zero to zero.
                    min = -1;
                    max = 1;
                }
                scale = (max - min) / maxq;
                zero = symmetric ? (maxq + 1) / 2 : Math.round(-min / scale);
            }

            @Override
            public float round(int i, float v) {
                float q = Math.max(0, Math.min(maxq, Math.round(v / scale) + zero));
                return scale * (q - zero);
            }

            @Override
            public void encode(float[] values, int offset, MemorySegment dst, long dstOffset) {
                throw new UnsupportedOperationException(
                        bits + "-bit uniform grid has no file encoding; use an encoding's grid");
            }
        };
    }
}
