package dev.sieve.compress.pipeline;

import java.util.Arrays;
import java.util.Locale;
import java.util.Set;

/** The methods a recipe step can apply to a matrix, with the parameter keys each accepts. */
public enum Method {
    RTN(Kind.QUANT, false, "type", "bits", "group"),
    GPTQ(Kind.QUANT, true, "type", "bits", "group", "damp", "block", "act_order", "outliers", "importance", "lazy_sub_blocks"),
    AWQ(Kind.QUANT, true, "type", "bits", "group", "grid"),
    MAGNITUDE(Kind.PRUNE, false, "sparsity", "pattern", "type"),
    WANDA(Kind.PRUNE, true, "sparsity", "pattern", "type"),
    SPARSEGPT(Kind.PRUNE, true, "sparsity", "pattern", "type", "damp"),
    SVD(Kind.LOWRANK, false, "keep", "rank", "type"),
    WHITENED_SVD(Kind.LOWRANK, true, "keep", "rank", "type", "damp");

    public enum Kind { QUANT, PRUNE, LOWRANK }

    private final Kind kind;
    private final boolean calibrated;
    private final Set<String> keys;

    Method(Kind kind, boolean calibrated, String... keys) {
        this.kind = kind;
        this.calibrated = calibrated;
        this.keys = Set.of(keys);
    }

    public Kind kind() {
        return kind;
    }

    /** Whether it needs the statistics of the layer's inputs (so calibration text). */
    public boolean calibrated() {
        return calibrated;
    }

    public Set<String> keys() {
        return keys;
    }

    /** The recipe spelling: lower case, {@code whitened-svd}. */
    public String key() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static Method parse(String s) {
        for (Method m : values()) {
            if (m.key().equals(s.toLowerCase(Locale.ROOT).replace('_', '-'))) {
                return m;
            }
        }
        throw new RecipeException("unknown method '" + s + "' (methods: "
                + String.join(", ", Arrays.stream(values()).map(Method::key).toList()) + ")");
    }
}
