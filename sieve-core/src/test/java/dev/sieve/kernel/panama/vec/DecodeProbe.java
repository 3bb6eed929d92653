package dev.sieve.kernel.panama.vec;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.kernel.panama.EncodingKernel;
import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Development probe, not a test: one-thread CPU-time GB/s of an encoding's kernel at the
 * preferred width, shapes interleaved round by round as a decode step interleaves them, weights
 * streamed from DRAM (≥ 256 MiB of copies per shape).
 * {@code java -cp ... dev.sieve.kernel.panama.vec.DecodeProbe ENC [tokens]} with
 * {@code -Dprobe.shapes=5632x2048,2048x5632} and {@code -Dprobe.extra=OtherKernelClass,..}.
 */
public final class DecodeProbe {
    private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) throws ReflectiveOperationException {
        WeightEncoding e = WeightEncodings.byName(args[0]).orElseThrow();
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        List<EncodingKernel> ks = new ArrayList<>();
        ks.add(new VecKernels(false).kernelFor(e));
        for (String extra : System.getProperty("probe.extra", "").split(",")) {
            if (!extra.isBlank()) {
                ks.add((EncodingKernel) Class.forName("dev.sieve.kernel.panama.vec." + extra)
                        .getDeclaredConstructor().newInstance());
            }
        }
        Random rnd = new Random(1);
        Arena arena = Arena.global();
        String[] shapes = System.getProperty("probe.shapes", "5632x2048,2048x5632").split(",");
        List<List<Tensor>> ws = new ArrayList<>();
        List<float[]> xs = new ArrayList<>();
        for (String shape : shapes) {
            int rows = Integer.parseInt(shape.split("x")[0]), cols = Integer.parseInt(shape.split("x")[1]);
            Tensor w0 = Tensor.allocate("w", e, arena, cols, rows);
            float[] g = new float[rows * cols];
            for (int i = 0; i < g.length; i++) g[i] = (float) rnd.nextGaussian();
            e.prune(g, 0, g.length); // sparse encodings take only weights that fit their pattern
            e.quantize(g, 0, w0.data(), 0, g.length);
            List<Tensor> copies = new ArrayList<>(List.of(w0));
            for (long b = w0.byteSize(); b < (Long.getLong("probe.mib", 256L) << 20); b += w0.byteSize()) {
                Tensor t = Tensor.allocate("w", e, arena, cols, rows);
                t.data().copyFrom(w0.data());
                copies.add(t);
            }
            ws.add(copies);
            float[] x = new float[tokens * cols];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            xs.add(x);
        }
        double[][] best = new double[ks.size()][shapes.length];
        for (double[] b : best) java.util.Arrays.fill(b, Double.MAX_VALUE);
        float[][][] outs = new float[ks.size()][shapes.length][];
        long[][] allocated = new long[ks.size()][shapes.length];
        int rounds = Integer.getInteger("probe.rounds", 10);
        for (int round = 0; round < rounds; round++) {
            for (int s = 0; s < shapes.length; s++) {
                for (int k = 0; k < ks.size(); k++) {
                    Tensor w0 = ws.get(s).get(0);
                    float[] out = new float[tokens * w0.rows()];
                    Activations act = new Activations();
                    long a0 = ((com.sun.management.ThreadMXBean) MX).getCurrentThreadAllocatedBytes();
                    long t0 = MX.getCurrentThreadCpuTime();
                    for (Tensor w : ws.get(s)) {
                        act.set(xs.get(s), tokens, w.cols());
                        ks.get(k).prepare(w, act);
                        ks.get(k).matmul(w, act, out, w.rows(), 0, w.rows());
                    }
                    double t = (MX.getCurrentThreadCpuTime() - t0) / 1e9 / ws.get(s).size();
                    if (round > 2) best[k][s] = Math.min(best[k][s], t);
                    if (round == rounds - 1) {
                        allocated[k][s] = (((com.sun.management.ThreadMXBean) MX).getCurrentThreadAllocatedBytes() - a0)
                                / ws.get(s).size();
                    }
                    outs[k][s] = out;
                }
            }
        }
        for (int s = 0; s < shapes.length; s++) {
            Tensor w0 = ws.get(s).get(0);
            for (int k = 0; k < ks.size(); k++) {
                double err = 0, ref = 0;
                for (int i = 0; i < outs[k][s].length; i++) {
                    double d = outs[k][s][i] - outs[0][s][i];
                    err += d * d;
                    ref += (double) outs[0][s][i] * outs[0][s][i];
                }
                System.out.printf("%-6s %-11s %-22s %7.2f GB/s %7.2f GFLOP/s  rel.err %.1e  alloc/call %d B%n", e.name(), shapes[s],
                        ks.get(k).getClass().getSimpleName(), w0.byteSize() / best[k][s] / 1e9,
                        2.0 * w0.rows() * w0.cols() * tokens / best[k][s] / 1e9, Math.sqrt(err / ref), allocated[k][s]);
            }
        }
    }
}
