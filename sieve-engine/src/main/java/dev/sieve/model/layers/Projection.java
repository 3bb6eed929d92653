package dev.sieve.model.layers;

import dev.sieve.core.tensor.Tensor;
import java.util.List;

/**
 * One linear map {@code y = W·x} of a block as the file stores it: a dense matrix, or a low-rank
 * pair W ≈ A·B kept factored (the forward pass computes {@code A·(B·x)}, so a rank-r pair costs
 * r·(in + out) instead of in·out multiply-adds and bytes).
 *
 * <p>Shapes in ggml order: dense {@code [in, out]}; {@code a} is {@code [r, out]} and {@code b} is
 * {@code [in, r]}. In the file the pair of {@code X.weight} is {@code X.lr_a.weight} and
 * {@code X.lr_b.weight}.
 *
 * @param dense the matrix, or null when factored
 * @param a     the left factor A (out × r), or null when dense
 * @param b     the right factor B (r × in), or null when dense
 * @param outliers sparse part added to the product, or null
 */
public record Projection(Tensor dense, Tensor a, Tensor b, SparseOutliers outliers) {

    public Projection {
        if ((dense == null) == (a == null || b == null) || (a == null) != (b == null)) {
            throw new IllegalArgumentException("a projection is either one dense tensor or a factor pair");
        }
        if (a != null && (a.cols() != b.rows())) {
            throw new IllegalArgumentException("factor ranks differ: " + a + " and " + b);
        }
        if (outliers != null) {
            int in = dense != null ? dense.cols() : b.cols();
            int out = dense != null ? dense.rows() : a.rows();
            if (outliers.cols() != in || outliers.rows() != out) {
                throw new IllegalArgumentException("outliers of [" + outliers.cols() + ", " + outliers.rows()
                        + "] do not fit a projection of [" + in + ", " + out + "]");
            }
        }
    }

    public static Projection dense(Tensor w) {
        return new Projection(w, null, null, null);
    }

    public static Projection factored(Tensor a, Tensor b) {
        return new Projection(null, a, b, null);
    }

    /** This projection with each of its tensors replaced by {@code f} of it (outliers kept). */
    public Projection mapTensors(java.util.function.UnaryOperator<Tensor> f) {
        return dense != null ? new Projection(f.apply(dense), null, null, outliers)
                : new Projection(null, f.apply(a), f.apply(b), outliers);
    }

    /** This projection with a sparse part added (replacing any it had). */
    public Projection withOutliers(SparseOutliers s) {
        return new Projection(dense, a, b, s);
    }

    public boolean isFactored() {
        return dense == null;
    }

    /** Input width. */
    public int in() {
        return isFactored() ? b.cols() : dense.cols();
    }

    /** Output width. */
    public int out() {
        return isFactored() ? a.rows() : dense.rows();
    }

    /** The inner rank r of a pair (0 for a dense matrix). */
    public int rank() {
        return isFactored() ? a.cols() : 0;
    }

    /** in·out: the parameters of the map it stands for, whatever its storage. */
    public long parameterCount() {
        return (long) in() * out();
    }

    /** Bytes stored, the sparse part included. */
    public long byteSize() {
        return tensors().stream().mapToLong(Tensor::byteSize).sum() + outlierBytes();
    }

    /** Bytes of the sparse part (0 without one). */
    public long outlierBytes() {
        return outliers == null ? 0 : outliers.storedBytes();
    }

    /** The stored tensors: the matrix, or A then B (the sparse part is not a {@link Tensor}). */
    public List<Tensor> tensors() {
        return isFactored() ? List.of(a, b) : List.of(dense);
    }

    @Override
    public String toString() {
        String s = isFactored() ? "A·B " + a + " · " + b : dense.toString();
        return outliers == null ? s : s + " + " + outliers.nonZeros() + " outliers";
    }
}
