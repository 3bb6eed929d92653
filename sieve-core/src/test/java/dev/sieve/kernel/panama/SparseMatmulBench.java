package dev.sieve.kernel.panama;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;

/**
 * Not a test: a matrix-product timing of dense against sparse encodings on one shape, for when
 * the machine is shared (minimum of many short runs, interleaved, resists the noise better than a
 * whole-model benchmark). {@code java -Drows=R -Dcols=C -Dthreads=T -Dtokens=K -Dreps=N -cp ...
 * SparseMatmulBench ENC...}; each sparse encoding is compared with its dense twin (Q8_0, Q4_0, F16,
 * BF16) when that is among the arguments: speed-up = twin's minimum time / this one's, byte
 * ratio = twin's bytes / this one's (the bound a memory-bound product could reach).
 */
public final class SparseMatmulBench {
    public static void main(String[] args) throws Exception {
        int rows = Integer.getInteger("rows", 16384), cols = Integer.getInteger("cols", 2048);
        int threads = Integer.getInteger("threads", 2), tokens = Integer.getInteger("tokens", 1);
        int reps = Integer.getInteger("reps", 30);
        Kernels k = KernelProvider.get();
        Random rnd = new Random(1);
        float[] src = new float[rows * cols];
        for (int i = 0; i < src.length; i++) {
            src[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        int n = args.length;
        Tensor[][] ts = new Tensor[n][2]; // two copies each so the pair exceeds the L3 cache
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(threads)) {
            for (int e = 0; e < n; e++) {
                WeightEncoding enc = WeightEncodings.byName(args[e]).orElseThrow();
                float[] x = src.clone();
                enc.prune(x, 0, x.length);
                for (int c = 0; c < 2; c++) {
                    ts[e][c] = Tensor.allocate("w", enc, arena, cols, rows);
                    enc.quantize(x, 0, ts[e][c].data(), 0, x.length);
                }
            }
            Linear lin = new Linear(k, pool);
            float[] x = new float[tokens * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            float[] out = new float[tokens * rows];
            double[][] t = new double[n][reps];
            for (int r = -3; r < reps; r++) {
                for (int e = 0; e < n; e++) { // interleaved, so contention hits every encoding alike
                    long t0 = System.nanoTime();
                    lin.apply(ts[e][0], x, tokens, out);
                    lin.apply(ts[e][1], x, tokens, out);
                    if (r >= 0) {
                        t[e][r] = (System.nanoTime() - t0) / 2e6;
                    }
                }
            }
            System.out.printf("%s, %d×%d, %d tokens, %d threads%n", k.name(), rows, cols, tokens, threads);
            for (int e = 0; e < n; e++) {
                double[] s = t[e].clone();
                Arrays.sort(s);
                WeightEncoding enc = ts[e][0].encoding();
                double gbs = ts[e][0].byteSize() / (s[0] / 1e3) / 1e9;
                int twin = e;
                if (enc instanceof SparseEncoding se) {
                    twin = Arrays.asList(args).indexOf(SparseEncoding.denseTwin(se.values()));
                }
                String vs = twin < 0 ? "" : String.format("  speed-up %.2f×  byte ratio %.2f", t0min(t[twin]) / s[0],
                        (double) ts[twin][0].byteSize() / ts[e][0].byteSize());
                System.out.printf("%-10s bpw %5.2f density %.3f  min %8.3f ms  median %8.3f ms  (%.1f GB/s at min)%s%n",
                        enc.name(), enc.bitsPerWeight(), enc.density(), s[0], s[reps / 2], gbs, vs);
            }
        }
    }

    private static double t0min(double[] a) {
        return Arrays.stream(a).min().orElseThrow();
    }
}
