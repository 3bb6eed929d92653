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
