package dev.sieve.model.layers;

/**
 * The sparse side of a dense-and-sparse projection (SpQR-style "3-bit + 1% outliers"): a CSR
 * matrix S over {@code [out, in]} whose product is added to the dense part, {@code y = W·x + S·x}
 * ({@code Linear.addSparse}: the rows split across the worker pool, each row's entries by
 * {@code Kernels.sparseRows}, a gather on the column indices in the vector kernels).
 *
 * <p>In the file, for {@code X.weight}: {@code X.outliers.rowptr} (I32, {@code out + 1}),
 * {@code X.outliers.cols} (I16 read as unsigned, {@code nnz}), {@code X.outliers.values} (F16,
 * {@code nnz}); see docs/formats.md.
 *
 * @param rows   output width
 * @param cols   input width
 * @param rowPtr row r's entries are {@code [rowPtr[r], rowPtr[r+1])}
 * @param col    input index of each entry
 * @param values value of each entry (decoded from f16)
 */
public record SparseOutliers(int rows, int cols, int[] rowPtr, int[] col, float[] values) {

    public SparseOutliers {
        if (rowPtr.length != rows + 1 || rowPtr[0] != 0 || rowPtr[rows] != col.length || col.length != values.length) {
            throw new IllegalArgumentException("inconsistent CSR: " + rows + " rows, rowptr of " + rowPtr.length
                    + " ending at " + rowPtr[rowPtr.length - 1] + ", " + col.length + " columns, " + values.length + " values");
        }
        for (int r = 0; r < rows; r++) {
            if (rowPtr[r + 1] < rowPtr[r]) {
                throw new IllegalArgumentException("CSR row pointers decrease at row " + r);
            }
        }
        for (int c : col) {
            if (c < 0 || c >= cols) {
                throw new IllegalArgumentException("CSR column " + c + " outside [0, " + cols + ")");
            }
        }
    }

    public int nonZeros() {
        return col.length;
    }

    /** Bytes as stored: I32 row pointers, 16-bit columns, f16 values. */
    public long storedBytes() {
        return 4L * (rows + 1) + 4L * col.length;
    }

    /** {@code w += S} on a row-major {@code [rows][cols]} array (what the dense-and-sparse pair stands for). */
    public void addTo(float[] w) {
        for (int r = 0; r < rows; r++) {
            for (int k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
                w[r * cols + col[k]] += values[k];
            }
        }
    }
}
