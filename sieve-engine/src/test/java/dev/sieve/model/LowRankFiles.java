package dev.sieve.model;

import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.io.gguf.GgufFile;
import dev.sieve.io.gguf.GgufTensorInfo;
import dev.sieve.io.gguf.GgufWriter;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

/** Test helper: rewrites a model with chosen projections replaced by random low-rank pairs. */
final class LowRankFiles {
    private LowRankFiles() {}

    /**
     * Copies {@code in} to {@code out}, storing each {@code base → rank} of {@code ranks} as
     * {@code base.lr_a.weight [r, out]} and {@code base.lr_b.weight [in, r]} with random factors,
     * in the given encodings. The factors are random (scaled like the weights), not fitted.
     */
    static void factorize(Path in, Path out, Map<String, Integer> ranks, Map<String, WeightEncoding> encodings) throws IOException {
        try (GgufFile f = GgufFile.open(in); Arena arena = Arena.ofConfined()) {
            GgufWriter w = new GgufWriter();
            w.putAll(f.metadata().asMap());
            Random rnd = new Random(11);
            for (GgufTensorInfo ti : f.tensorInfos().values()) {
                String base = ti.name().endsWith(".weight") ? ti.name().substring(0, ti.name().length() - 7) : ti.name();
                Integer r = ranks.get(base);
                if (r == null) {
                    Tensor t = f.tensor(ti.name());
                    w.addTensor(ti.name(), ti.ggmlType(), ti.ne(), t.byteSize(), dst -> dst.copyFrom(t.data().asSlice(0, t.byteSize())));
                    continue;
                }
                int cols = (int) ti.ne()[0];
                int rows = (int) ti.ne()[1];
                WeightEncoding e = encodings.get(base);
                w.addTensor(base + ".lr_a.weight", e, new long[] {r, rows}, encode(random(rnd, rows * r, 1 / Math.sqrt(r)), e, arena));
                w.addTensor(base + ".lr_b.weight", e, new long[] {cols, r}, encode(random(rnd, r * cols, 0.05), e, arena));
            }
            w.write(out);
        }
    }

    /**
     * Copies {@code in} to {@code out} adding, for each {@code base → k} of {@code counts}, a CSR
     * side tensor ({@code base.outliers.rowptr} I32, {@code .cols} I16, {@code .values} F16) of
     * k random entries of magnitude about 0.5, ten times the weights', so a forward pass that
     * ignored them would be far off. {@code out}/{@code in} widths come from {@code base.weight}
     * or the low-rank pair.
     */
    static void addOutliers(Path in, Path out, Map<String, Integer> counts) throws IOException {
        try (GgufFile f = GgufFile.open(in); Arena arena = Arena.ofConfined()) {
            GgufWriter w = new GgufWriter();
            w.putAll(f.metadata().asMap());
            for (GgufTensorInfo ti : f.tensorInfos().values()) {
                Tensor t = f.tensor(ti.name());
                w.addTensor(ti.name(), ti.ggmlType(), ti.ne(), t.byteSize(), dst -> dst.copyFrom(t.data().asSlice(0, t.byteSize())));
            }
            Random rnd = new Random(5);
            var i32 = java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
            var i16 = java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (var e : counts.entrySet()) {
                String base = e.getKey();
                GgufTensorInfo d = f.tensorInfos().get(base + ".weight");
                int cols = d != null ? (int) d.ne()[0] : (int) f.tensorInfos().get(base + ".lr_b.weight").ne()[0];
                int rows = d != null ? (int) d.ne()[1] : (int) f.tensorInfos().get(base + ".lr_a.weight").ne()[1];
                boolean[] mark = new boolean[rows * cols];
                for (int placed = 0; placed < e.getValue(); ) {
                    int i = rnd.nextInt(rows * cols);
                    if (!mark[i]) {
                        mark[i] = true;
                        placed++;
                    }
                }
                int nnz = e.getValue();
                MemorySegment rp = arena.allocate(4L * (rows + 1));
                MemorySegment cs = arena.allocate(2L * nnz);
                MemorySegment vs = arena.allocate(2L * nnz);
                int k = 0;
                for (int r = 0; r < rows; r++) {
                    rp.set(i32, 4L * r, k);
                    for (int c = 0; c < cols; c++) {
                        if (mark[r * cols + c]) {
                            cs.set(i16, 2L * k, (short) c);
                            vs.set(i16, 2L * k, Float.floatToFloat16((float) ((rnd.nextBoolean() ? 0.5 : -0.5) + rnd.nextGaussian() * 0.1)));
                            k++;
                        }
                    }
                }
                rp.set(i32, 4L * rows, k);
                w.addTensor(base + ".outliers.rowptr", 26, new long[] {rows + 1}, rp.byteSize(), dst -> dst.copyFrom(rp));
                w.addTensor(base + ".outliers.cols", 25, new long[] {nnz}, cs.byteSize(), dst -> dst.copyFrom(cs));
                w.addTensor(base + ".outliers.values", 1, new long[] {nnz}, vs.byteSize(), dst -> dst.copyFrom(vs));
            }
            w.write(out);
        }
    }

    private static float[] random(Random rnd, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextGaussian() * scale);
        }
        return v;
    }

    private static GgufWriter.TensorSource encode(float[] v, WeightEncoding e, Arena arena) {
        MemorySegment seg = arena.allocate(e.byteSize(v.length));
        e.quantize(v, 0, seg, 0, v.length);
        return dst -> dst.copyFrom(seg);
    }
}
