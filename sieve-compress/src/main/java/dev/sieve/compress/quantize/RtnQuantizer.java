package dev.sieve.compress.quantize;

import dev.sieve.core.quant.BlockGrid;
import dev.sieve.core.quant.WeightEncoding;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Round-to-nearest: every block's scales are fitted to its own weights and every weight is
 * rounded independently. Through an encoding's grid this is bit-identical to the encoding's
 * reference quantizer; through a {@link UniformGrid} it is the usual b-bit group-g baseline.
 */
public final class RtnQuantizer {
    private RtnQuantizer() {}

    public static QuantizedWeights quantize(float[] w, int rows, int cols, BlockGrid grid) {
        return quantize(w, rows, cols, grid, null);
    }

    /**
     * As {@link #quantize(float[], int, int, BlockGrid)}, but positions marked in {@code exclude}
     * count as zero when the scales are fitted (outliers kept elsewhere must not stretch them).
     */
    static QuantizedWeights quantize(float[] w, int rows, int cols, BlockGrid grid, boolean[] exclude) {
        QuantizedWeights.checkShape(w, rows, cols, grid);
        int bs = grid.blockSize();
        int nb = cols / bs;
        BlockGrid.Block[] blocks = new BlockGrid.Block[rows * nb];
        float[] out = new float[w.length];
        float[] scratch = new float[bs];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < nb; b++) {
                int o = r * cols + b * bs;
                BlockGrid.Block block = grid.newBlock();
                for (int i = 0; i < bs; i++) {
                    scratch[i] = exclude != null && exclude[o + i] ? 0f : w[o + i];
                }
                block.fit(scratch, 0);
                for (int i = 0; i < bs; i++) {
                    out[o + i] = block.round(i, w[o + i]);
                }
                blocks[r * nb + b] = block;
            }
        }
        return new QuantizedWeights(rows, cols, grid, blocks, out);
    }

    /** Quantize then dequantize with the encoding's own reference codec (any quantizable encoding). */
    public static float[] roundTrip(float[] w, WeightEncoding e) {
        float[] out = new float[w.length];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(e.byteSize(w.length));
            e.quantize(w, 0, seg, 0, w.length);
            e.dequantize(seg, 0, out, 0, w.length);
        }
        return out;
    }
}
