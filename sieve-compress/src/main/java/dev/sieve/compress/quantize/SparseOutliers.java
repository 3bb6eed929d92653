package dev.sieve.compress.quantize;

/**
 * The sparse side tensor of a dense-and-sparse split: CSR over W[rows][cols] with f16 values.
 * Row r's entries are {@code colIndex[rowPtr[r] .. rowPtr[r+1])} with values {@code valuesF16}
 * (IEEE half bits), to be added to the dense part.
 */
public record SparseOutliers(int rows, int cols, int[] rowPtr, int[] colIndex, short[] valuesF16) {

    public int nonZeros() {
        return colIndex.length;
    }

    public float value(int k) {
        return Float.float16ToFloat(valuesF16[k]);
    }

    /** dense + this, as a new array. */
    public float[] addTo(float[] dense) {
        float[] out = dense.clone();
        for (int r = 0; r < rows; r++) {
            for (int k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
                out[r * cols + colIndex[k]] += value(k);
            }
        }
        return out;
    }

    /** Builds the CSR of {@code values} at the marked positions, rounding each to f16. */
    static SparseOutliers of(int rows, int cols, boolean[] mark, float[] values) {
        int nnz = 0;
        for (boolean m : mark) {
            nnz += m ? 1 : 0;
        }
        int[] rowPtr = new int[rows + 1];
        int[] col = new int[nnz];
        short[] v = new short[nnz];
        int k = 0;
        for (int r = 0; r < rows; r++) {
            rowPtr[r] = k;
            for (int c = 0; c < cols; c++) {
                if (mark[r * cols + c]) {
                    col[k] = c;
                    v[k] = Float.floatToFloat16(values[r * cols + c]);
                    k++;
                }
            }
        }
        rowPtr[rows] = k;
        return new SparseOutliers(rows, cols, rowPtr, col, v);
    }
}
