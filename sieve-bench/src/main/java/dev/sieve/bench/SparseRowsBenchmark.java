package dev.sieve.bench;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.parallel.WorkerPool;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The outlier side of a dense-and-sparse projection (SpQR-style): a CSR matrix of the tinyllama-1.1b
 * FFN shape (5632 × 2048) holding a {@code density} fraction of its entries at random columns, times
 * {@code tokens} activations, through {@link Linear#addSparse} on {@code threads} threads. Compare the
 * time with {@link MatmulBenchmark}'s dense product of the same shape, which it is added to.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -jar sieve-bench/target/benchmarks.jar
 * SparseRowsBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class SparseRowsBenchmark {

    @Param({"scalar", "panama"})
    public String kernels;

    @Param({"1", "2"})
    public int threads;

    @Param({"1"})
    public int tokens;

    @Param({"0.01"})
    public double density;

    @Param({"5632"})
    public int rows;

    @Param({"2048"})
    public int cols;

    private WorkerPool pool;
    private Linear linear;
    private int[] rowPtr;
    private int[] col;
    private float[] values;
    private float[] x;
    private float[] out;

    @Setup
    public void setup() {
        Kernels k = kernels.equals("scalar") ? ScalarKernels.INSTANCE : KernelProvider.get();
        pool = new WorkerPool(threads);
        linear = new Linear(k, pool);
        SplittableRandom r = new SplittableRandom(1);
        int perRow = (int) Math.round(density * cols);
        rowPtr = new int[rows + 1];
        col = new int[rows * perRow];
        values = new float[col.length];
        for (int i = 0; i < rows; i++) {
            rowPtr[i + 1] = rowPtr[i] + perRow;
            int[] picked = r.ints(0, cols).distinct().limit(perRow).sorted().toArray();
            for (int j = 0; j < perRow; j++) {
                col[rowPtr[i] + j] = picked[j];
                values[rowPtr[i] + j] = (float) r.nextGaussian();
            }
        }
        x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        out = new float[tokens * rows];
    }

    @TearDown
    public void tearDown() {
        pool.close();
    }

    @Benchmark
    public float addSparse() {
        linear.addSparse(rows, cols, rowPtr, col, values, x, tokens, out);
        return out[0];
    }
}
