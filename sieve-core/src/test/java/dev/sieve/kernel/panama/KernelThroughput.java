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
 * With 1 thread the loop runs on the calling thread, and the times are that thread's CPU time, not
 * wall time: on a shared machine that measures the kernel, not the neighbours.
 */
public final class KernelThroughput {
    private static final long STREAM_BYTES = 256L << 20;
    private static final int ROUNDS = 3;

    private static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();
    private static boolean cpuTime;

    private static long now() {
        return cpuTime ? MX.getCurrentThreadCpuTime() : System.nanoTime();
    }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int bits = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        List<String> only = args.length > 2 ? List.of(args[2].split(",")) : List.of();
        cpuTime = threads == 1;
        List<Kernels> kernels = List.of(ScalarKernels.INSTANCE, PanamaKernels.create(bits, false),
                PanamaKernels.create(bits, true));
        System.out.printf("threads=%d, %s, %s time%n", threads, Runtime.version(), cpuTime ? "thread CPU" : "wall");
        System.out.printf("%-6s %-11s %-20s %10s %10s%n", "enc", "rows×cols", "kernels", "matvec GB/s", "128tok GFLOP/s");
        try (WorkerPool pool = new WorkerPool(threads)) {
            for (WeightEncoding e : WeightEncodings.all()) {
                // By default only encodings with a fast kernel: the others run the reference either way.
                boolean fast = !(PanamaKernels.create(bits).kernelFor(e) instanceof ScalarFallback);
                if (only.isEmpty() ? !fast : !only.contains(e.name())) {
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
            List<Kernels> ks = new ArrayList<>();
            for (Kernels k : kernels) {
                PanamaKernels p = k instanceof PanamaKernels pk ? pk : null;
                // The int8 variant differs only where it has its own kernel (Q8_0, Q4_0).
                if (p == null || !p.name().endsWith("int8")
                        || !p.kernelFor(e).getClass().getSimpleName()
                                .equals(PanamaKernels.create(p.bits()).kernelFor(e).getClass().getSimpleName())) {
                    ks.add(k);
                }
            }
            double[] mv = new double[ks.size()], mm = new double[ks.size()];
            java.util.Arrays.fill(mv, Double.MAX_VALUE);
            java.util.Arrays.fill(mm, Double.MAX_VALUE);
            // Rounds interleave the variants so a burst of load from other users of this shared
            // machine hits them alike; the best round of each is kept. Round 0 is JIT warm-up.
            for (int round = 0; round <= ROUNDS; round++) {
                for (int i = 0; i < ks.size(); i++) {
                    Linear lin = new Linear(ks.get(i), pool);
                    boolean scalar = ks.get(i) == ScalarKernels.INSTANCE;
                    for (int rep = 0; rep < (scalar ? 1 : 3); rep++) {
                        long t0 = now();
                        for (Tensor w : ws) {
                            lin.apply(w, x1, 1, out);
                        }
                        double t = (now() - t0) / 1e9 / ws.size();
                        if (round > 0) {
                            mv[i] = Math.min(mv[i], t);
                        }
                    }
                    for (int rep = 0; rep < (scalar ? 1 : 3); rep++) {
                        long t0 = now();
                        lin.apply(w0, xb, 128, out);
                        double t = (now() - t0) / 1e9;
                        if (round > 0) {
                            mm[i] = Math.min(mm[i], t);
                        }
                    }
                }
            }
            for (int i = 0; i < ks.size(); i++) {
                System.out.printf("%-6s %5dx%-5d %-20s %10.2f %10.2f%n", e.name(), rows, cols, ks.get(i).name(),
                        w0.byteSize() / mv[i] / 1e9, 2.0 * rows * cols * 128 / mm[i] / 1e9);
            }
        }
    }
}
