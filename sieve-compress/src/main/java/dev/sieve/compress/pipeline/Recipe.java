package dev.sieve.compress.pipeline;

import dev.sieve.compress.prune.SparsityPattern;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * What {@code sieve compress} does to a model: steps, applied in order, each selecting matrices by
 * name pattern. Every key and value is checked here, before any work starts; checks that need the
 * model (a pattern that matches nothing, a tensor matched twice, a shape the encoding cannot hold)
 * are made by {@link Compressor#plan}.
 *
 * <pre>
 * default_type: Q8_0            # optional: re-encode unselected matrices (else they are copied)
 * steps:
 *   - match: "blk.*.ffn_*"      # or a list of patterns
 *     method: wanda             # rtn gptq awq magnitude wanda sparsegpt svd whitened-svd
 *     sparsity: 0.5             # or pattern: "2:4"
 *     type: Q8_0                # storage of the pruned weights
 *   - match: "blk.*.attn_*"
 *     method: gptq
 *     type: Q4_K                # or bits: 4 (+ group: 32)
 * </pre>
 *
 * @param text        the recipe as written (stored in the output's metadata)
 * @param steps       in order
 * @param defaultType encoding for matrices no step selects; null to copy them unchanged
 */
public record Recipe(String text, List<Step> steps, WeightEncoding defaultType) {
    private static final Set<String> TOP_KEYS = Set.of("steps", "default_type");

    public static Recipe parse(String yaml) {
        Object root;
        try {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(yaml);
        } catch (YAMLException e) {
            throw new RecipeException("recipe is not valid YAML: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (!(root instanceof Map<?, ?> top)) {
            throw new RecipeException("recipe must be a mapping with 'steps:' (a list of steps)");
        }
        Map<String, Object> m = strings(top, "recipe");
        unknownKeys(m.keySet(), TOP_KEYS, "recipe");
        if (!(m.get("steps") instanceof List<?> list) || list.isEmpty()) {
            throw new RecipeException("recipe needs 'steps:', a non-empty list of steps");
        }
        List<Step> steps = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof Map<?, ?> s)) {
                throw new RecipeException("step " + (i + 1) + " must be a mapping (match:, method:, parameters)");
            }
            steps.add(step(strings(s, "step " + (i + 1)), "step " + (i + 1)));
        }
        WeightEncoding def = m.containsKey("default_type") ? encoding(str(m.get("default_type"), "default_type"), "default_type", false) : null;
        return new Recipe(yaml, List.copyOf(steps), def);
    }

    /** One step from already-split keys (the CLI's flags build the same map). */
    static Step step(Map<String, Object> s, String where) {
        if (!s.containsKey("method")) {
            throw new RecipeException(where + ": 'method:' is missing");
        }
        Method method = Method.parse(str(s.get("method"), where + " method"));
        Set<String> allowed = new TreeSet<>(method.keys());
        allowed.add("match");
        allowed.add("method");
        unknownKeys(s.keySet(), allowed, where + " (" + method.key() + ")");
        Object match = s.get("match");
        List<String> patterns = new ArrayList<>();
        if (match instanceof List<?> l) {
            l.forEach(p -> patterns.add(str(p, where + " match")));
        } else if (match != null) {
            patterns.add(str(match, where + " match"));
        } else {
            throw new RecipeException(where + ": 'match:' is missing (a tensor name pattern such as \"blk.*.ffn_*\")");
        }
        patterns.forEach(Step::glob);
        WeightEncoding type = null;
        if (s.containsKey("type")) {
            if (s.containsKey("bits") || s.containsKey("group")) {
                throw new RecipeException(where + ": give either 'type:' or 'bits:'/'group:', not both");
            }
            // Round-to-nearest may also write encodings without a grid (dense-and-sparse Q4_0_O,
            // Q8_0_O) through their reference quantizer; the other quantizers place weights on a grid.
            String name = str(s.get("type"), where + " type");
            type = method.kind() == Method.Kind.PRUNE && name.toUpperCase(java.util.Locale.ROOT).matches("(F16|BF16|Q8|Q4)_B")
                    ? fittedBitmap(name) // capacity chosen per matrix when it is stored
                    : encoding(name, where, method.kind() == Method.Kind.QUANT && method != Method.RTN);
        } else if (s.containsKey("bits")) {
            type = byBits(integer(s.get("bits"), where + " bits"), s.containsKey("group") ? integer(s.get("group"), where + " group") : 0, where);
        } else if (s.containsKey("group")) {
            throw new RecipeException(where + ": 'group:' needs 'bits:'");
        } else if (method.kind() == Method.Kind.QUANT) {
            throw new RecipeException(where + ": " + method.key() + " needs 'type:' (e.g. Q4_K) or 'bits:'");
        } else {
            type = WeightEncodings.byName("F16").orElseThrow(); // exact enough for pruned weights and factors
        }
        double sparsity = Double.NaN;
        SparsityPattern.NofM nOfM = null;
        if (method.kind() == Method.Kind.PRUNE) {
            if (s.containsKey("sparsity") == s.containsKey("pattern")) {
                throw new RecipeException(where + ": " + method.key() + " needs exactly one of 'sparsity:' (e.g. 0.5) or 'pattern:' (e.g. \"2:4\")");
            }
            if (s.containsKey("sparsity")) {
                sparsity = number(s.get("sparsity"), where + " sparsity");
                if (!(sparsity > 0 && sparsity < 1)) {
                    throw new RecipeException(where + ": sparsity must be in (0, 1), got " + sparsity);
                }
            } else {
                nOfM = nOfM(str(s.get("pattern"), where + " pattern"), where);
            }
        }
        double keep = Double.NaN;
        int rank = 0;
        if (method.kind() == Method.Kind.LOWRANK) {
            if (s.containsKey("keep") == s.containsKey("rank")) {
                throw new RecipeException(where + ": " + method.key() + " needs exactly one of 'keep:' (fraction of parameters) or 'rank:'");
            }
            if (s.containsKey("keep")) {
                keep = number(s.get("keep"), where + " keep");
                if (!(keep > 0 && keep < 1)) {
                    throw new RecipeException(where + ": keep must be in (0, 1), got " + keep);
                }
            } else {
                rank = integer(s.get("rank"), where + " rank");
                if (rank < 1) {
                    throw new RecipeException(where + ": rank must be ≥ 1, got " + rank);
                }
            }
        }
        double damp = s.containsKey("damp") ? number(s.get("damp"), where + " damp") : 0.01;
        if (!(damp > 0 && damp < 1)) {
            throw new RecipeException(where + ": damp must be in (0, 1), got " + damp);
        }
        int block = s.containsKey("block") ? integer(s.get("block"), where + " block") : 128;
        if (block < 1) {
            throw new RecipeException(where + ": block must be ≥ 1, got " + block);
        }
        boolean actOrder = s.containsKey("act_order") && bool(s.get("act_order"), where + " act_order");
        int grid = s.containsKey("grid") ? integer(s.get("grid"), where + " grid") : 20;
        if (grid < 1) {
            throw new RecipeException(where + ": grid must be ≥ 1, got " + grid);
        }
        double outliers = s.containsKey("outliers") ? number(s.get("outliers"), where + " outliers") : 0;
        if (!(outliers >= 0 && outliers < 0.5)) {
            throw new RecipeException(where + ": outliers must be a fraction in [0, 0.5), got " + outliers);
        }
        // importance: true (diag H weights) | conditional (GPTQ's 1/U_jj² weights) | false
        boolean conditional = s.containsKey("importance")
                && String.valueOf(s.get("importance")).toLowerCase(Locale.ROOT).equals("conditional");
        boolean importance = conditional || s.containsKey("importance") && bool(s.get("importance"),
                where + " importance (true, false or conditional)");
        boolean lazy = s.containsKey("lazy_sub_blocks") && bool(s.get("lazy_sub_blocks"), where + " lazy_sub_blocks");
        return new Step(List.copyOf(patterns), method, type, sparsity, nOfM, keep, rank, damp, block, actOrder, grid, outliers,
                importance, lazy, conditional);
    }

    /** The recipe text for a map of steps (what the CLI's flags stand for), so the file records it the same way. */
    static String render(List<Map<String, Object>> steps) {
        StringBuilder b = new StringBuilder("steps:\n");
        for (Map<String, Object> s : steps) {
            String prefix = "  - ";
            for (var e : s.entrySet()) {
                Object v = e.getValue();
                b.append(prefix).append(e.getKey()).append(": ")
                        .append(v instanceof String str ? "\"" + str.replace("\"", "\\\"") + "\"" : v).append('\n');
                prefix = "    ";
            }
        }
        return b.toString();
    }

    /** A one-step recipe from the command line's flags (keys as in a recipe step). */
    public static Recipe ofSteps(List<Map<String, Object>> steps, WeightEncoding defaultType) {
        List<Step> parsed = new ArrayList<>();
        for (int i = 0; i < steps.size(); i++) {
            parsed.add(step(new LinkedHashMap<>(steps.get(i)), steps.size() == 1 ? "flags" : "step " + (i + 1)));
        }
        String text = render(steps) + (defaultType != null ? "default_type: " + defaultType.name() + "\n" : "");
        return new Recipe(text, List.copyOf(parsed), defaultType);
    }

    public boolean needsCalibration() {
        return steps.stream().anyMatch(s -> s.method().calibrated());
    }

    /** Bits (and group) to the standard GGUF block encoding that stores them. */
    static WeightEncoding byBits(int bits, int group, String where) {
        String name = switch (bits) {
            case 8 -> group == 0 || group == 32 ? "Q8_0" : null;
            case 6 -> group == 0 || group == 16 ? "Q6_K" : null;
            case 4 -> group == 0 || group == 32 ? "Q4_0" : null;
            default -> null;
        };
        WeightEncoding e = name == null ? null : WeightEncodings.byName(name).orElse(null);
        if (e == null) {
            throw new RecipeException(where + ": " + bits + " bits" + (group > 0 ? " in groups of " + group : "")
                    + " is not supported (supported: 8 → Q8_0, 6 → Q6_K, 4 → Q4_0 in groups of 32;"
                    + " or name an encoding with type:, e.g. Q4_K or Q4_1)");
        }
        return e;
    }

    /**
     * A bitmap type named without its capacity ({@code Q8_B}): per-row pruning leaves 256-weight blocks
     * uneven, so each pruned matrix is stored with the capacity of its fullest block. Marked here as
     * capacity 256 (which stores anything); {@code Compressor} narrows it per matrix, the same values
     * in fewer bytes.
     */
    static WeightEncoding fittedBitmap(String name) {
        String v = name.substring(0, name.length() - 2).toUpperCase(java.util.Locale.ROOT);
        return SparseEncoding.bitmap(SparseEncoding.Values.valueOf(v), SparseEncoding.BITMAP_BLOCK);
    }

    static WeightEncoding encoding(String name, String where, boolean needsGrid) {
        WeightEncoding e = WeightEncodings.byName(name).orElseThrow(() -> new RecipeException(where + ": unknown type '" + name + "'"));
        if (needsGrid && e.grid().isEmpty()) {
            throw new RecipeException(where + ": " + e.name() + " has no quantization grid (quantizers write: "
                    + String.join(", ", WeightEncodings.all().stream().filter(x -> x.grid().isPresent()).map(WeightEncoding::name).toList()) + ")");
        }
        if (!e.canQuantize()) {
            throw new RecipeException(where + ": Sieve cannot write " + e.name() + " tensors");
        }
        return e;
    }

    private static SparsityPattern.NofM nOfM(String p, String where) {
        String[] parts = p.split(":");
        try {
            if (parts.length == 2) {
                return new SparsityPattern.NofM(Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[1].trim()));
            }
        } catch (IllegalArgumentException e) {
            throw new RecipeException(where + ": bad N:M pattern '" + p + "': " + e.getMessage());
        }
        throw new RecipeException(where + ": bad N:M pattern '" + p + "' (write e.g. \"2:4\")");
    }

    private static Map<String, Object> strings(Map<?, ?> m, String where) {
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }

    private static void unknownKeys(Set<String> keys, Set<String> allowed, String where) {
        for (String k : keys) {
            if (!allowed.contains(k)) {
                throw new RecipeException(where + ": unknown key '" + k + "' (allowed: " + String.join(", ", new TreeSet<>(allowed)) + ")");
            }
        }
    }

    private static String str(Object o, String where) {
        if (o instanceof String || o instanceof Number) {
            return String.valueOf(o);
        }
        throw new RecipeException(where + ": expected a string, got " + o);
    }

    private static double number(Object o, String where) {
        if (o instanceof Number n) {
            return n.doubleValue();
        }
        try {
            return Double.parseDouble(String.valueOf(o));
        } catch (NumberFormatException e) {
            throw new RecipeException(where + ": expected a number, got '" + o + "'");
        }
    }

    private static int integer(Object o, String where) {
        double d = number(o, where);
        if (d != Math.rint(d) || Math.abs(d) > 1e9) {
            throw new RecipeException(where + ": expected an integer, got " + o);
        }
        return (int) d;
    }

    private static boolean bool(Object o, String where) {
        if (o instanceof Boolean b) {
            return b;
        }
        String s = String.valueOf(o).toLowerCase(Locale.ROOT);
        if (s.equals("true") || s.equals("false")) {
            return Boolean.parseBoolean(s);
        }
        throw new RecipeException(where + ": expected true or false, got '" + o + "'");
    }
}
