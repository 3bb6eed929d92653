package dev.sieve.model.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q4_0RepackedEncoding;
import dev.sieve.core.quant.Q4_0SlicedEncoding;
import dev.sieve.core.quant.Q4_KEncoding;
import dev.sieve.core.quant.Q4_KRepackedEncoding;
import dev.sieve.core.quant.Q6_KEncoding;
import dev.sieve.core.quant.Q6_KSlicedEncoding;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.Q8_0SlicedEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.kernel.panama.PanamaKernels;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.synth.ModelShape;
import dev.sieve.model.synth.SyntheticModelWriter;
import dev.sieve.testkit.TestData;
import dev.sieve.tokenizer.Tokenizers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Converting weights at load ({@link ModelLoader#relayout}) changes where and how they are stored,
 * not what they are: llama.cpp's sieve-tiny files under the 256-bit kernels, which prefer Q4_K_R
 * to Q4_K (Q4_K_M: 25 Q4_K and 5 Q6_K matrices) and Q4_0_R to Q4_0 (Q4_0: 29 Q4_0 matrices, a
 * Q6_K output), and under the 512-bit kernels, which interleave Q4_0, Q8_0 and Q6_K by 16 rows (Q4_0_R16,
 * Q8_0_R16, Q6_K_R16; the Q8_0 file's head is Q8_0 too) and, on Intel cores, Q4_K (Q4_K_R16).
 */
class RelayoutTest {
    /** The 256-bit kernels in their reproducible copy: sums in one order, before and after C2 compiles them. */
    static final Kernels K256 = PanamaKernels.create(256, false, true);

    /** The 512-bit kernels in their reproducible copy. */
    static final Kernels K512 = PanamaKernels.create(512, false, true);

    /**
     * A file, the encoding {@code kernels} convert in it, what to, how many matrices (all but the
     * token embedding), and whether the two layouts' prompt tiles do the same arithmetic in the same
     * order (so that a prompt's logits are equal bit for bit).
     */
    record Case(String model, WeightEncoding from, WeightEncoding to, int converted, Kernels kernels, boolean sameArithmetic) {
        /** Where {@code e} goes under these kernels: {@link #to} for {@link #from}, a 512-bit kernel set's own choice for the rest (its Q6_K head too). */
        WeightEncoding target(WeightEncoding e) {
            return e == from ? to : kernels == K512 ? kernels.preferredLayout(e) : e;
        }

        @Override
        public String toString() {
            return from.name() + " to " + to.name();
        }
    }

    static Stream<Case> cases() {
        return Stream.of(new Case("Q4_K_M", Q4_KEncoding.INSTANCE, Q4_KRepackedEncoding.INSTANCE, 24, K256, false),
                new Case("Q4_0", Q4_0Encoding.INSTANCE, Q4_0RepackedEncoding.INSTANCE, 28, K256, true),
                new Case("Q4_0", Q4_0Encoding.INSTANCE, Q4_0SlicedEncoding.INSTANCE, 28, K512, false), q4_KAtFiveTwelveBits());
    }

    /** The sieve-tiny Q4_K_M file under the 512-bit kernels: its 5 Q6_K matrices to Q6_K_R16, its Q4_K ones as the CPU's vendor decides. */
    static Case q4_KAtFiveTwelveBits() {
        return new Case("Q4_K_M", Q6_KEncoding.INSTANCE, Q6_KSlicedEncoding.INSTANCE, 5, K512, false);
    }

    /**
     * The cases whose values are checked: the 4-bit ones and Q8_0 → Q8_0_R16. Q8_0's logits are not
     * compared by {@link #logitsMatchTheFileLayout}: its bound is a fifth of what the weights' encoding
     * costs against F32, which for Q8_0 (6.0e-3) is below the decode steps' difference between any two
     * layouts here (Q4_0_R 3.0e-3, Q4_0_R16 3.8e-3, Q8_0_R16 2.8e-3, while single products agree with the
     * scalar reference to an nmse of 1e-14): that gap is the decode loop's, not a layout's, and is open.
     */
    static Stream<Case> valueCases() {
        return Stream.concat(cases(), Stream.of(new Case("Q8_0", Q8_0Encoding.INSTANCE, Q8_0SlicedEncoding.INSTANCE, 29, K512, false)));
    }

    @ParameterizedTest
    @MethodSource("valueCases")
    void everyMatrixKeepsItsValuesAndOnlyTheConvertedEncodingChanges(Case c) throws Exception {
        try (Model file = ModelLoader.load(TestData.model(c.model())); WorkerPool pool = new WorkerPool(2)) {
            Model m = ModelLoader.relayout(file, c.kernels(), pool);
            assertNotSame(file, m);
            List<Tensor> before = file.weights().matrices(), after = m.weights().matrices();
            assertEquals(before.size(), after.size());
            int repacked = 0;
            for (int i = 0; i < before.size(); i++) {
                Tensor a = before.get(i), b = after.get(i);
                boolean embedding = i == 0; // the token embedding stays as stored (not tied here)
                assertEquals(embedding ? a.encoding() : c.target(a.encoding()), b.encoding(), a.name());
                repacked += b.encoding() == c.to() ? 1 : 0;
                float[] x = new float[a.cols()], y = new float[b.cols()];
                for (int r = 0; r < a.rows(); r++) {
                    a.dequantizeRow(r, x, 0);
                    b.dequantizeRow(r, y, 0);
                    assertArrayEquals(x, y, a.name() + " row " + r);
                }
            }
            assertEquals(c.converted(), repacked, "the " + c.from().name() + " matrices but the token embedding");
        }
    }

    /**
     * A prompt (the float tiles) gives the same logits bit for bit where both encodings round the
     * activations alike (Q4_0_R's tiles decode the same floats as Q4_0's and multiply them in the same
     * order), and where they do not (Q4_K_R rounds activations to Q8_0, its declared activation
     * encoding; Q4_K's float path keeps them) the same top token at every position and logits within
     * the decode steps' bound. Decoding one token at
     * a time (16-bit paths against Q8_0 activations: Q4_K's decoder keeps float activations, Q4_0's
     * sums its blocks in another order) stays close:
     * teacher-forced over 48 tokens of eval.txt, the same top token at every step, and the logits'
     * relative difference under a fifth of what the 4-bit weights cost against F32.
     */
    @ParameterizedTest
    @MethodSource("cases")
    void logitsMatchTheFileLayout(Case c) throws Exception {
        String text = Files.readString(TestData.file("models/eval.txt"), StandardCharsets.UTF_8);
        try (Model file = ModelLoader.load(TestData.model(c.model())); Model f32 = ModelLoader.load(TestData.model("F32"));
                WorkerPool pool = new WorkerPool(2)) {
            Model m = ModelLoader.relayout(file, c.kernels(), pool);
            int[] tokens = java.util.Arrays.copyOf(Tokenizers.fromGguf(file.metadata()).encode(text, true, false), 64);
            Linear linear = new Linear(c.kernels(), pool);
            Transformer tf = new Transformer(file.config(), file.weights(), linear, 16);
            Transformer tr = new Transformer(m.config(), m.weights(), linear, 16);
            Transformer t32 = new Transformer(f32.config(), f32.weights(), linear, 16);
            int vocab = file.config().vocabSize();
            float[] la = new float[16 * vocab], lb = new float[16 * vocab], lf = new float[16 * vocab];
            KvCache ca = tf.newCache(64), cb = tr.newCache(64), cf = t32.newCache(64);
            t32.forward(tokens, 0, 16, cf, lf, 1);
            tf.forward(tokens, 0, 16, ca, la, 16);
            tr.forward(tokens, 0, 16, cb, lb, 16);
            if (c.sameArithmetic()) {
                assertArrayEquals(la, lb, "prompt logits"); // Q4_0 → Q4_0_R: both round activations to Q8_0
            }
            // Q4_K → Q4_K_R: the tiles round activations to Q8_0 for Q4_K_R only; Q4_0 → Q4_0_R16: the
            // same activations, summed in another order. The same top token at every prompt position,
            // and logits as close as the decode steps' (checked below).
            double promptErr = 0, promptNorm = 0;
            for (int p = 0; p < 16; p++) {
                assertEquals(argmax(java.util.Arrays.copyOfRange(la, p * vocab, (p + 1) * vocab), vocab),
                        argmax(java.util.Arrays.copyOfRange(lb, p * vocab, (p + 1) * vocab), vocab), "prompt position " + p);
            }
            for (int v = 0; v < la.length; v++) {
                promptErr += (la[v] - lb[v]) * (double) (la[v] - lb[v]);
                promptNorm += la[v] * (double) la[v];
            }
            double err = 0, quant = 0, norm = 0;
            for (int i = 16; i < tokens.length; i++) {
                tf.forward(tokens, i, 1, ca, la, 1);
                tr.forward(tokens, i, 1, cb, lb, 1);
                t32.forward(tokens, i, 1, cf, lf, 1);
                assertEquals(argmax(la, vocab), argmax(lb, vocab), "top token after position " + i);
                for (int v = 0; v < vocab; v++) {
                    err += (la[v] - lb[v]) * (double) (la[v] - lb[v]);
                    quant += (la[v] - lf[v]) * (double) (la[v] - lf[v]);
                    norm += lf[v] * (double) lf[v];
                }
            }
            double rel = Math.sqrt(err / norm), relQuant = Math.sqrt(quant / norm);
            String vs = c.to().name() + " against " + c.from().name();
            System.out.printf("decode logits, relative error: %s %.2e, %s against F32 %.2e%n", vs, rel, c.model(), relQuant);
            assertTrue(rel < relQuant / 5, vs + " " + rel + ", " + c.model() + " against F32 " + relQuant);
            double promptRel = Math.sqrt(promptErr / promptNorm);
            assertTrue(promptRel < relQuant / 5, vs + ", prompt logits " + promptRel + ", " + c.model() + " against F32 " + relQuant);
        }
    }

    @Test
    void nothingChangesWhereTheKernelsPreferTheFileLayout() throws Exception {
        try (Model file = ModelLoader.load(TestData.model("Q4_K_M")); WorkerPool pool = new WorkerPool(1)) {
            assertSame(file, ModelLoader.relayout(file, ScalarKernels.INSTANCE, pool));
            // At 512 bits Q4_K keeps its layout on AMD cores (its float decoder) and becomes Q4_K_R on
            // Intel's (PanamaKernels#preferredLayout): the model is returned as is exactly when the
            // kernels prefer the file's layout.
            Kernels k512 = PanamaKernels.create(512);
            boolean keeps = k512.preferredLayout(Q4_KEncoding.INSTANCE) == Q4_KEncoding.INSTANCE;
            Model at512 = ModelLoader.relayout(file, k512, pool);
            assertEquals(keeps, at512 == file, "Q4_K at 512 bits, preferred " + k512.preferredLayout(Q4_KEncoding.INSTANCE).name());
        }
        try (Model file = ModelLoader.load(TestData.model("Q4_0")); WorkerPool pool = new WorkerPool(1)) {
            assertSame(file, ModelLoader.relayout(file, ScalarKernels.INSTANCE, pool));
        }
        try (Model file = ModelLoader.load(TestData.model("Q8_0")); WorkerPool pool = new WorkerPool(1)) {
            assertSame(file, ModelLoader.relayout(file, K256, pool)); // Q8_0 decodes in its own layout
        }
    }

    /**
     * At 512 bits an indexed N:16 model's matrices interleave 16 rows ({@code Q8_I5_R}); a matrix
     * whose rows are not a multiple of 16 (this model's 520-row head) keeps the row layout. Every row
     * decodes as before, and the 512-bit kernels on the converted model give the scalar reference's
     * logits on the file's (prompt: four-token passes and a remainder; decode: one token).
     */
    /**
     * Indexed N:16, 2:4, 4:8 (Q8, Q4, BF16, F16 values) and bitmap Q8 and Q4: their 16-row layouts at 512
     * bits, for matrices of whole slices (sparse bitmap Q8: each value beside its column, on Q8_K activations).
     */
    @ParameterizedTest
    @CsvSource({"5:16, 0.6875, q8, Q8_I5, Q8_I5_R", "2:4, 0.5, q4, Q4_S24, Q4_S24_R", "2:4, 0.5, q8, Q8_S24, Q8_S24_R",
            "4:8, 0.5, q4, Q4_S48, Q4_S48_R", "4:8, 0.5, q8, Q8_S48, Q8_S48_R", "2:4, 0.5, bf16, BF16_S24, BF16_S24_R",
            "2:4, 0.5, f16, F16_S24, F16_S24_R", "4:8, 0.5, bf16, BF16_S48, BF16_I8_R", "4:8, 0.5, f16, F16_S48, F16_I8_R",
            "8:16, 0.5, f16, F16_I8, F16_I8_R", "unstructured, 0.5, q8, Q8_B128, Q8_B128_R",
            "unstructured, 0.9, q8, Q8_B26, Q8_B26_X", "unstructured, 0.8, q8, Q8_B51, Q8_B51_X",
            "unstructured, 0.5, q4, Q4_B128, Q4_0_R16", "unstructured, 0.7, q4, Q4_B77, Q4_0_R16", "unstructured, 0.9, q4, Q4_B26, Q4_B26_X",
            "unstructured, 0.6, q8, Q8_B102, Q8_B102_X"})
    void sparseTypesInterleaveWholeSlicesAt512Bits(String pattern, double sparsity, String values, String type, String slicedType,
            @TempDir Path dir) throws Exception {
        // Bitmap blocks are 256 columns: that model is twice as wide. Its 16-row layout needs a CPU that
        // expands bytes by a mask in one instruction (AVX-512 VBMI2): elsewhere the kernels keep the rows.
        boolean bitmap = pattern.equals("unstructured");
        org.junit.jupiter.api.Assumptions.assumeTrue(!bitmap || PanamaKernels.create(512).preferredLayout(
                dev.sieve.core.quant.WeightEncodings.byName(type).orElseThrow()).name().equals(slicedType), "no VPEXPANDB here");
        ModelShape shape = new ModelShape("t-idx", "llama", bitmap ? 256 : 128, 1, 4, 2, bitmap ? 512 : 320, 520, 64, false,
                10000f, 1e-5f, false, false, false);
        Path f = dir.resolve("idx.gguf");
        try (WorkerPool pool = new WorkerPool(2)) {
            new SyntheticModelWriter(shape, SyntheticModelWriter.TypeMix.sparse(pattern, sparsity, values), 7).write(f, pool, (i, n, s) -> {});
            try (Model file = ModelLoader.load(f)) {
                Kernels k512 = PanamaKernels.create(512);
                // Indexed rows have only their reference decoder: a run of any length converts them.
                assertEquals(type.contains("_I"), ModelLoader.convertsForAnyRun(file, k512), type);
                assertFalse(ModelLoader.convertsForAnyRun(file, ScalarKernels.INSTANCE), "the scalar kernels prefer the file's layout");
                Model m = ModelLoader.relayout(file, k512, pool);
                List<Tensor> before = file.weights().matrices(), after = m.weights().matrices();
                int sliced = 0;
                for (int i = 1; i < before.size(); i++) { // 0: the token embedding, Q8_0
                    Tensor a = before.get(i), b = after.get(i);
                    assertEquals(type, a.encoding().name(), a.name());
                    assertEquals(a.rows() % 16 == 0 ? slicedType : type, b.encoding().name(), a.name() + " " + a.rows() + " rows");
                    sliced += b.encoding().rowGroup() == 16 ? 1 : 0;
                    float[] x = new float[a.cols()], y = new float[b.cols()];
                    for (int r = 0; r < a.rows(); r++) {
                        a.dequantizeRow(r, x, 0);
                        b.dequantizeRow(r, y, 0);
                        // Equal as numbers: 4:8 made indexed adds each value into a zero, so a stored −0 reads +0.
                        assertArrayEquals(x, y, 0f, a.name() + " row " + r);
                    }
                }
                assertEquals(7, sliced, "q, k, v, o, gate, up, down; not the 520-row head");
                int vocab = file.config().vocabSize();
                int[] tokens = {1, 5, 9, 200, 301, 7, 44, 90, 3};
                float[] ref = lastLogits(file, new Linear(ScalarKernels.INSTANCE, pool), tokens);
                float[] fast = lastLogits(m, new Linear(k512, pool), tokens);
                // A layout whose kernels round the activations to Q8_0 where the file's type does not (Q4_S24_R,
                // Q8_S24_R, Q4_I8_R): within the rounding's cost of the file's reference; each of its matrices
                // against its own reference on the same activations to float precision. (Not the whole forward
                // against the layout's reference: the norms' float sums differ in the last bits between the
                // kernels, and a Q8_0 rounding that flips on such a difference moves a level by 1/127 — 0.4-0.5%
                // of the logits, seen after other tests had the kernels compiled.)
                boolean rounds = after.get(1).encoding().activationEncoding() != before.get(1).encoding().activationEncoding();
                assertTrue(relative(fast, ref) < (rounds ? 2e-2 : 1e-5), "relative logit difference " + relative(fast, ref));
                if (rounds) {
                    java.util.Random rnd = new java.util.Random(3);
                    for (Tensor b : after.subList(1, after.size())) {
                        float[] in = new float[7 * b.cols()], o1 = new float[7 * b.rows()], o2 = new float[7 * b.rows()];
                        for (int i = 0; i < in.length; i++) {
                            in[i] = (float) rnd.nextGaussian();
                        }
                        new Linear(k512, pool).apply(b, in, 7, o1);
                        new Linear(ScalarKernels.INSTANCE, pool).apply(b, in, 7, o2);
                        assertTrue(relative(o1, o2) < 1e-5, b.name() + ": relative difference to the layout's reference " + relative(o1, o2));
                        float[] d1 = java.util.Arrays.copyOf(o1, b.rows()), d2 = java.util.Arrays.copyOf(o2, b.rows());
                        new Linear(k512, pool).apply(b, in, 1, d1);
                        new Linear(ScalarKernels.INSTANCE, pool).apply(b, in, 1, d2);
                        assertTrue(relative(d1, d2) < 1e-5, b.name() + ": one token, relative difference to the layout's reference " + relative(d1, d2));
                    }
                }
                assertEquals(argmax(ref, vocab), argmax(fast, vocab));
            }
        }
    }

    /**
     * A one-layer synthetic llama of width {@code dim} and FFN {@code ffn} (4 heads, 2 KV heads, vocabulary
     * 512), every matrix in Q4_0, written as {@code dir/name.gguf}.
     */
    private static Path q4_0Model(Path dir, String name, int dim, int ffn, boolean tied, long seed, WorkerPool pool) throws Exception {
        ModelShape shape = new ModelShape(name, "llama", dim, 1, 4, 2, ffn, 512, 64, tied, 10000f, 1e-5f, false, false, false);
        Path f = dir.resolve(name + ".gguf");
        new SyntheticModelWriter(shape, SyntheticModelWriter.TypeMix.parse("Q4_0"), seed).write(f, pool, (i, n, s) -> {});
        return f;
    }

    /**
     * Q4_0_R holds pairs of blocks, so a Q4_0 matrix converts only if its rows have a multiple of 64
     * columns: a synthetic model of width 96 keeps its 96-column matrices in Q4_0 and converts the
     * 192-column down projection, and the converted model computes the same prompt logits.
     */
    @Test
    void onlyRowsOfWholeBlockPairsConvert(@TempDir Path dir) throws Exception {
        try (WorkerPool pool = new WorkerPool(2)) {
            Path f = q4_0Model(dir, "t-odd", 96, 192, false, 5, pool);
            try (Model file = ModelLoader.load(f)) {
                Model m = ModelLoader.relayout(file, K256, pool);
                List<Tensor> before = file.weights().matrices(), after = m.weights().matrices();
                int converted = 0, kept = 0;
                for (int i = 1; i < before.size(); i++) { // 0: the token embedding
                    Tensor a = before.get(i), b = after.get(i);
                    if (a.encoding() != Q4_0Encoding.INSTANCE) {
                        continue;
                    }
                    boolean pairs = a.cols() % 64 == 0;
                    assertEquals(pairs ? Q4_0RepackedEncoding.INSTANCE : Q4_0Encoding.INSTANCE, b.encoding(), a.name() + " " + a.cols());
                    converted += pairs ? 1 : 0;
                    kept += pairs ? 0 : 1;
                }
                assertEquals(1, converted, "the down projection");
                assertTrue(kept >= 5, "q, k, v, o, gate, up: " + kept);
                Linear linear = new Linear(K256, pool);
                int vocab = file.config().vocabSize();
                int[] tokens = {1, 5, 9, 200, 301, 7};
                float[] la = new float[tokens.length * vocab], lb = new float[tokens.length * vocab];
                Transformer tf = new Transformer(file.config(), file.weights(), linear, 8);
                Transformer tr = new Transformer(m.config(), m.weights(), linear, 8);
                tf.forward(tokens, 0, tokens.length, tf.newCache(16), la, tokens.length);
                tr.forward(tokens, 0, tokens.length, tr.newCache(16), lb, tokens.length);
                assertArrayEquals(la, lb, "prompt logits");
            }
        }
    }

    /**
     * A Q4_0 block whose scale is infinite cannot take the 16-row layout (its decode reads scales as
     * finite halves): converting the model fails with an error naming the tensor and the block, and the
     * file's own layout, which keeps the reference's arithmetic, still loads.
     */
    @Test
    void aCorruptScaleIsRefusedByNameWhenTheLayoutIsMade(@TempDir Path dir) throws Exception {
        try (WorkerPool pool = new WorkerPool(2)) {
            Path f = q4_0Model(dir, "t-corrupt", 64, 128, false, 5, pool);
            long at;
            try (dev.sieve.io.gguf.GgufFile g = dev.sieve.io.gguf.GgufFile.open(f)) {
                dev.sieve.io.gguf.GgufTensorInfo t = g.tensorInfos().get("blk.0.ffn_down.weight");
                assertEquals(Q4_0Encoding.INSTANCE.ggmlType(), t.ggmlType());
                at = g.dataOffset() + t.offset() + 3L * Q4_0Encoding.INSTANCE.byteSize(t.ne()[0]) + Q4_0Encoding.BLOCK_BYTES; // row 3, block 1
            }
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x00, 0x7C}), at); // +inf, little-endian
            }
            try (Model file = ModelLoader.load(f)) {
                ModelLoadException e = org.junit.jupiter.api.Assertions.assertThrows(ModelLoadException.class,
                        () -> ModelLoader.relayout(file, K512, pool));
                assertTrue(e.getMessage().contains("blk.0.ffn_down.weight") && e.getMessage().contains("block 1 of row 3")
                        && e.getMessage().contains("infinite"), e.getMessage());
                assertSame(file, ModelLoader.relayout(file, ScalarKernels.INSTANCE, pool));
            }
        }
    }

    /**
     * A tied head (the output is the token embedding) takes the 16-row layout like any other matrix:
     * one tensor serves both, every row (the embedding's lookups) decodes as before, and the 512-bit
     * kernels on the converted model give the scalar reference's prompt logits on the file's (float
     * rounding only: both multiply Q8_0-rounded activations).
     */
    @Test
    void aTiedHeadIsSlicedAndStillTheEmbedding(@TempDir Path dir) throws Exception {
        try (WorkerPool pool = new WorkerPool(2)) {
            Path f = q4_0Model(dir, "t-tied", 128, 320, true, 11, pool);
            try (Model file = ModelLoader.load(f)) {
                assertSame(file.weights().output(), file.weights().tokenEmbedding(), "a tied model");
                Tensor before = file.weights().output();
                assertEquals(Q4_0Encoding.INSTANCE, before.encoding(), "the embedding of a Q4_0 file");
                Model m = ModelLoader.relayout(file, K512, pool);
                Tensor after = m.weights().output();
                assertSame(after, m.weights().tokenEmbedding(), "one tensor for head and embedding");
                assertEquals(Q4_0SlicedEncoding.INSTANCE, after.encoding());
                float[] x = new float[before.cols()], y = new float[after.cols()];
                for (int r = 0; r < before.rows(); r++) {
                    before.dequantizeRow(r, x, 0);
                    after.dequantizeRow(r, y, 0);
                    assertArrayEquals(x, y, "embedding row " + r);
                }
                int vocab = file.config().vocabSize();
                int[] tokens = {1, 5, 9, 200, 301, 7};
                float[] la = new float[tokens.length * vocab], lb = new float[tokens.length * vocab];
                Transformer ref = new Transformer(file.config(), file.weights(), new Linear(ScalarKernels.INSTANCE, pool), 8);
                Transformer fast = new Transformer(m.config(), m.weights(), new Linear(K512, pool), 8);
                ref.forward(tokens, 0, tokens.length, ref.newCache(16), la, tokens.length);
                fast.forward(tokens, 0, tokens.length, fast.newCache(16), lb, tokens.length);
                double err = 0, norm = 0;
                for (int i = 0; i < la.length; i++) {
                    err += (la[i] - lb[i]) * (double) (la[i] - lb[i]);
                    norm += la[i] * (double) la[i];
                }
                assertTrue(err <= 1e-8 * norm, "prompt logits, relative squared error " + err / norm);
            }
        }
    }

    static int argmax(float[] a, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The logits after a 7-token prompt and two decode steps (tokens 7, 8) through one cache. */
    private static float[] lastLogits(Model model, Linear linear, int[] tokens) {
        int vocab = model.config().vocabSize();
        Transformer t = new Transformer(model.config(), model.weights(), linear, 16);
        float[] logits = new float[tokens.length * vocab];
        KvCache cache = t.newCache(16);
        t.forward(tokens, 0, 7, cache, logits, 7);
        for (int i = 7; i < tokens.length; i++) {
            t.forward(tokens, i, 1, cache, logits, 1);
        }
        return java.util.Arrays.copyOf(logits, vocab);
    }

    /** ‖a − b‖ / ‖b‖. */
    private static double relative(float[] a, float[] b) {
        double err = 0, norm = 0;
        for (int v = 0; v < b.length; v++) {
            err += (a[v] - b[v]) * (double) (a[v] - b[v]);
            norm += b[v] * (double) b[v];
        }
        return Math.sqrt(err / norm);
    }
}
