package dev.sieve.compress.pipeline;

import dev.sieve.compress.prune.SparsityPattern;
import dev.sieve.core.quant.WeightEncoding;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One recipe step: a method, its parameters, and the matrices it applies to (glob patterns over
 * tensor names: {@code *} and {@code ?} as usual, {@code {a,b}} for alternatives; a pattern may
 * omit the trailing {@code .weight}).
 *
 * @param patterns the globs as written
 * @param method   what to do
 * @param type     the encoding of the stored result (the quantization grid, or the storage of
 *                 pruned weights and low-rank factors)
 * @param sparsity pruning target (unstructured); NaN when unused
 * @param nOfM     N:M pattern or null
 * @param keep     low-rank: fraction of the matrix's parameters the two factors may hold; NaN when a rank is given
 * @param rank     low-rank: fixed rank, or 0
 * @param damp     relative Hessian damping λ: H + λ·mean(diag H)·I (GPTQ, SparseGPT, whitened SVD)
 * @param block    GPTQ lazy-batch width
 * @param actOrder GPTQ act-order
 * @param grid     AWQ: number of α steps in [0, 1]
 * @param outliers GPTQ (SpQR-style): fraction of weights kept exact in a sparse side tensor; 0 for none
 * @param importance GPTQ: fit each block's scales minimizing the error weighted by its input channels'
 *                 mean square (diag H), as llama.cpp's importance matrix, instead of the plain error
 * @param lazySubBlocks GPTQ on K-quants: fit each sub-block's scale when GPTQ reaches it (from the updated weights)
 * @param conditionalImportance GPTQ ({@code importance: conditional}): weight the scale fits by GPTQ's
 *                 own per-column error cost 1/U_jj² (U = chol(H⁻¹)) instead of diag H
 */
public record Step(List<String> patterns, Method method, WeightEncoding type, double sparsity, SparsityPattern.NofM nOfM,
        double keep, int rank, double damp, int block, boolean actOrder, int grid, double outliers,
        boolean importance, boolean lazySubBlocks, boolean conditionalImportance) {

    /** The pruning pattern, unstructured or N:M. */
    public SparsityPattern sparsityPattern() {
        return nOfM != null ? nOfM : new SparsityPattern.Unstructured(sparsity);
    }

    /** Whether the step selects the tensor named {@code name} (e.g. {@code blk.0.attn_q.weight}). */
    public boolean matches(String name) {
        String base = name.endsWith(".weight") ? name.substring(0, name.length() - 7) : name;
        for (String p : patterns) {
            Pattern re = glob(p);
            if (re.matcher(name).matches() || re.matcher(base).matches()) {
                return true;
            }
        }
        return false;
    }

    /** What a log line or the file's metadata says about this step. */
    public String describe() {
        return switch (method.kind()) {
            case QUANT -> method.key() + " " + type.name() + (actOrder ? " act-order" : "")
                    + (importance ? conditionalImportance ? " importance-conditional" : " importance" : "") + (lazySubBlocks ? " lazy-sub-blocks" : "")
                    + (outliers > 0 ? String.format(Locale.ROOT, " + %.2f%% outliers", outliers * 100) : "");
            case PRUNE -> method.key() + " " + (nOfM != null ? nOfM.n() + ":" + nOfM.m()
                    : String.format(Locale.ROOT, "%.0f%%", sparsity * 100)) + " " + type.name();
            case LOWRANK -> method.key() + " " + (rank > 0 ? "rank " + rank
                    : String.format(Locale.ROOT, "keep %.2f", keep)) + " " + type.name()
                    + (method == Method.WHITENED_SVD ? " damp " + damp : "");
        };
    }

    /** Compiles a glob; rejects characters a tensor name cannot hold and unbalanced braces. */
    static Pattern glob(String p) {
        if (p.isEmpty()) {
            throw new RecipeException("empty tensor pattern");
        }
        StringBuilder re = new StringBuilder();
        int depth = 0;
        for (char ch : p.toCharArray()) {
            switch (ch) {
                case '*' -> re.append("[^ ]*");
                case '?' -> re.append('.');
                case '.' -> re.append("\\.");
                case '{' -> {
                    if (depth++ > 0) {
                        throw new RecipeException("bad pattern '" + p + "': nested braces");
                    }
                    re.append("(?:");
                }
                case '}' -> {
                    if (--depth < 0) {
                        throw new RecipeException("bad pattern '" + p + "': '}' without '{'");
                    }
                    re.append(')');
                }
                case ',' -> {
                    if (depth == 0) {
                        throw new RecipeException("bad pattern '" + p + "': ',' outside braces (use a list of patterns)");
                    }
                    re.append('|');
                }
                default -> {
                    if (!(Character.isLetterOrDigit(ch) || ch == '_' || ch == '-')) {
                        throw new RecipeException("bad pattern '" + p + "': character '" + ch
                                + "' (tensor names use letters, digits, '.', '_', '-'; globs use * ? {a,b})");
                    }
                    re.append(ch);
                }
            }
        }
        if (depth != 0) {
            throw new RecipeException("bad pattern '" + p + "': unclosed '{'");
        }
        return Pattern.compile(re.toString());
    }
}
