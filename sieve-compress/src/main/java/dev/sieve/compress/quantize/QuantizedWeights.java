package dev.sieve.compress.quantize;

import dev.sieve.core.quant.BlockGrid;
import dev.sieve.core.quant.WeightEncoding;
import java.lang.foreign.MemorySegment;

/**
 * A quantized weight matrix W[rows][cols]: its values, each exactly on the grid of its block,
 * and the fitted blocks (row r, block b at index {@code r·(cols/blockSize) + b}). When the grid
 * is an encoding's, {@link #encode()} gives the tensor bytes a GGUF file stores.
 */
public record QuantizedWeights(int rows, int cols, BlockGrid grid, BlockGrid.Block[] blocks, float[] values) {

    /** The encoded tensor, rows of whole blocks, in the grid's encoding. */
    public MemorySegment encode() {
        WeightEncoding e = grid.encoding().orElseThrow(() ->
                new UnsupportedOperationException("grid " + grid + " has no file encoding"));
        int bs = grid.blockSize();
        int nb = cols / bs;
        MemorySegment out = MemorySegment.ofArray(new byte[Math.toIntExact(e.byteSize((long) rows * cols))]);
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < nb; b++) {
                blocks[r * nb + b].encode(values, r * cols + b * bs, out, ((long) r * nb + b) * e.blockBytes());
            }
        }
        return out;
    }

    static void checkShape(float[] w, int rows, int cols, BlockGrid grid) {
        if ((long) rows * cols != w.length) {
            throw new IllegalArgumentException(rows + "×" + cols + " ≠ " + w.length + " weights");
        }
        if (cols % grid.blockSize() != 0) {
            throw new IllegalArgumentException(
                    "row length " + cols + " is not a multiple of the grid's block " + grid.blockSize());
        }
    }
}
