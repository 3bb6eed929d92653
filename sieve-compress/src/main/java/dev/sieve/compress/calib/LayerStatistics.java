package dev.sieve.compress.calib;

/**
 * Calibration statistics of the input of one linear layer y = W·x, accumulated from rows of
 * activations (one row of {@code inFeatures} floats per token) as the forward pass produces
 * them: the Gram matrix H = Σₜ xₜᵀxₜ (the layer Hessian of ‖WX − ŴX‖² up to a factor 2), the
 * per-channel sums Σₜ xₜⱼ² and Σₜ |xₜⱼ|, and the token count. Sums are kept unnormalized in
 * double so statistics from several batches (or threads) simply {@link #merge}; the algorithms
 * are invariant to the scale of H except where they say otherwise.
 */
public final class LayerStatistics {
    private final int in;
    /** Upper triangle (j ≥ i) of H, row-major; the lower half is filled on read. */
    private final double[] gram;
    private final double[] sumSq;
    private final double[] sumAbs;
    private long tokens;

    public LayerStatistics(int inFeatures) {
        if (inFeatures <= 0) {
            throw new IllegalArgumentException("inFeatures must be positive: " + inFeatures);
        }
        this.in = inFeatures;
        this.gram = new double[inFeatures * inFeatures];
        this.sumSq = new double[inFeatures];
        this.sumAbs = new double[inFeatures];
    }

    public int inFeatures() {
        return in;
    }

    public long tokens() {
        return tokens;
    }

    /** Adds {@code count} consecutive activation rows of {@code inFeatures} values from {@code x[offset]}. */
    public void accumulate(float[] x, int offset, int count) {
        for (int t = 0; t < count; t++) {
            int base = offset + t * in;
            for (int i = 0; i < in; i++) {
                double xi = x[base + i];
                sumSq[i] += xi * xi;
                sumAbs[i] += Math.abs(xi);
                if (xi == 0) {
                    continue;
                }
                int row = i * in;
                for (int j = i; j < in; j++) {
                    gram[row + j] += xi * x[base + j];
                }
            }
        }
        tokens += count;
    }

    /** Adds another layer's statistics (same width) into this one. */
    public void merge(LayerStatistics other) {
        if (other.in != in) {
            throw new IllegalArgumentException("width " + other.in + " ≠ " + in);
        }
        for (int i = 0; i < gram.length; i++) {
            gram[i] += other.gram[i];
        }
        for (int i = 0; i < in; i++) {
            sumSq[i] += other.sumSq[i];
            sumAbs[i] += other.sumAbs[i];
        }
        tokens += other.tokens;
    }

    /** H = Σ xᵀx, full symmetric, a fresh copy (in×in row-major). */
    public double[] hessian() {
        double[] h = new double[in * in];
        for (int i = 0; i < in; i++) {
            for (int j = i; j < in; j++) {
                double v = gram[i * in + j];
                h[i * in + j] = v;
                h[j * in + i] = v;
            }
        }
        return h;
    }

    /** Σₜ xₜⱼ² per input channel (the diagonal of H), a fresh copy. */
    public double[] squaredNorms() {
        return sumSq.clone();
    }

    /** ‖X_j‖ = sqrt(Σₜ xₜⱼ²) per input channel: Wanda's activation norm. */
    public double[] channelNorms() {
        double[] n = new double[in];
        for (int i = 0; i < in; i++) {
            n[i] = Math.sqrt(sumSq[i]);
        }
        return n;
    }

    /** mean |xⱼ| per input channel: AWQ's activation magnitude. */
    public double[] meanAbs() {
        double[] m = new double[in];
        for (int i = 0; i < in; i++) {
            m[i] = tokens == 0 ? 0 : sumAbs[i] / tokens;
        }
        return m;
    }
}
