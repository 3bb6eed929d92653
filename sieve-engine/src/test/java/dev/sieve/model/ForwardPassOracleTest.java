package dev.sieve.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.model.synth.ModelShape;
import dev.sieve.model.synth.SyntheticModelWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The forward pass (batched prompt, then token-by-token decode, scalar and Vector API kernels,
 * two threads) agrees with {@link ReferenceTransformer} on synthetic models of every architecture
 * in every encoding Sieve can write.
 */
class ForwardPassOracleTest {
    @TempDir Path dir;

    // 256-wide so the K-quants apply; GQA 4:2; untied head.
    static final ModelShape LLAMA = new ModelShape("t-llama", "llama", 256, 2, 4, 2, 512, 320, 64, false, 10000f, 1e-5f, false, false, false);
    static final ModelShape LLAMA3 = new ModelShape("t-llama3", "llama", 256, 2, 4, 1, 512, 320, 64, true, 500000f, 1e-5f, false, true, false);
    static final ModelShape QWEN2 = new ModelShape("t-qwen2", "qwen2", 256, 2, 4, 2, 512, 320, 64, true, 1000000f, 1e-6f, true, false, false);
    static final ModelShape QWEN3 = new ModelShape("t-qwen3", "qwen3", 256, 2, 4, 2, 512, 320, 64, true, 1000000f, 1e-6f, false, false, true);

    /** Normalized mean squared error of a against the reference b. */
    static double nmse(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < b.length; i++) {
            num += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
            den += (double) b[i] * b[i];
        }
        return num / den;
    }

    @TestFactory
    Stream<DynamicTest> forwardMatchesReference() {
        List<DynamicTest> tests = new ArrayList<>();
        List<String> types = new ArrayList<>(WeightEncodings.all().stream().filter(WeightEncoding::canQuantize)
                .filter(e -> e.blockSize() > 1 || e.name().startsWith("F") || e.name().startsWith("BF"))
                .map(WeightEncoding::name).toList());
        // Every encoding under both kernel sets on the plain Llama block; the other architectures
        // (which differ only in the block, not in the matrix products) with the fast kernels, and
        // for the dense encodings only: sparse kernels are checked against dense ones in sieve-core.
        for (ModelShape shape : List.of(LLAMA, LLAMA3, QWEN2, QWEN3)) {
            for (String type : types) {
                boolean sparse = WeightEncodings.byName(type).orElseThrow().density() < 1;
                if (shape != LLAMA && sparse) {
                    continue;
                }
                List<Kernels> kernels = shape == LLAMA ? List.of(ScalarKernels.INSTANCE, KernelProvider.get())
                        : List.of(KernelProvider.get());
                for (Kernels k : kernels) {
                    tests.add(DynamicTest.dynamicTest(shape.name() + " " + type + " " + k.name(), () -> check(shape, type, k)));
                }
            }
        }
        return tests.stream();
    }

    /** Two projections stored as low-rank pairs (one F32, one Q8_0) run as A·(B·x) and agree with the dense A·B. */
    @TestFactory
    Stream<DynamicTest> factoredProjectionsMatchReference() {
        return Stream.of(ScalarKernels.INSTANCE, KernelProvider.get()).map(k -> DynamicTest.dynamicTest(k.name(), () -> {
            Path dense = dir.resolve("lr-dense-" + k.name() + ".gguf");
            Path f = dir.resolve("lr-" + k.name() + ".gguf");
            try (WorkerPool pool = new WorkerPool(2)) {
                new SyntheticModelWriter(LLAMA, SyntheticModelWriter.TypeMix.parse("F32"), 7).write(dense, pool, (i, n, s) -> {});
            }
            LowRankFiles.factorize(dense, f, java.util.Map.of("blk.1.ffn_up", 24, "blk.0.attn_output", 32),
                    java.util.Map.of("blk.1.ffn_up", WeightEncodings.byName("F32").orElseThrow(),
                            "blk.0.attn_output", WeightEncodings.byName("Q8_0").orElseThrow()));
            try (Model m = ModelLoader.load(f)) {
                assertTrue(m.weights().layers().get(1).wUp().isFactored() && m.weights().layers().get(0).wo().isFactored());
                assertTrue(m.weights().layers().get(1).wUp().rank() == 24);
            }
            compare(f, "Q8_0", k);
        }));
    }

    /**
     * Sparse outliers on a dense Q3_K projection, a dense Q8_0 one and a low-rank pair are added
     * as y += S·x and agree with the reference's W + S; files missing part of the CSR are refused.
     */
    @TestFactory
    Stream<DynamicTest> sparseOutliersMatchReference() {
        return Stream.of(ScalarKernels.INSTANCE, KernelProvider.get()).map(k -> DynamicTest.dynamicTest(k.name(), () -> {
            Path base = dir.resolve("sp-base-" + k.name() + ".gguf");
            Path lr = dir.resolve("sp-lr-" + k.name() + ".gguf");
            Path f = dir.resolve("sp-" + k.name() + ".gguf");
            try (WorkerPool pool = new WorkerPool(2)) {
                new SyntheticModelWriter(LLAMA, SyntheticModelWriter.TypeMix.parse("Q3_K"), 7).write(base, pool, (i, n, s) -> {});
            }
            LowRankFiles.factorize(base, lr, java.util.Map.of("blk.1.ffn_up", 32),
                    java.util.Map.of("blk.1.ffn_up", WeightEncodings.byName("Q8_0").orElseThrow()));
            LowRankFiles.addOutliers(lr, f, java.util.Map.of("blk.0.attn_q", 40, "blk.1.ffn_down", 60, "blk.1.ffn_up", 30));
            try (Model m = ModelLoader.load(f)) {
                var l0 = m.weights().layers().get(0);
                var l1 = m.weights().layers().get(1);
                assertTrue(l0.wq().outliers().nonZeros() == 40 && l1.wDown().outliers().nonZeros() == 60);
                assertTrue(l1.wUp().isFactored() && l1.wUp().outliers().nonZeros() == 30);
                assertTrue(l0.wk().outliers() == null);
            }
            compare(f, "Q3_K", k);
        }));
    }

    @org.junit.jupiter.api.Test
    void partialOutlierTensorsAreRefused() throws Exception {
        Path base = dir.resolve("sp-partial-base.gguf");
        Path f = dir.resolve("sp-partial.gguf");
        Path broken = dir.resolve("sp-partial-broken.gguf");
        try (WorkerPool pool = new WorkerPool(2)) {
            new SyntheticModelWriter(LLAMA, SyntheticModelWriter.TypeMix.parse("F32"), 7).write(base, pool, (i, n, s) -> {});
        }
        LowRankFiles.addOutliers(base, f, java.util.Map.of("blk.0.attn_q", 10));
        try (var g = dev.sieve.io.gguf.GgufFile.open(f)) {
            var w = new dev.sieve.io.gguf.GgufWriter();
            w.putAll(g.metadata().asMap());
            for (var ti : g.tensorInfos().values()) {
                if (ti.name().equals("blk.0.attn_q.outliers.cols")) {
                    continue;
                }
                var seg = g.rawTensor(ti.name(), ti.ggmlType());
                w.addTensor(ti.name(), ti.ggmlType(), ti.ne(), seg.byteSize(), dst -> dst.copyFrom(seg));
            }
            w.write(broken);
        }
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.sieve.model.loader.ModelLoadException.class,
                () -> ModelLoader.load(broken).close());
        assertTrue(e.getMessage().contains("blk.0.attn_q.outliers.cols"), e.getMessage());
    }

    void check(ModelShape shape, String type, Kernels kernels) throws Exception {
        Path f = dir.resolve(shape.name() + "-" + type + "-" + kernels.name() + ".gguf");
        try (WorkerPool pool = new WorkerPool(2)) {
            new SyntheticModelWriter(shape, SyntheticModelWriter.TypeMix.parse(type), 7).write(f, pool, (i, n, s) -> {});
        }
        compare(f, type, kernels);
    }

    void compare(Path f, String type, Kernels kernels) throws Exception {
        try (WorkerPool pool = new WorkerPool(2)) {
            try (Model m = ModelLoader.load(f)) {
                Transformer tf = new Transformer(m.config(), m.weights(), new Linear(kernels, pool), 8);
                ReferenceTransformer ref = new ReferenceTransformer(m.config(), m.weights(), 64);
                KvCache cache = tf.newCache(64);
                int[] prompt = {1, 17, 300, 45, 99, 260, 7, 8, 9, 10, 11}; // 11 > maxBatch 8: chunked
                float[] logits = new float[3 * m.config().vocabSize()];
                tf.forward(prompt, 0, prompt.length, cache, logits, 3);
                float[][] expected = new float[prompt.length][];
                for (int i = 0; i < prompt.length; i++) {
                    expected[i] = ref.step(prompt[i]);
                }
                // Activations are rounded to the weights' activation encoding, as ggml does (f16,
                // bf16, 8-bit blocks); the reference multiplies exact floats.
                double tol = type.startsWith("F") ? 1e-5 : type.equals("BF16") ? 1e-4 : 2e-3;
                int v = m.config().vocabSize();
                for (int j = 0; j < 3; j++) {
                    float[] got = java.util.Arrays.copyOfRange(logits, j * v, (j + 1) * v);
                    double e = nmse(got, expected[prompt.length - 3 + j]);
                    assertTrue(e < tol, "prompt logits " + j + ": nmse " + e + " ≥ " + tol);
                }
                for (int step = 0; step < 4; step++) {
                    int tok = 30 + step * 50;
                    tf.forward(new int[] {tok}, 0, 1, cache, logits, 1);
                    float[] want = ref.step(tok);
                    double e = nmse(java.util.Arrays.copyOf(logits, v), want);
                    assertTrue(e < tol, "decode step " + step + ": nmse " + e + " ≥ " + tol);
                }
            }
        }
    }
}
