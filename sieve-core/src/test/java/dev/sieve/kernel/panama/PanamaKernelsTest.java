package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.F16Encoding;
import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every Panama kernel against {@link ScalarKernels}, at every vector width, for every registered
 * encoding (so encodings added later are covered, through the fast path or the fallback).
 */
class PanamaKernelsTest {

    /**
     * Float-activation kernels skip ggml's Q8_0 rounding of the activations, which the reference
     * does; for Gaussian data that rounding alone gives an nmse of about 2–3e-5, so 2e-4 passes it
     * and still fails any real mistake (a wrong element or block gives ~1e-2 and up).
     */
    static final double NMSE_QUANTIZED_ACTIVATIONS = 2e-4;
    /** Where activations are not re-quantized, only float summation order differs. */
    static final double NMSE_FLOAT = 1e-10;

    static final int[] ROWS = {1, 7, 33, 67};
    static final int[] TOKENS = {1, 3, 5, 17};
    /**
     * Also run on rows of 2048 columns or more: 8 tokens, a decode step's batch, take {@code
     * FloatPathKernel.KC_WIDE}-column tiles (two pieces on the rows longer than 2048); 33 tokens × 2048
     * columns is past {@code FloatPathKernel.ROWS_FIRST_FLOATS}, where the prompt tiles take k-chunks
     * outermost (17 tokens take rows outermost). Their activations come from their own generators, so
     * the other cases keep theirs.
     */
    static final int BATCH_TOKENS = 8;
    static final int MANY_TOKENS = 33;
    static final int[] TOKENS_AND_MANY = {1, 3, 5, BATCH_TOKENS, 17, MANY_TOKENS};

    static List<Integer> widths() {
        TreeSet<Integer> w = new TreeSet<>(List.of(128, 256, 512));
        int prop = Integer.getInteger("sieve.vectorBits", 0);
        if (prop > 0) {
            w.add(prop);
        }
        return new ArrayList<>(w);
    }

    static List<PanamaKernels> variants() {
        List<PanamaKernels> v = new ArrayList<>();
        for (int bits : widths()) {
            v.add(PanamaKernels.create(bits, false));
            v.add(PanamaKernels.create(bits, true));
            v.add(PanamaKernels.create(bits, false, true));
        }
        return v;
    }

    /** The variants whose kernel for {@code e} is the class named {@code kernel}. */
    static List<PanamaKernels> variantsWith(WeightEncoding e, String kernel) {
        return variants().stream().filter(k -> k.kernelFor(e).getClass().getSimpleName().equals(kernel)).toList();
    }

    /** 1–5 blocks, 2048, and a length that leaves a partial tile (and, for bs 1, vector tails). */
    static int[] colsFor(WeightEncoding e) {
        int bs = e.blockSize();
        TreeSet<Integer> c = new TreeSet<>();
        for (int k = 1; k <= 5; k++) {
            c.add(bs * k);
        }
        if (2048 % bs == 0) {
            c.add(2048);
        }
        c.add(bs * ((2051 + bs - 1) / bs));
        return c.stream().mapToInt(Integer::intValue).toArray();
    }

    static float[] gaussian(Random rnd, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) rnd.nextGaussian();
        }
        return f;
    }

    /** Random weights: quantized from Gaussians where possible, else random blocks that decode finite. */
    static Tensor randomTensor(WeightEncoding e, int rows, int cols, Random rnd, Arena arena) {
        Tensor t = Tensor.allocate("w", e, arena, cols, rows);
        int n = rows * cols;
        if (e.canQuantize()) {
            float[] g = gaussian(rnd, n);
            e.prune(g, 0, n); // sparse encodings take only rows that fit their pattern
            e.quantize(g, 0, t.data(), 0, n);
            return t;
        }
        int bs = e.blockSize();
        byte[] block = new byte[e.blockBytes()];
        float[] vals = new float[bs];
        MemorySegment one = MemorySegment.ofArray(block);
        for (int b = 0; b < n / bs; b++) {
            for (int tries = 0; ; tries++) {
                rnd.nextBytes(block);
                e.dequantize(one, 0, vals, 0, bs);
                boolean ok = true;
                for (float v : vals) {
                    ok &= Float.isFinite(v) && Math.abs(v) < 1e6f;
                }
                if (ok || tries > 1000) {
                    break;
                }
            }
            MemorySegment.copy(one, 0, t.data(), (long) b * block.length, block.length);
        }
        return t;
    }

    /**
     * Squared error over the expected squared size of a dot product of these rows and tokens
     * (Σ w²x² per output), so one output that happens to cancel to near zero cannot blow it up.
     */
    static double nmse(float[] got, float[] want, Tensor w, float[] x, int tokens, int r0, int r1) {
        int cols = w.cols(), stride = w.rows();
        float[] row = new float[cols];
        double err = 0, ref = 0;
        for (int r = r0; r < r1; r++) {
            w.dequantizeRow(r, row, 0);
            for (int t = 0; t < tokens; t++) {
                double d = got[t * stride + r] - want[t * stride + r];
                err += d * d;
                for (int i = 0; i < cols; i++) {
                    double p = (double) row[i] * x[t * cols + i];
                    ref += p * p;
                }
            }
        }
        return ref == 0 ? err : err / ref;
    }

    static float[] run(Kernels k, Tensor w, float[] x, int tokens, int r0, int r1) {
        Activations a = new Activations().set(x, tokens, w.cols());
        k.prepare(w, a);
        float[] out = new float[tokens * w.rows()];
        Arrays.fill(out, Float.NaN); // rows outside [r0, r1) must stay untouched
        k.matmul(w, a, out, w.rows(), r0, r1);
        return out;
    }

    @TestFactory
    Stream<DynamicTest> matmulMatchesScalar() {
        return WeightEncodings.all().stream().map(e -> DynamicTest.dynamicTest(e.name(), () -> {
            Random rnd = new Random(42 + e.ggmlType());
            List<PanamaKernels> variants = variants();
            boolean quantizedActs = e.activationEncoding().blockSize() > 1;
            try (Arena arena = Arena.ofConfined()) {
                for (int rows : ROWS) {
                    for (int cols : colsFor(e)) {
                        Tensor w = randomTensor(e, rows, cols, rnd, arena);
                        for (int tokens : cols >= 2048 ? TOKENS_AND_MANY : TOKENS) {
                            Random xr = tokens == MANY_TOKENS ? new Random(rows + cols)
                                    : tokens == BATCH_TOKENS ? new Random(31L * (rows + cols)) : rnd;
                            float[] x = gaussian(xr, tokens * cols);
                            int r0 = rows / 3, r1 = rows - rows / 5; // a proper sub-range where rows allow
                            float[] want = run(ScalarKernels.INSTANCE, w, x, tokens, r0, r1);
                            boolean fallbackChecked = false;
                            for (PanamaKernels k : variants) {
                                boolean fallback = !isFast(k, e);
                                boolean int8 = k.name().endsWith("int8");
                                // The integer kernels (Q8_0 in the int8 variant, Q4_0 below 512 bits)
                                // quantize activations to Q8_0 as the reference does.
                                boolean int8Kernel = !fallback
                                        && k.kernelFor(e).getClass().getSimpleName().endsWith("IntKernel");
                                // The fallback is the reference itself, and the int8 variant only
                                // differs for Q8_0/Q4_0: check those once per shape, to keep this quick.
                                if ((fallback && fallbackChecked) || (int8 && !fallback && !e.name().equals("Q8_0"))) {
                                    continue;
                                }
                                fallbackChecked |= fallback;
                                float[] got = run(k, w, x, tokens, r0, r1);
                                String where = k.name() + " " + e.name() + " rows=" + rows + " [" + r0 + "," + r1
                                        + ") cols=" + cols + " tokens=" + tokens;
                                for (int i = 0; i < got.length; i++) {
                                    int r = i % rows;
                                    assertEquals(r < r0 || r >= r1, Float.isNaN(got[i]), where + " out[" + i + "]");
                                }
                                double err = nmse(got, want, w, x, tokens, r0, r1);
                                // The int8 path quantizes activations exactly like the reference, and the
                                // float path rounds Q8_0 activations to the values the reference uses.
                                boolean exactActs = !quantizedActs || (int8Kernel && tokens < 4)
                                        || e.activationEncoding() == dev.sieve.core.quant.Q8_0Encoding.INSTANCE;
                                double tol = fallback ? 0 : exactActs ? NMSE_FLOAT : NMSE_QUANTIZED_ACTIVATIONS;
                                assertTrue(err <= tol, where + ": nmse " + err + " > " + tol);
                            }
                        }
                    }
                }
            }
        }));
    }

    /**
     * The 16-bit integer paths (Q4_0, Q8_0, Q4_0_R) take small batches several tokens per pass over a
     * weight row (Q4_0: threes, then twos, then one; Q8_0: twos, then one; Q4_0_R: one at a time; on
     * long rows up to 6 tokens):
     * every grouping gives what the reference gives token by token, with the float-rounding
     * tolerance (the activations are quantized exactly as the reference quantizes them), on long and
     * short rows and a row range that is not the whole matrix.
     */
    @TestFactory
    Stream<DynamicTest> int16SmallBatchesMatchTheReference() {
        return Stream.of("Q4_0", "Q8_0", "Q4_0_R").map(name -> DynamicTest.dynamicTest(name, () -> {
            WeightEncoding e = WeightEncodings.byName(name).orElseThrow();
            Random rnd = new Random(21);
            String kernel = name.replace("_R", "R") + "IntKernel";
            List<PanamaKernels> ks = variantsWith(e, kernel);
            assertFalse(ks.isEmpty(), "no variant runs " + kernel);
            try (Arena arena = Arena.ofConfined()) {
                for (int cols : new int[] {576, 2048}) {
                    Tensor w = randomTensor(e, 37, cols, rnd, arena);
                    for (int tokens = 1; tokens <= 7; tokens++) {
                        float[] x = gaussian(rnd, tokens * cols);
                        float[] want = run(ScalarKernels.INSTANCE, w, x, tokens, 3, 36);
                        for (PanamaKernels k : ks) {
                            float[] got = run(k, w, x, tokens, 3, 36);
                            boolean intPath = tokens < 4 || (cols >= 2048 && tokens < 7); // else the float tiles
                            double tol = intPath ? NMSE_FLOAT : NMSE_QUANTIZED_ACTIVATIONS;
                            double err = nmse(got, want, w, x, tokens, 3, 36);
                            assertTrue(err <= tol, k.name() + " cols=" + cols + " tokens=" + tokens + ": nmse " + err + " > " + tol);
                        }
                    }
                }
            }
        }));
    }

    /**
     * The float decoders with a two-token pass (Q8_0, Q6_K: batches of 2–6 tokens; Q4_0, whose
     * float decoder runs at 512 bits and subtracts 8·Σx per block: 2–3) take them two per pass over
     * a row: token for token, a batch gives what each token alone gives (float rounding only), and
     * the reference's answer.
     */
    @TestFactory
    Stream<DynamicTest> twoTokenDecodersMatchSingleTokens() {
        return Stream.of("Q8_0", "Q6_K", "Q4_0").map(name -> DynamicTest.dynamicTest(name, () -> {
            WeightEncoding e = WeightEncodings.byName(name).orElseThrow();
            Random rnd = new Random(22);
            try (Arena arena = Arena.ofConfined()) {
                int cols = 2048;
                Tensor w = randomTensor(e, 37, cols, rnd, arena);
                for (int tokens = 2; tokens <= 7; tokens++) {
                    float[] x = gaussian(rnd, tokens * cols);
                    float[] want = run(ScalarKernels.INSTANCE, w, x, tokens, 3, 36);
                    // (Below 512 bits Q8_0 and Q4_0 decode with their IntKernels, tested above.)
                    List<PanamaKernels> ks = variantsWith(e, name + "Kernel");
                    assertFalse(ks.isEmpty(), "no variant runs " + name + "Kernel");
                    for (PanamaKernels k : ks) {
                        float[] got = run(k, w, x, tokens, 3, 36);
                        float[] single = new float[got.length];
                        for (int t = 0; t < tokens; t++) {
                            float[] one = run(k, w, Arrays.copyOfRange(x, t * cols, (t + 1) * cols), 1, 3, 36);
                            System.arraycopy(one, 0, single, t * 37, 37);
                        }
                        String where = k.name() + " " + name + " tokens=" + tokens;
                        assertTrue(nmse(got, single, w, x, tokens, 3, 36) <= NMSE_FLOAT, where + ": batch differs from single tokens");
                        assertTrue(nmse(got, want, w, x, tokens, 3, 36) <= NMSE_QUANTIZED_ACTIVATIONS, where + ": differs from the reference");
                    }
                }
            }
        }));
    }

    /**
     * The float path of an encoding whose activations are Q8_0 stores exactly the values the
     * reference's Q8_0 blocks decode to ({@code Q8_0Encoding.roundTrip}), bit for bit, at every width:
     * Gaussian blocks, a zero block, and a block of exact halves (ties, which round away from zero).
     */
    @Test
    void floatPathRoundsQ8_0ActivationsAsTheReference() {
        WeightEncoding e = WeightEncodings.byName("Q8_0").orElseThrow();
        int cols = 256, tokens = 5; // 5 tokens on short rows: the float path at every width
        float[] x = gaussian(new Random(23), tokens * cols);
        java.util.Arrays.fill(x, 32, 64, 0f);
        for (int j = 0; j < 32; j++) {
            x[64 + j] = j == 0 ? 127f : (j % 2 == 0 ? 1 : -1) * (j * 3.5f % 120 + 0.5f); // id = 1: every value a tie
        }
        float[] want = new float[x.length];
        dev.sieve.core.quant.Q8_0Encoding.INSTANCE.roundTrip(x, 0, want, 0, x.length);
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = randomTensor(e, 3, cols, new Random(1), arena);
            for (PanamaKernels k : variants()) {
                Activations act = new Activations();
                act.set(x, tokens, cols);
                k.kernelFor(e).prepare(w, act);
                for (int i = 0; i < x.length; i++) {
                    assertEquals(Float.floatToRawIntBits(want[i]),
                            Float.floatToRawIntBits(act.encoded().get(dev.sieve.core.quant.Half.FLOAT_LE, 4L * i)),
                            k.name() + " value " + i + " (" + x[i] + ")");
                }
            }
        }
    }

    static boolean isFast(PanamaKernels k, WeightEncoding e) {
        return !(k.kernelFor(e) instanceof ScalarFallback);
    }

    @Test
    void fastKernelsAreRegisteredAndTheRestFallBack() {
        List<String> fast = List.of("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_0_R", "Q3_K", "Q4_K", "Q4_K_R", "Q5_K",
                "Q6_K");
        for (PanamaKernels k : variants()) {
            for (WeightEncoding e : WeightEncodings.all()) {
                // Every sparse and dense-and-sparse encoding has its kernel.
                boolean sparse = e instanceof dev.sieve.core.quant.SparseEncoding || e instanceof dev.sieve.core.quant.OutlierEncoding
                        || e instanceof dev.sieve.core.quant.IndexedSparseEncoding;
                assertEquals(fast.contains(e.name()) || sparse, isFast(k, e), k.name() + " " + e.name());
                assertEquals(e, k.kernelFor(e).encoding());
            }
        }
    }

    /** Every finite half, through the vector half→float conversion, against Float.float16ToFloat. */
    @Test
    void f16ConversionIsExactForEveryFiniteHalf() {
        int rows = 256, cols = 256; // 65536 weights: one per half bit pattern
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = Tensor.allocate("w", F16Encoding.INSTANCE, arena, cols, rows);
            for (int i = 0; i < rows * cols; i++) {
                short h = (short) i;
                boolean finite = ((i >>> 10) & 0x1F) != 0x1F;
                w.data().set(Half.SHORT_LE, 2L * i, finite ? h : 0);
            }
            int tokens = cols; // token t is one-hot at column t, so out[t][r] = W[r][t] exactly
            float[] x = new float[tokens * cols];
            for (int t = 0; t < tokens; t++) {
                x[t * cols + t] = 1f;
            }
            for (int bits : widths()) {
                float[] out = run(PanamaKernels.create(bits), w, x, tokens, 0, rows);
                for (int r = 0; r < rows; r++) {
                    for (int t = 0; t < tokens; t++) {
                        float want = Half.f16(w.data(), 2L * (r * cols + t));
                        float got = out[t * rows + r]; // == since a sum of products makes -0 into +0
                        assertTrue(want == got, bits + " bits: half 0x" + Integer.toHexString(r * cols + t)
                                + " is " + want + ", got " + got);
                    }
                }
            }
        }
    }

    /**
     * The K-quant float-path decoders give the reference's dequantized weight exactly: with a
     * one-hot activation only one product survives, so out[t][r] must equal W[r][t] bit for bit,
     * through the prompt tile (all columns as tokens) and through the fused two-row decode loop
     * (one token per call). Catches a wrong bit, nibble, scale or min of any single weight. Q4_K_R
     * and Q4_0_R (checked here too, with the K-quants) decode single tokens against Q8_0 activations (a one-hot 1 becomes 127 × f16(1/127)): its
     * tiles are checked here, its decode loop against the reference in the tests above.
     */
    @Test
    void kQuantDecodersReturnTheReferenceWeightsExactly() {
        Random rnd = new Random(11);
        int rows = 7, cols = 512;
        try (Arena arena = Arena.ofConfined()) {
            for (String name : List.of("Q3_K", "Q4_K", "Q4_K_R", "Q5_K", "Q6_K", "Q4_0_R")) {
                boolean tilesOnly = name.endsWith("_R");
                WeightEncoding e = WeightEncodings.byName(name).orElseThrow();
                Tensor w = randomTensor(e, rows, cols, rnd, arena);
                float[][] ref = new float[rows][cols];
                for (int r = 0; r < rows; r++) {
                    w.dequantizeRow(r, ref[r], 0);
                }
                // One-hot, with a value Q8_0 activations keep exactly (127 = 127 × f16(1)) where the
                // float path rounds activations to Q8_0 (Q4_K_R, Q4_0_R): out = W[r][t] · hot.
                float hot = e.activationEncoding() == dev.sieve.core.quant.Q8_0Encoding.INSTANCE ? 127f : 1f;
                float[] x = new float[cols * cols];
                for (int t = 0; t < cols; t++) {
                    x[t * cols + t] = hot;
                }
                for (PanamaKernels k : variants()) {
                    assertTrue(isFast(k, e), k.name() + " " + name);
                    float[] tiled = run(k, w, x, cols, 0, rows);
                    for (int t = 0; t < cols; t++) {
                        float[] single = tilesOnly ? null : run(k, w, Arrays.copyOfRange(x, t * cols, (t + 1) * cols), 1, 0, rows);
                        for (int r = 0; r < rows; r++) {
                            String where = k.name() + " " + name + " row " + r + " col " + t;
                            assertEquals(ref[r][t] * hot, tiled[t * rows + r], 0f, where + " (tile)");
                            if (!tilesOnly) {
                                assertEquals(ref[r][t], single[r], 0f, where + " (decode)");
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void dotAxpyRmsNormMatchScalar() {
        Random rnd = new Random(7);
        Kernels s = ScalarKernels.INSTANCE;
        for (PanamaKernels k : variants()) {
            for (int n : new int[] {1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 100, 1000, 4099}) {
                int off = rnd.nextInt(5);
                float[] a = gaussian(rnd, n + off + 3), b = gaussian(rnd, n + off + 3);
                String where = k.name() + " n=" + n;
                float want = s.dot(a, off, b, 3, n), got = k.dot(a, off, b, 3, n);
                assertEquals(want, got, 1e-5 * (Math.sqrt(n) + Math.abs(want)), where + " dot");

                float[] y1 = gaussian(rnd, n + 2), y2 = y1.clone();
                s.axpy(0.37f, a, off, y1, 2, n);
                k.axpy(0.37f, a, off, y2, 2, n);
                for (int i = 0; i < y1.length; i++) {
                    assertEquals(y1[i], y2[i], 1e-6 * (1 + Math.abs(y1[i])), where + " axpy " + i);
                }

                float[] nw = gaussian(rnd, n), o1 = new float[n + 4], o2 = new float[n + 4];
                s.rmsNorm(o1, 4, a, off, nw, n, 1e-5f);
                k.rmsNorm(o2, 4, a, off, nw, n, 1e-5f);
                for (int i = 0; i < o1.length; i++) {
                    assertEquals(o1[i], o2[i], 1e-5 * (1 + Math.abs(o1[i])), where + " rmsNorm " + i);
                }
            }
        }
    }

    /**
     * Rows split across two threads give the same results as one thread: every row is computed
     * exactly once, whoever computes it. Not bit for bit: the Vector API leaves the order of
     * reduceLanes(ADD) unspecified, and the interpreted and C2-compiled forms of the same kernel
     * (one thread may run one while the other runs the other) may round the last bit differently.
     * The exact kernels, which fix that order (every tile kernel and the one-row kernel add lanes in
     * the same tree), give the same bits.
     */
    @Test
    void linearWithTwoThreadsEqualsOneThread() {
        Random rnd = new Random(3);
        try (WorkerPool one = new WorkerPool(1); WorkerPool two = new WorkerPool(2); Arena arena = Arena.ofShared()) {
            Kernels k = PanamaKernels.create(0);
            Kernels exact = PanamaKernels.create(0, false, true);
            for (WeightEncoding e : WeightEncodings.all()) {
                int rows = 67, cols = e.blockSize() * ((2080 + e.blockSize() - 1) / e.blockSize());
                Tensor w = randomTensor(e, rows, cols, rnd, arena);
                for (int tokens : new int[] {1, 17}) {
                    float[] x = gaussian(rnd, tokens * cols);
                    float[] o1 = new float[tokens * rows], o2 = new float[tokens * rows];
                    new Linear(exact, one).apply(w, x, tokens, o1);
                    new Linear(exact, two).apply(w, x, tokens, o2);
                    assertArrayEquals(o1, o2, "exact kernels, " + e.name() + " tokens=" + tokens);
                    new Linear(k, one).apply(w, x, tokens, o1);
                    new Linear(k, two).apply(w, x, tokens, o2);
                    // A reordered float sum differs by a few units of roundoff of Σ|w·x|, not of the
                    // (possibly cancelled) result: which tile kernel takes a row depends on the split.
                    float[] wf = w.toFloatArray();
                    for (int i = 0; i < o1.length; i++) {
                        int t = i / rows, r = i % rows;
                        double mag = 0;
                        for (int c = 0; c < cols; c++) {
                            mag += Math.abs(wf[r * cols + c] * x[t * cols + c]);
                        }
                        double tol = 1e-5 * Math.max(1, mag);
                        assertEquals(o1[i], o2[i], tol, e.name() + " tokens=" + tokens + " at " + i);
                    }
                    float[] ref = new float[tokens * rows];
                    new Linear(ScalarKernels.INSTANCE, one).apply(w, x, tokens, ref);
                    assertTrue(nmse(o2, ref, w, x, tokens, 0, rows) < NMSE_QUANTIZED_ACTIVATIONS, e.name());
                }
            }
        }
    }

    /**
     * The exact kernels give the same bits on their first, interpreted calls as after C2 has
     * compiled them (a fresh class copy, then thousands of calls), for the encodings and paths a
     * calibrated compression runs (decode: 1 token, prompt tiles: 16 tokens) and for attention's
     * dot and RMSNorm. The default kernels' reduceLanes fails this (checked when it was written).
     */
    @Test
    void exactKernelsGiveTheSameBitsColdAndCompiled() {
        Random rnd = new Random(5);
        PanamaKernels k = PanamaKernels.uncached(0, false, true);
        try (Arena arena = Arena.ofConfined()) {
            List<String> names = List.of("F32", "F16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K");
            List<Tensor> ws = new ArrayList<>();
            List<float[]> xs = new ArrayList<>();
            List<float[]> cold = new ArrayList<>();
            int rows = 8, cols = 2048;
            for (String name : names) {
                Tensor w = randomTensor(WeightEncodings.byName(name).orElseThrow(), rows, cols, rnd, arena);
                for (int tokens : new int[] {1, 16}) {
                    float[] x = gaussian(rnd, tokens * cols);
                    ws.add(w);
                    xs.add(x);
                    cold.add(run(k, w, x, tokens, 0, rows));
                }
            }
            float[] a = gaussian(rnd, cols), b = gaussian(rnd, cols), nw = gaussian(rnd, cols);
            float coldDot = k.dot(a, 0, b, 0, cols);
            float[] coldNorm = new float[cols], norm = new float[cols];
            k.rmsNorm(coldNorm, 0, a, 0, nw, cols, 1e-5f);
            for (int round = 0; round < 300; round++) {
                for (int i = 0; i < ws.size(); i++) {
                    run(k, ws.get(i), xs.get(i), xs.get(i).length / cols, 0, rows);
                }
                for (int i = 0; i < 50; i++) {
                    k.dot(a, 0, b, 0, cols);
                    k.rmsNorm(norm, 0, a, 0, nw, cols, 1e-5f);
                }
            }
            for (int i = 0; i < ws.size(); i++) {
                assertArrayEquals(cold.get(i), run(k, ws.get(i), xs.get(i), xs.get(i).length / cols, 0, rows),
                        names.get(i / 2) + " tokens=" + xs.get(i).length / cols);
            }
            assertEquals(coldDot, k.dot(a, 0, b, 0, cols), 0f, "dot");
            k.rmsNorm(norm, 0, a, 0, nw, cols, 1e-5f);
            assertArrayEquals(coldNorm, norm, "rmsNorm");
        }
    }

    /** Attention's scores and softmax numerators agree with the reference at every width, tails included. */
    @Test
    void attentionDotsAndExponentialsMatchScalar() {
        Random rnd = new Random(6);
        for (int n : new int[] {64, 128, 67, 5}) {
            for (int rows : new int[] {1, 3, 4, 13, 64}) {
                int stride = n + 3;
                float[] q = gaussian(rnd, n + 2), x = gaussian(rnd, rows * stride + 1);
                float[] want = new float[rows + 2];
                ScalarKernels.INSTANCE.dots(q, 2, x, 1, stride, rows, n, want, 1);
                float[] scores = gaussian(rnd, rows + 5);
                for (int i = 0; i < scores.length; i++) {
                    scores[i] *= 4;
                }
                float[] wantExp = scores.clone();
                float wantSum = ScalarKernels.INSTANCE.expSum(wantExp, 2, rows, 1.5f);
                for (PanamaKernels k : variants()) {
                    float[] got = new float[rows + 2];
                    k.dots(q, 2, x, 1, stride, rows, n, got, 1);
                    for (int r = 1; r <= rows; r++) {
                        assertEquals(want[r], got[r], 1e-5f * n, k.name() + " n=" + n + " rows=" + rows + " row " + r);
                    }
                    assertEquals(0f, got[0], k.name() + ": wrote before its range");
                    assertEquals(0f, got[rows + 1], k.name() + ": wrote past its range");
                    float[] e = scores.clone();
                    float sum = k.expSum(e, 2, rows, 1.5f);
                    assertEquals(wantSum, sum, 1e-5f * wantSum, k.name() + " rows=" + rows);
                    for (int i = 0; i < e.length; i++) {
                        assertEquals(wantExp[i], e[i], 4e-7f * Math.abs(wantExp[i]), k.name() + " exp at " + i);
                    }
                }
            }
        }
    }

    /**
     * SwiGLU's gate agrees with the reference at every width: offsets, tails, gates far in either
     * tail of the sigmoid (e^-g overflowing to infinity gives -0, as in the reference), and only
     * {@code [off, off + n)} is written.
     */
    @Test
    void swigluMatchesScalar() {
        Random rnd = new Random(8);
        for (int n : new int[] {1, 7, 8, 16, 67, 1536}) {
            float[] gate = gaussian(rnd, n + 5), up = gaussian(rnd, n + 5);
            for (int i = 0; i < gate.length; i++) {
                gate[i] *= 6;
            }
            if (n > 8) {
                gate[3] = -200f;
                gate[4] = 200f;
                gate[5] = 0f;
            }
            float[] want = gate.clone();
            ScalarKernels.INSTANCE.swiglu(want, up, 2, n);
            for (PanamaKernels k : variants()) {
                float[] got = gate.clone();
                k.swiglu(got, up, 2, n);
                for (int i = 0; i < got.length; i++) {
                    assertEquals(want[i], got[i], 4e-7f * Math.abs(want[i]), k.name() + " n=" + n + " at " + i);
                }
                assertEquals(gate[0], got[0], 0f, k.name() + ": wrote before its range");
                assertEquals(gate[n + 2], got[n + 2], 0f, k.name() + ": wrote past its range");
            }
        }
        float[] g = {-200f, 200f, 0f, 1f};
        ScalarKernels.INSTANCE.swiglu(g, new float[] {1, 1, 1, 2}, 0, 4);
        assertEquals(-0f, g[0], 0f, "SiLU(-200) underflows to zero");
        assertEquals(200f, g[1], 0f, "SiLU(200) = 200");
        assertEquals(0f, g[2], 0f, "SiLU(0) = 0");
        assertEquals(2 / (1 + Math.exp(-1)), g[3], 1e-6, "SiLU(1) · 2 = 2σ(1)");
    }

    /**
     * The CSR product (a dense-and-sparse projection's outliers): the reference equals the product
     * of the densified matrix; every vector kernel equals the reference on rows of every length
     * around the vector width (empty, shorter than a vector, multiples, tails), for token counts
     * below, at and past each lane count, on a row range that leaves the first and last rows alone;
     * {@link Linear#addSparse} (token-major in and out, transposed inside) adds the same product on
     * one and two threads.
     */
    @Test
    void sparseRowsMatchTheDenseProductAndScalar() {
        Random rnd = new Random(12);
        int cols = 300;
        int[] lengths = {0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 40, 100, 0, 2};
        int rows = lengths.length;
        int[] rowPtr = new int[rows + 1];
        for (int r = 0; r < rows; r++) {
            rowPtr[r + 1] = rowPtr[r] + lengths[r];
        }
        int[] col = new int[rowPtr[rows]];
        float[] values = new float[col.length];
        float[] dense = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            int[] picked = rnd.ints(0, cols).distinct().limit(lengths[r]).sorted().toArray();
            for (int j = 0; j < picked.length; j++) {
                int k = rowPtr[r] + j;
                col[k] = picked[j];
                values[k] = (float) rnd.nextGaussian();
                dense[r * cols + col[k]] = values[k];
            }
        }
        try (WorkerPool p1 = new WorkerPool(1); WorkerPool p2 = new WorkerPool(2)) {
            // 37 and 70 reach the vector kernel's 4N-token passes at every width (16, 32, 64 tokens).
            for (int n : new int[] {1, 3, 4, 8, 16, 19, 37, 70}) {
                float[] x = gaussian(rnd, n * cols), xT = new float[n * cols];
                for (int t = 0; t < n; t++) {
                    for (int c = 0; c < cols; c++) {
                        xT[c * n + t] = x[t * cols + c];
                    }
                }
                float[] base = gaussian(rnd, rows * n); // yT: row r's outputs at r·n + t
                float[] ref = base.clone();
                ScalarKernels.INSTANCE.sparseRows(rowPtr, col, values, xT, n, ref, 0, rows);
                for (int t = 0; t < n; t++) {
                    for (int r = 0; r < rows; r++) {
                        double d = base[r * n + t];
                        for (int c = 0; c < cols; c++) {
                            d += (double) dense[r * cols + c] * x[t * cols + c];
                        }
                        assertEquals(d, ref[r * n + t], 1e-5 * (1 + Math.abs(d)), "reference, n=" + n + " token " + t + " row " + r);
                    }
                }
                float[] want = base.clone();
                ScalarKernels.INSTANCE.sparseRows(rowPtr, col, values, xT, n, want, 1, rows - 1);
                // Rounding scales with the terms summed, not with their (possibly cancelling) sum.
                double[] size = new double[rows * n];
                for (int r = 0; r < rows; r++) {
                    for (int t = 0; t < n; t++) {
                        size[r * n + t] = Math.abs(base[r * n + t]);
                        for (int k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
                            size[r * n + t] += Math.abs(values[k] * xT[col[k] * n + t]);
                        }
                    }
                }
                for (PanamaKernels k : variants()) {
                    float[] got = base.clone();
                    k.sparseRows(rowPtr, col, values, xT, n, got, 1, rows - 1);
                    for (int i = 0; i < got.length; i++) {
                        int r = i / n;
                        if (r == 0 || r == rows - 1) {
                            assertEquals(base[i], got[i], 0f, k.name() + " n=" + n + ": wrote outside its rows at " + i);
                        } else {
                            assertEquals(want[i], got[i], 1e-6 * size[i], k.name() + " n=" + n + " at " + i);
                        }
                    }
                }
                // Through Linear: out is n × rows, x is n × cols (token-major, as the forward pass has it).
                float[] start = gaussian(rnd, n * rows);
                float[] one = start.clone();
                for (int t = 0; t < n; t++) {
                    for (int r = 0; r < rows; r++) {
                        one[t * rows + r] += ref[r * n + t] - base[r * n + t];
                    }
                }
                for (WorkerPool pool : List.of(p1, p2)) {
                    float[] got = start.clone();
                    new Linear(PanamaKernels.create(0), pool).addSparse(rows, cols, rowPtr, col, values, x, n, got);
                    for (int i = 0; i < got.length; i++) {
                        assertEquals(one[i], got[i], 2e-6f * (1 + Math.abs(one[i])), pool.threads() + " threads, n=" + n + " at " + i);
                    }
                }
            }
        }
    }

    @Test
    void providerLoadsThePanamaKernelsAndWidthsAreValidated() {
        Kernels k = KernelProvider.panama(256);
        assertInstanceOf(PanamaKernels.class, k);
        assertEquals("panama-256", k.name());
        assertEquals(PanamaKernels.create(256), PanamaKernels.create(256)); // one class copy per width
        assertFalse(PanamaKernels.create(0).name().isEmpty());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> PanamaKernels.create(64));
    }

    @Test
    void unpreparedActivationsAreRejected() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = randomTensor(WeightEncodings.byName("Q4_0").orElseThrow(), 4, 64, new Random(1), arena);
            Activations a = new Activations().set(new float[64], 1, 64);
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> PanamaKernels.create(0).matmul(w, a, new float[4], 4, 0, 4));
        }
        assertTrue(ValueLayout.JAVA_FLOAT.byteSize() == 4);
    }
}
