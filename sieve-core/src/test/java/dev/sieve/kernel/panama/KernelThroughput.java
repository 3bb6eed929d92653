package dev.sieve.kernel.panama;

import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Timing harness (not a test; JMH comes later): matrix-vector throughput in GB/s of weights
 * streamed, and 128-token matrix-matrix throughput in GFLOP/s, per encoding, scalar vs Panama.
 * Matrix-vector rotates over enough copies of the matrix (≥ 256 MiB) that weights come from DRAM,
 * not L3. Run with
 * {@code java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes
 * dev.sieve.kernel.panama.KernelThroughput [threads] [bits] [encodings,..]}.
 */
public final class KernelThroughput {
    private static final long STREAM_BYTES = 256L << 20;

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int bits = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        List<String> only = args.length > 2 ? List.of(args[2].split(",")) : List.of();
        List<Kernels> kernels = List.of(ScalarKernels.INSTANCE, PanamaKernels.create(bits, false),
                PanamaKernels.create(bits, true));
        System.out.printf("threads=%d, %s%n", threads, Runtime.version());
        System.out.printf("%-6s %-11s %-20s %10s %10s%n", "enc", "rows×cols", "kernels", "matvec GB/s", "128tok GFLOP/s");
        try (WorkerPool pool = new WorkerPool(threads)) {
            for (WeightEncoding e : WeightEncodings.all()) {
                if (!only.isEmpty() && !only.contains(e.name())) {
                    continue;
                }
                for (int[] shape : new int[][] {{2048, 5632}, {5632, 2048}}) {
                    run(e, shape[0], shape[1], kernels, pool);
                }
            }
        }
    }

    private static void run(WeightEncoding e, int rows, int cols, List<Kernels> kernels, WorkerPool pool) {
        Random rnd = new Random(1);
        try (Arena arena = Arena.ofShared()) {
            Tensor w0 = PanamaKernelsTest.randomTensor(e, rows, cols, rnd, arena);
            int copies = (int) Math.max(1, (STREAM_BYTES + w0.byteSize() - 1) / w0.byteSize());
            List<Tensor> ws = new ArrayList<>();
            ws.add(w0);
            for (int i = 1; i < copies; i++) {
                Tensor t = Tensor.allocate("w" + i, e, arena, cols, rows);
                t.data().copyFrom(w0.data());
                ws.add(t);
            }
            float[] x1 = PanamaKernelsTest.gaussian(rnd, cols);
            float[] xb = PanamaKernelsTest.gaussian(rnd, 128 * cols);
            float[] out = new float[128 * rows];
            for (Kernels k : kernels) {
                if (k.name().endsWith("int8") && e.activationEncoding() != dev.sieve.core.quant.Q8_0Encoding.INSTANCE) {
                    continue; // the int8 variant differs only for the Q8_0-activation encodings
                }
                Linear lin = new Linear(k, pool);
                boolean scalar = k == ScalarKernels.INSTANCE;
                double mv = time(() -> {
                    for (Tensor w : ws) {
                        lin.apply(w, x1, 1, out);
                    }
                }, scalar ? 0.5 : 1.5) / ws.size();
                double gbs = w0.byteSize() / mv / 1e9;
                double mm = time(() -> lin.apply(w0, xb, 128, out), scalar ? 0.5 : 1.5);
                double gflops = 2.0 * rows * cols * 128 / mm / 1e9;
                System.out.printf("%-6s %5dx%-5d %-20s %10.2f %10.2f%n", e.name(), rows, cols, k.name(), gbs, gflops);
            }
        }
    }

    /** Seconds per run: a warm-up, then as many runs as fit in {@code budget} seconds (at least 2). */
    private static double time(Runnable r, double budget) {
        long end = System.nanoTime() + (long) (budget * 0.3e9);
        do {
            r.run();
        } while (System.nanoTime() < end);
        double best = Double.MAX_VALUE;
        end = System.nanoTime() + (long) (budget * 0.7e9);
        int n = 0;
        do {
            long t0 = System.nanoTime();
            r.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            n++;
        } while (n < 2 || System.nanoTime() < end);
        return best; // best of n: the machine is shared, so the minimum is the least noisy figure
    }
}
