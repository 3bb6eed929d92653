package dev.sieve.cli;

import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.synth.ModelShape;
import dev.sieve.model.synth.SyntheticModelWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "synth", mixinStandardHelpOptions = true,
        description = {"Writes a model of a named shape with random weights N(0, 0.02), for tests and benchmarks.",
            "Shapes: tiny, 135m, tinyllama-1.1b, llama3.2-1b, qwen2.5-0.5b.",
            "Types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, Q4_K_M (llama-quantize's mix), Q4_0_O and Q8_0_O"
                + " (dense-and-sparse: one f16 outlier per 64 weights; rows of whole 64s)."},
        footer = {"%nExamples:", "  sieve synth --shape tinyllama-1.1b --type Q4_0 -o tinyllama-q4_0.gguf",
            "  sieve synth --shape tinyllama-1.1b --sparsity 0.7 --pattern unstructured --values q8 -o tl-q8-70.gguf",
            "  sieve synth --shape tinyllama-1.1b --sparsity 0.5 --pattern 2:4 --values q4 -o tl-q4-24.gguf",
            "  sieve synth --shape tinyllama-1.1b --sparsity 0.5 --pattern unstructured --values q4 -o tl-q4-50.gguf",
            "  sieve synth --shape tinyllama-1.1b --sparsity 0.7 --pattern indexed --values q8 -o tl-q8-i5.gguf",
            "  sieve synth --shape tinyllama-1.1b --type Q4_0 --output-type Q4_0 -o tl-q4_0-dense-twin.gguf"})
final class SynthCommand implements Callable<Integer> {
    @Option(names = "--shape", required = true, description = "model shape")
    String shape;

    @Option(names = "--type", defaultValue = "F16", description = "weight encoding (default: ${DEFAULT-VALUE})")
    String type;

    @Option(names = {"-o", "--output"}, required = true, description = "output GGUF file")
    Path output;

    @Option(names = "--seed", defaultValue = "1", description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--sparsity", description = "prune this fraction of every matrix but the embedding (0..1)")
    Double sparsity;

    @Option(names = "--pattern", defaultValue = "unstructured",
            description = "sparsity pattern: unstructured (bitmap), 2:4, 4:8, or indexed / N:16 (N of every 16 kept, each"
                    + " with its column: the fast decode) (default: ${DEFAULT-VALUE})")
    String pattern;

    @Option(names = "--values", defaultValue = "q8",
            description = "sparse values: f16, bf16, q8 or q4 (default: ${DEFAULT-VALUE})")
    String values;

    @Option(names = "--output-type",
            description = "encoding of output.weight instead of the type's rule (e.g. Q4_0 for a dense twin of a sparse Q4 file)")
    String outputType;

    @Option(names = {"-t", "--threads"}, description = "threads (default: all cores)")
    Integer threads;

    @Override
    public Integer call() throws Exception {
        ModelShape s = ModelShape.byName(shape);
        var mix = sparsity != null
                ? SyntheticModelWriter.TypeMix.sparse(pattern, sparsity, values)
                : SyntheticModelWriter.TypeMix.parse(type);
        if (outputType != null) {
            mix = mix.withOutput(outputType);
        }
        ProgressBar bar = new ProgressBar("synth " + s.name() + " " + mix.name());
        long t0 = System.nanoTime();
        try (WorkerPool pool = new WorkerPool(threads != null ? threads : Runtime.getRuntime().availableProcessors())) {
            new SyntheticModelWriter(s, mix, seed).write(output, pool, (i, n, name) -> bar.update(i, n, name));
        }
        System.err.printf("wrote %s (%s, %,d parameters) in %.1f s%n", output,
                Units.bytes(java.nio.file.Files.size(output)), s.parameterCount(), (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
