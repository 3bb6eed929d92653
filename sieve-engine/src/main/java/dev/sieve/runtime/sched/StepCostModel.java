package dev.sieve.runtime.sched;

/**
 * Learns what a step costs from the steps that ran, and sizes prompt chunks so that a step which
 * prefills costs at most {@code targetRatio} times a step that only decodes.
 *
 * <p>Why: every running stream waits for the whole step, so a step's cost is their inter-token
 * latency. On a CPU a forward pass costs about {@code fixed + perToken · tokens} (the weights are
 * streamed once per step, then every token is compute), so a 128-token prompt chunk next to four
 * decodes makes that step many times slower than a pure-decode one. The model fits {@code fixed}
 * and {@code perToken} by least squares over the recent steps (weights decaying with a half-life in
 * steps, so it follows a machine whose load changes), and with {@code d} decodes in a step allows
 * {@code c} prompt tokens where {@code fixed + perToken · (d + c) ≤ targetRatio · (fixed + perToken · d)}.
 *
 * <p>Pure arithmetic: the engine times its steps and {@link #record}s them. Not thread-safe.
 */
public final class StepCostModel {
    private final double targetRatio;
    private final double decay;
    // exponentially weighted sums of 1, x, y, x², xy over the recorded steps (x = tokens, y = nanos)
    private double sw, sx, sy, sxx, sxy;
    private double fixed = Double.NaN, perToken = Double.NaN;
    private volatile Fit published = new Fit(Double.NaN, Double.NaN);

    /** The fitted cost of a step of {@code t} tokens, {@code fixedNanos + perTokenNanos · t}; NaN before a fit. */
    public record Fit(double fixedNanos, double perTokenNanos) {}

    /**
     * @param targetRatio  a prefilling step may cost this many times a pure-decode step (> 1)
     * @param halfLifeSteps after this many steps an observation weighs half as much
     */
    public StepCostModel(double targetRatio, double halfLifeSteps) {
        if (!(targetRatio > 1) || !(halfLifeSteps > 0)) {
            throw new IllegalArgumentException("need a target ratio > 1 and a positive half-life");
        }
        this.targetRatio = targetRatio;
        this.decay = Math.pow(0.5, 1 / halfLifeSteps);
    }

    /** Adds a step of {@code tokens} tokens that took {@code nanos}, and refits. */
    public void record(int tokens, long nanos) {
        if (tokens < 1 || nanos <= 0) {
            return;
        }
        double x = tokens, y = nanos;
        sw = sw * decay + 1;
        sx = sx * decay + x;
        sy = sy * decay + y;
        sxx = sxx * decay + x * x;
        sxy = sxy * decay + x * y;
        double mx = sx / sw, my = sy / sw;
        double var = sxx / sw - mx * mx;
        if (var < 0.25) {
            return; // all recent steps had about the same size: the slope is not identifiable, keep the last fit
        }
        double b = (sxy / sw - mx * my) / var;
        double a = my - b * mx;
        if (b > 0) {
            // Noise can push the intercept below zero; a step is never cheaper than its tokens.
            perToken = a >= 0 ? b : my / mx;
            fixed = Math.max(0, a);
            published = new Fit(fixed, perToken);
        }
    }

    /** The latest fit, safe to read from any thread (for metrics). */
    public Fit fit() {
        return published;
    }

    /** Whether there is a fit yet (steps of at least two different sizes were seen). */
    public boolean ready() {
        return !Double.isNaN(perToken);
    }

    /** Fitted cost of a step, independent of its size (ns); NaN before {@link #ready()}. */
    public double fixedNanos() {
        return fixed;
    }

    /** Fitted cost of each token in a step (ns); NaN before {@link #ready()}. */
    public double perTokenNanos() {
        return perToken;
    }

    /** A sequence of at most this many tokens in all is a short prompt: it goes whole into one step. */
    public static final int SHORT_PROMPT_TOKENS = 32;

    /**
     * Tokens a step with {@code decodes} decode tokens may hold in all, at most {@code maxTokens}:
     * the decodes plus the prompt tokens that keep its cost within the target, but at least the
     * {@code shortPrompts} tokens of the short prompts the step would serve (0 when there are none: at
     * least one token of a long prompt). Why: a short prompt slows one step, and holding it to the
     * ratio only delays its stream's start; when several requests arrived together, the ones behind the
     * first step's prompts each took several steps in turn (a floor of 4 tokens, eight 16-word requests
     * to tinyllama: time to first token p99 6.5 s and 30.5 tokens/s; one whole prompt a step 3.1 s and
     * 36.1; all together 2.0 s and 37.2–37.8, the weights streamed once for all; docs/serving.md). A long
     * prompt, its last tokens included, would slow hundreds of steps in a row, which is what the ratio
     * bounds. Without decodes there is no stream to protect, and without a fit nothing to go by: then
     * {@code maxTokens}.
     */
    public int stepTokens(int decodes, int maxTokens, int shortPrompts) {
        if (decodes == 0 || !ready()) {
            return maxTokens;
        }
        double decodeStep = fixed + perToken * decodes;
        double chunk = (targetRatio - 1) * decodeStep / perToken;
        long c = Math.max(shortPrompts > 0 ? shortPrompts : 1, (long) Math.floor(chunk));
        return (int) Math.min(maxTokens, decodes + c);
    }
}
