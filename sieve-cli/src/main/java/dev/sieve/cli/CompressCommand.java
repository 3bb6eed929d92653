package dev.sieve.cli;

import dev.sieve.compress.pipeline.Calibration;
import dev.sieve.compress.pipeline.Compressor;
import dev.sieve.compress.pipeline.Recipe;
import dev.sieve.compress.pipeline.RecipeException;
import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.tokenizer.Tokenizers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "compress", mixinStandardHelpOptions = true,
        description = {"Compresses a model by a recipe (YAML) or by flags for one method: quantization (rtn, gptq, awq),"
                + " pruning (magnitude, wanda, sparsegpt) or low rank (svd, whitened-svd).",
            "Calibrated methods read --calib text and run the model one block at a time.",
            "The same model, recipe and calibration text write the same file, byte for byte, in every run."},
        footer = {"%nExamples:", "  sieve compress -m f32.gguf -o q4.gguf --quant gptq --type Q4_K --calib calib.txt",
            "  sieve compress -m f32.gguf -o p.gguf --prune wanda --pattern 2:4 --calib calib.txt",
            "  sieve compress -m f32.gguf -o p.gguf --prune wanda --pattern 5:16 --type Q8_I5 --default-type Q8_0 --calib calib.txt",
            "  sieve compress -m f32.gguf -o lr.gguf --lowrank svd --keep 0.5",
            "  sieve compress -m f32.gguf -o out.gguf --recipe recipe.yaml --calib calib.txt"})
final class CompressCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "input model (GGUF)")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, description = "output model (GGUF), written atomically")
    Path output;

    @Option(names = "--recipe", description = "recipe file (YAML: steps with match/method/parameters)")
    Path recipeFile;

    @Option(names = "--quant", description = "quantizer: rtn, gptq, awq")
    String quant;

    @Option(names = "--prune", description = "pruner: magnitude, wanda, sparsegpt")
    String prune;

    @Option(names = "--lowrank", description = "factorizer: svd, whitened-svd")
    String lowrank;

    @Option(names = "--type", description = "encoding of the result (Q4_K, Q8_0, …; rtn also writes Q4_0_O/Q8_0_O, dense-and-sparse); for pruning/low rank the storage, default F16: sparse Q4_S24 etc. for N:M, Q8_B/Q4_B for unstructured (bitmap, capacity fitted per matrix), Q8_I<n>/Q4_I<n> for n:16 (indexed: the fast sparse decode)")
    String type;

    @Option(names = "--bits", description = "bits per weight (instead of --type)")
    Integer bits;

    @Option(names = "--group", description = "group size with --bits")
    Integer group;

    @Option(names = "--sparsity", description = "fraction of weights pruned (unstructured)")
    Double sparsity;

    @Option(names = "--pattern", description = "N:M pruning pattern, e.g. 2:4, or 5:16 stored as --type Q8_I5")
    String pattern;

    @Option(names = "--outliers", description = "gptq: fraction of weights kept exactly in a sparse side tensor (SpQR-style), e.g. 0.01")
    Double outliers;

    @Option(names = "--keep", description = "low rank: fraction of each matrix's parameters kept in the factors")
    Double keep;

    @Option(names = "--match", defaultValue = "blk.*", description = "tensors the flag method applies to (default: ${DEFAULT-VALUE})")
    String match;

    @Option(names = "--default-type", description = "re-encode matrices no step selects (e.g. Q8_0); default: copy them")
    String defaultType;

    @Option(names = "--calib", description = "calibration text (UTF-8)")
    Path calib;

    @Option(names = "--calib-seqs", defaultValue = "64", description = "calibration sequences (default: ${DEFAULT-VALUE})")
    int calibSeqs;

    @Option(names = "--calib-len", defaultValue = "256", description = "tokens per calibration sequence (default: ${DEFAULT-VALUE})")
    int calibLen;

    @Option(names = {"-t", "--threads"}, description = "threads (default: all cores)")
    Integer threads;

    @Override
    public Integer call() throws Exception {
        Recipe recipe = recipe();
        if (Files.exists(output) && Files.isSameFile(output, model)) {
            throw new UserException("the output would overwrite the input model");
        }
        int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        long t0 = System.nanoTime();
        try (WorkerPool pool = new WorkerPool(nThreads); Model m = ModelLoader.load(model)) {
            try {
                Compressor.plan(m, recipe);
            } catch (RecipeException e) {
                throw new UserException(e.getMessage());
            }
            int[][] seqs = null;
            if (recipe.needsCalibration()) {
                if (calib == null) {
                    throw new UserException("the recipe uses calibrated methods: give calibration text with --calib");
                }
                if (calibLen > m.config().contextLength()) {
                    throw new UserException("--calib-len " + calibLen + " exceeds the model's context of " + m.config().contextLength());
                }
                seqs = Calibration.sequences(Tokenizers.fromGguf(m.metadata()), Files.readString(calib, StandardCharsets.UTF_8),
                        calibSeqs, calibLen);
            }
            ProgressBar bar = new ProgressBar("compress");
            // Reproducible kernels: calibration sees the same activations in every run, so the same
            // input, recipe and calibration text write the same file, byte for byte.
            Compressor.Report r = Compressor.run(m, recipe, seqs, new Linear(KernelProvider.reproducible(), pool), output,
                    (done, total, what) -> bar.update(done, total, what));
            new java.util.TreeMap<>(r.methods()).forEach((name, how) -> System.out.println("  " + name + ": " + how
                    + (r.outputErrors().containsKey(name)
                            ? String.format(Locale.ROOT, " (output error %.3e)", r.outputErrors().get(name)) : "")));
            System.out.printf(Locale.ROOT, "wrote %s: %d matrices compressed, %.3f bits per matrix weight, %s file, %.1fs%n",
                    output, r.methods().size(), r.matrixBitsPerWeight(), Units.bytes(Files.size(output)), (System.nanoTime() - t0) / 1e9);
        } catch (RecipeException e) {
            throw new UserException(e.getMessage());
        }
        return 0;
    }

    /** The recipe file, or the one step the flags describe; all checked before the model is read. */
    Recipe recipe() throws java.io.IOException {
        int methods = (quant != null ? 1 : 0) + (prune != null ? 1 : 0) + (lowrank != null ? 1 : 0);
        try {
            if (recipeFile != null) {
                if (methods > 0 || type != null || bits != null || sparsity != null || pattern != null || keep != null
                        || outliers != null) {
                    throw new UserException("give either --recipe or method flags (--quant/--prune/--lowrank …), not both");
                }
                return Recipe.parse(Files.readString(recipeFile, StandardCharsets.UTF_8));
            }
            if (methods != 1) {
                throw new UserException(methods == 0 ? "nothing to do: give --recipe, or one of --quant, --prune, --lowrank"
                        : "give one of --quant, --prune, --lowrank (combine methods with a --recipe)");
            }
            Map<String, Object> step = new LinkedHashMap<>();
            step.put("match", match);
            step.put("method", quant != null ? quant : prune != null ? prune : lowrank);
            if (type != null) step.put("type", type);
            if (bits != null) step.put("bits", bits);
            if (group != null) step.put("group", group);
            if (sparsity != null) step.put("sparsity", sparsity);
            if (pattern != null) step.put("pattern", pattern);
            if (keep != null) step.put("keep", keep);
            if (outliers != null) step.put("outliers", outliers);
            var def = defaultType == null ? null : WeightEncodings.byName(defaultType)
                    .orElseThrow(() -> new UserException("unknown --default-type " + defaultType));
            return Recipe.ofSteps(List.of(step), def);
        } catch (RecipeException e) {
            throw new UserException(e.getMessage());
        }
    }
}
