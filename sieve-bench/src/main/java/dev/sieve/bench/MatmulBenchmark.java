package dev.sieve.bench;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One kernel, one thread, one weight matrix of the tinyllama-1.1b FFN shape (5632 × 2048): the
 * matrix-vector product of decode ({@code tokens = 1}) and the matrix-matrix product of prompt
 * processing ({@code tokens = 128}). The auxiliary counters turn time into rates: {@code
 * weightBytes} is GB/s of weights streamed (the decode bound), {@code flops} is FLOP/s (the
 * prompt bound).
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -jar sieve-bench/target/benchmarks.jar
 * MatmulBenchmark -p encoding=Q4_0,Q8_0}; any registered encoding by name, sparse ones included
 * (e.g. {@code -p encoding=Q8_B77,Q4_S24}: the weights are pruned by the encoding's own rule first);
 * {@code -p layout=preferred} converts them as the model loader would ({@code -p encoding=Q8_I5 -p
 * layout=preferred}: the 16-row layout of the indexed sparse decode).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// The two dontinline commands are bin/sieve's (see there): without them C2 may fuse Q4_K_R's scales and
// sums and box every vector in some forks, and the benchmark would measure that accident.
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-XX:CompileCommand=quiet",
        "-XX:CompileCommand=dontinline,dev.sieve.kernel.panama.vec.Q4_KRIntKernel::sums",
        "-XX:CompileCommand=dontinline,dev.sieve.kernel.panama.vec.Q4_KRIntKernel::scales"})
public class MatmulBenchmark {

    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q4_K_R", "Q6_K", "Q4_0_O"})
    public String encoding;

    @Param({"1", "128"})
    public int tokens;

    @Param({"panama"})
    public String kernels;

    /**
     * {@code file}: the weights as the encoding stores them; {@code preferred}: converted as the model
     * loader converts them for these kernels ({@code Kernels.preferredLayout}: e.g. Q8_I5 into its
     * 16-row layout at 512 bits, the one its decode kernel is fast on).
     */
    @Param({"file"})
    public String layout;

    @Param({"5632"})
    public int rows;

    @Param({"2048"})
    public int cols;

    private Tensor w;
    /** The bytes a product reads: the layout's held bytes ({@code Tensor.heldBytes}), not a packed layout's room. */
    private long held;
    private Kernels k;
    private final Activations act = new Activations();
    private float[] x;
    private float[] out;

    /** Rates reported per second by JMH. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rates {
        public long weightBytes;
        public long flops;

        @Setup(Level.Iteration)
        public void clear() {
            weightBytes = 0;
            flops = 0;
        }
    }

    @Setup
    public void setup() {
        WeightEncoding e = WeightEncodings.byName(encoding).orElseThrow();
        k = kernels.equals("scalar") ? ScalarKernels.INSTANCE : KernelProvider.get();
        w = Tensor.allocate("w", e, Arena.ofAuto(), cols, rows);
        SplittableRandom r = new SplittableRandom(1);
        float[] row = new float[cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                row[j] = (float) (r.nextGaussian() * 0.02);
            }
            e.prune(row, 0, cols); // sparse encodings store what survives (dense ones: no-op)
            e.quantize(row, 0, w.data(), i * w.rowBytes(), cols);
        }
        WeightEncoding p = k.preferredLayout(w); // as the loader chooses: by the matrix, for layouts sized by its data
        if (layout.equals("preferred") && p != e && p.repacks(e) && rows % p.rowGroup() == 0) {
            Tensor converted = Tensor.allocate("w", p, Arena.ofAuto(), cols, rows);
            p.repackMatrix(e, w.data(), converted.data(), rows, cols);
            w = converted;
        }
        held = w.heldBytes();
        x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        out = new float[tokens * rows];
    }

    @Benchmark
    public float matmul(Rates rates) {
        act.set(x, tokens, cols);
        k.prepare(w, act);
        k.matmul(w, act, out, rows, 0, rows);
        rates.weightBytes += held;
        rates.flops += 2L * rows * cols * tokens;
        return out[0];
    }
}
