package dev.sieve.compress.lowrank;

/** How the kept rank r is chosen from the singular values σ₁ ≥ σ₂ ≥ … of a rows×cols matrix. */
public sealed interface RankSelection {

    /** The rank for these singular values (non-increasing) of a rows×cols matrix, in [0, min(rows, cols)]. */
    int rank(double[] sigma, int rows, int cols);

    /** Exactly {@code r} (capped at min(rows, cols)). */
    record Fixed(int r) implements RankSelection {
        public Fixed {
            if (r < 0) {
                throw new IllegalArgumentException("rank must be ≥ 0: " + r);
            }
        }

        @Override
        public int rank(double[] sigma, int rows, int cols) {
            return Math.min(r, sigma.length);
        }
    }

    /** The smallest r with Σ_{i≤r} σᵢ² ≥ fraction·Σ σᵢ². */
    record Energy(double fraction) implements RankSelection {
        public Energy {
            if (!(fraction >= 0 && fraction <= 1)) {
                throw new IllegalArgumentException("energy fraction must be in [0, 1]: " + fraction);
            }
        }

        @Override
        public int rank(double[] sigma, int rows, int cols) {
            double total = 0;
            for (double s : sigma) {
                total += s * s;
            }
            double kept = 0;
            for (int r = 0; r < sigma.length; r++) {
                if (kept >= fraction * total) {
                    return r;
                }
                kept += sigma[r] * sigma[r];
            }
            return sigma.length;
        }
    }

    /** The largest r whose factors r·(rows + cols) hold at most {@code fraction} of rows·cols parameters. */
    record ParameterBudget(double fraction) implements RankSelection {
        public ParameterBudget {
            if (!(fraction > 0)) {
                throw new IllegalArgumentException("parameter fraction must be positive: " + fraction);
            }
        }

        @Override
        public int rank(double[] sigma, int rows, int cols) {
            long r = (long) Math.floor(fraction * rows * (double) cols / (rows + cols));
            return (int) Math.min(r, sigma.length);
        }
    }
}
