package dev.sieve.compress.pipeline;

import dev.sieve.compress.calib.LayerStatistics;
import dev.sieve.compress.linalg.Matrices;
import dev.sieve.compress.lowrank.LowRankFactors;
import dev.sieve.compress.lowrank.RankSelection;
import dev.sieve.compress.lowrank.SvdFactorizer;
import dev.sieve.compress.lowrank.WhitenedSvdFactorizer;
import dev.sieve.compress.prune.MagnitudePruner;
import dev.sieve.compress.prune.Pruned;
import dev.sieve.compress.prune.SparseGptPruner;
import dev.sieve.compress.prune.WandaPruner;
import dev.sieve.compress.quantize.GptqQuantizer;
import dev.sieve.compress.quantize.OutlierSplitter;
import dev.sieve.compress.quantize.QuantizedWeights;
import dev.sieve.compress.quantize.RtnQuantizer;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.quant.BlockGrid;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.io.gguf.GgufTensorInfo;
import dev.sieve.io.gguf.GgufValue;
import dev.sieve.io.gguf.GgufWriter;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.LayerWeights;
import dev.sieve.model.layers.Projection;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.loader.Model;
import dev.sieve.model.spec.ModelConfig;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a {@link Recipe} over a model, one transformer block at a time so memory stays bounded by
 * one block's statistics and the calibration activations:
 *
 * <pre>
 *   X = embed(all calibration sequences)
 *   for each block l:
 *     run block l (original weights) on X, gathering each projection's input statistics
 *     fold AWQ scales, then compress the block's selected matrices
 *     X = block l (compressed weights) on X         (later blocks see the errors of earlier ones)
 *   output (gptq): calibrated on the final-norm outputs of the compressed blocks (the head's input)
 *   token_embd / output (rtn): round to nearest (the embedding has no input to calibrate on)
 *   write the GGUF atomically, recording the recipe
 * </pre>
 */
public final class Compressor {
    /** Progress: {@code done} of {@code total} units, and what is being done. */
    @FunctionalInterface
    public interface Progress {
        void update(int done, int total, String what);
    }

    /**
     * What was done, tensor by tensor, and the sizes; {@code outputErrors} holds, for the matrices
     * compressed with calibration statistics, the relative layer output error ‖(W − Ŵ)X‖² / ‖WX‖²
     * on the calibration inputs (not stored in the file).
     */
    public record Report(Map<String, String> methods, Map<String, Double> outputErrors, long matrixParams, long matrixBytes) {
        public double matrixBitsPerWeight() {
            return matrixBytes * 8.0 / matrixParams;
        }
    }

    /** A stored result tensor (bytes in the run's arena); {@code encoding} is null for raw I32/I16 index arrays. */
    private record Out(String name, WeightEncoding encoding, int ggmlType, long[] ne, MemorySegment data) {
        Tensor tensor() {
            return new Tensor(name, encoding, ne, data);
        }
    }

    private final Model model;
    private final Recipe recipe;
    private final Map<String, Step> plan;
    private final Map<String, String> methods = new LinkedHashMap<>();
    private final Map<String, Double> outputErrors = new LinkedHashMap<>();
    private final Map<String, List<Out>> outputs = new LinkedHashMap<>();

    private Compressor(Model model, Recipe recipe, Map<String, Step> plan) {
        this.model = model;
        this.recipe = recipe;
        this.plan = plan;
    }

    /**
     * Which step compresses which matrix; throws {@link RecipeException} for anything that cannot
     * work on this model, before any work starts.
     */
    public static Map<String, Step> plan(Model model, Recipe recipe) {
        Map<String, Step> plan = new LinkedHashMap<>();
        Map<String, Integer> stepOf = new LinkedHashMap<>();
        ModelConfig c = model.config();
        for (GgufTensorInfo t : model.file().tensorInfos().values()) {
            if (t.ne().length < 2 || t.ne()[1] < 2) {
                continue; // vectors (norms, biases) are copied
            }
            for (int i = 0; i < recipe.steps().size(); i++) {
                Step s = recipe.steps().get(i);
                if (!s.matches(t.name())) {
                    continue;
                }
                if (plan.containsKey(t.name())) {
                    throw new RecipeException(t.name() + " is selected by step " + (stepOf.get(t.name()) + 1) + " ("
                            + plan.get(t.name()).method().key() + ") and step " + (i + 1) + " (" + s.method().key()
                            + "): a matrix takes one method (pruning and low-rank steps choose their storage with type:)");
                }
                check(t, s, i, c);
                plan.put(t.name(), s);
                stepOf.put(t.name(), i);
            }
        }
        for (int i = 0; i < recipe.steps().size(); i++) {
            if (!stepOf.containsValue(i)) {
                throw new RecipeException("step " + (i + 1) + " (" + recipe.steps().get(i).method().key() + ") pattern "
                        + recipe.steps().get(i).patterns() + " matches no matrix of the model");
            }
        }
        for (int l = 0; l < c.layers(); l++) {
            checkAwqGroups(plan, l);
        }
        return plan;
    }

    private static void check(GgufTensorInfo t, Step s, int i, ModelConfig c) {
        String where = "step " + (i + 1) + " (" + s.method().key() + ") on " + t.name();
        boolean inBlock = role(t.name()) >= 0;
        boolean calibratedHead = t.name().equals(HEAD) && s.method() == Method.GPTQ && s.outliers() == 0;
        if (!inBlock && s.method().calibrated() && !calibratedHead) {
            throw new RecipeException(where + ": only the block projections and the output head (gptq, no outliers) see"
                    + " calibration inputs; use rtn (or a data-free method) here");
        }
        if (!inBlock && s.method().kind() != Method.Kind.QUANT) {
            throw new RecipeException(where + ": embeddings and the output head can only be quantized (rtn)");
        }
        long cols = t.ne()[0];
        long rows = t.ne()[1];
        if (s.method().kind() != Method.Kind.LOWRANK && cols % s.type().blockSize() != 0) {
            throw new RecipeException(where + ": rows of " + cols + " are not a whole number of " + s.type().name()
                    + " blocks of " + s.type().blockSize());
        }
        if (s.nOfM() != null && cols % s.nOfM().m() != 0) {
            throw new RecipeException(where + ": rows of " + cols + " do not split into groups of " + s.nOfM().m());
        }
        if (s.method().kind() == Method.Kind.LOWRANK) {
            int r = rank(s, (int) rows, (int) cols);
            if (r < 1) {
                throw new RecipeException(where + ": keep " + s.keep() + " leaves no rank that is a multiple of "
                        + s.type().name() + "'s block of " + s.type().blockSize());
            }
            if (cols % s.type().blockSize() != 0 || r % s.type().blockSize() != 0) {
                throw new RecipeException(where + ": rank " + r + " or width " + cols + " is not a multiple of "
                        + s.type().name() + "'s block of " + s.type().blockSize());
            }
            if (r >= Math.min(rows, cols)) {
                throw new RecipeException(where + ": rank " + r + " is not below min(" + rows + ", " + cols + ")");
            }
        }
    }

    /** AWQ shares one scale per input: q/k/v and gate/up take one step together; folds need their target selected. */
    private static void checkAwqGroups(Map<String, Step> plan, int l) {
        String p = "blk." + l + ".";
        for (List<String> group : List.of(List.of("attn_q", "attn_k", "attn_v"), List.of("ffn_gate", "ffn_up"))) {
            List<Step> steps = group.stream().map(n -> plan.get(p + n + ".weight")).toList();
            if (steps.stream().anyMatch(s -> s != null && s.method() == Method.AWQ)
                    && steps.stream().anyMatch(s -> s != steps.get(0))) {
                throw new RecipeException("awq on " + p + "{" + String.join(",", group)
                        + "}: these read one input and share its scales, so select all of them with the same awq step");
            }
        }
        if (isAwq(plan, p + "attn_output.weight") && plan.get(p + "attn_v.weight") == null) {
            throw new RecipeException("awq on " + p + "attn_output folds its scales into " + p + "attn_v, which no step selects");
        }
        if (isAwq(plan, p + "ffn_down.weight") && plan.get(p + "ffn_up.weight") == null) {
            throw new RecipeException("awq on " + p + "ffn_down folds its scales into " + p + "ffn_up, which no step selects");
        }
        for (String n : List.of("attn_v", "ffn_up")) {
            Step s = plan.get(p + n + ".weight");
            String folder = n.equals("attn_v") ? "attn_output" : "ffn_down";
            if (s != null && s.method().kind() != Method.Kind.QUANT && isAwq(plan, p + folder + ".weight")) {
                throw new RecipeException("awq on " + p + folder + " rescales " + p + n + ", which " + s.method().key()
                        + " compresses; quantize " + n + " instead or drop awq on " + folder);
            }
        }
    }

    private static boolean isAwq(Map<String, Step> plan, String name) {
        Step s = plan.get(name);
        return s != null && s.method() == Method.AWQ;
    }

    static final String HEAD = "output.weight";

    /** The projection index of a block tensor name ({@code blk.N.attn_q.weight} → 0), or −1. */
    static int role(String name) {
        if (!name.startsWith("blk.") || !name.endsWith(".weight")) {
            return -1;
        }
        String[] parts = name.split("\\.");
        return parts.length == 4 ? BlockFloats.NAMES.indexOf(parts[2]) : -1;
    }

    static int layerOf(String name) {
        return Integer.parseInt(name.split("\\.")[1]);
    }

    static int rank(Step s, int rows, int cols) {
        int bs = s.type().blockSize();
        int r = s.rank() > 0 ? s.rank() : (int) Math.floor(s.keep() * rows * cols / (rows + cols));
        return r / bs * bs; // factors are stored as rows of whole blocks
    }

    /**
     * Compresses {@code model} by {@code recipe} into {@code out}. {@code calib} (sequences of equal
     * length) may be null when no step needs calibration.
     */
    public static Report run(Model model, Recipe recipe, int[][] calib, Linear linear, Path out, Progress progress) throws IOException {
        Map<String, Step> plan = plan(model, recipe);
        if (recipe.needsCalibration() && (calib == null || calib.length == 0)) {
            throw new RecipeException("the recipe uses calibrated methods: give calibration text (--calib)");
        }
        Compressor cp = new Compressor(model, recipe, plan);
        try (Arena arena = Arena.ofShared()) {
            cp.compress(calib, linear, arena, progress);
            return cp.write(out, progress);
        }
    }

    private void compress(int[][] calib, Linear linear, Arena arena, Progress progress) {
        ModelConfig c = model.config();
        Step headStep = plan.get(HEAD);
        boolean calibratedHead = headStep != null && headStep.method().calibrated();
        boolean anyBlock = calibratedHead || plan.keySet().stream().anyMatch(n -> role(n) >= 0);
        int total = c.layers() * 9 + 1;
        int done = 0;
        LayerStatistics headStats = null;
        if (anyBlock) {
            boolean calibrate = calib != null && calib.length > 0;
            int len = calibrate ? calib[0].length : 1;
            Transformer tf = new Transformer(c, model.weights(), linear, len);
            KvCache cache = tf.newCache(len);
            float[][] x = calibrate ? new float[calib.length][len * c.dim()] : null;
            if (calibrate) {
                for (int s = 0; s < calib.length; s++) {
                    tf.embed(calib[s], 0, len, x[s]);
                }
            }
            for (int l = 0; l < c.layers(); l++) {
                LayerWeights lw = model.weights().layers().get(l);
                String p = "blk." + l + ".";
                progress.update(done, total, p + " statistics");
                LayerStatistics[] stats = calibrate ? statistics(tf, lw, l, x, cache) : new LayerStatistics[7];
                done++;
                BlockFloats b = new BlockFloats(lw);
                fold(b, l, stats, c);
                List<Projection> ps = new ArrayList<>(lw.projections());
                for (int r = 0; r < 7; r++) {
                    String name = p + BlockFloats.NAMES.get(r) + ".weight";
                    Step s = plan.get(name);
                    progress.update(done, total, p + BlockFloats.NAMES.get(r) + " " + (s != null ? s.method().key() : "copy"));
                    if (s != null) {
                        ps.set(r, compressMatrix(name, s, b.load(r), b.rows(r), b.cols(r), stats[r], arena));
                    } else if (recipe.defaultType() != null) {
                        ps.set(r, reencode(name, b.load(r), b.rows(r), b.cols(r), recipe.defaultType(), arena));
                    }
                    done++;
                }
                LayerWeights compressed = b.with(ps);
                putVector(p + "attn_norm.weight", b.attnNorm, arena);
                putVector(p + "ffn_norm.weight", b.ffnNorm, arena);
                if (b.bv != null) {
                    putVector(p + "attn_v.bias", b.bv, arena);
                }
                progress.update(done, total, p + " propagate");
                if (calibrate) {
                    for (float[] xs : x) {
                        tf.runBlock(l, compressed, xs, len, cache);
                    }
                }
                done++;
            }
            if (calibratedHead) {
                progress.update(done, total, "output statistics");
                headStats = headStatistics(x, c);
            }
        }
        for (String name : List.of("token_embd.weight", HEAD)) {
            if (!model.file().hasTensor(name)) {
                continue;
            }
            Step s = plan.get(name);
            if (s != null && s.method().calibrated()) {
                Tensor t = model.file().tensor(name);
                compressMatrix(name, s, t.toFloatArray(), t.rows(), t.cols(), headStats, arena);
                continue;
            }
            WeightEncoding e = s != null ? s.type() : recipe.defaultType();
            if (e != null) {
                Tensor t = model.file().tensor(name);
                reencode(name, t.toFloatArray(), t.rows(), t.cols(), e, arena);
                methods.put(name, s != null ? s.describe() : "default " + e.name());
            }
        }
        progress.update(total, total, "done");
    }

    /**
     * The head's input statistics: the last block's outputs (already through the compressed blocks)
     * after the final RMSNorm, as the forward pass computes them before {@code output.weight}.
     */
    private LayerStatistics headStatistics(float[][] x, ModelConfig c) {
        int dim = c.dim();
        float[] norm = model.weights().outputNorm();
        LayerStatistics st = new LayerStatistics(dim);
        float[] row = new float[dim];
        for (float[] xs : x) {
            for (int t = 0; t < xs.length / dim; t++) {
                double ss = 0;
                for (int i = 0; i < dim; i++) {
                    ss += (double) xs[t * dim + i] * xs[t * dim + i];
                }
                float scale = (float) (1 / Math.sqrt(ss / dim + c.rmsEps()));
                for (int i = 0; i < dim; i++) {
                    row[i] = xs[t * dim + i] * scale * norm[i];
                }
                st.accumulate(row, 0, 1);
            }
        }
        return st;
    }

    /** Runs block l on every sequence with its original weights, accumulating each projection's input. */
    private LayerStatistics[] statistics(Transformer tf, LayerWeights lw, int l, float[][] x, KvCache cache) {
        String p = "blk." + l + ".";
        LayerStatistics[] stats = new LayerStatistics[7];
        IdentityHashMap<Projection, Integer> roleOf = new IdentityHashMap<>();
        List<Projection> ps = lw.projections();
        for (int r = 0; r < 7; r++) {
            Step s = plan.get(p + BlockFloats.NAMES.get(r) + ".weight");
            if (s != null && s.method().calibrated() || isAwqInput(p, r)) {
                // q/k/v and gate/up read the same input: one set of statistics each.
                int owner = r <= BlockFloats.V ? BlockFloats.Q : r == BlockFloats.UP ? BlockFloats.GATE : r;
                if (stats[owner] == null) {
                    stats[owner] = new LayerStatistics(ps.get(r).in());
                    roleOf.put(ps.get(owner), owner);
                }
                stats[r] = stats[owner];
            }
        }
        if (roleOf.isEmpty()) {
            return stats;
        }
        float[] tmp = new float[x[0].length];
        tf.setObserver((layer, proj, in, n) -> {
            Integer r = roleOf.get(proj);
            if (r != null) {
                stats[r].accumulate(in, 0, n);
            }
        });
        try {
            for (float[] xs : x) {
                System.arraycopy(xs, 0, tmp, 0, xs.length);
                tf.runBlock(l, lw, tmp, tmp.length / model.config().dim(), cache);
            }
        } finally {
            tf.setObserver(null);
        }
        return stats;
    }

    private boolean isAwqInput(String p, int r) {
        Step s = plan.get(p + BlockFloats.NAMES.get(r) + ".weight");
        return s != null && s.method() == Method.AWQ;
    }

    /** AWQ groups of block l: search scales on the original weights, then fold them. */
    private void fold(BlockFloats b, int l, LayerStatistics[] stats, ModelConfig c) {
        String p = "blk." + l + ".";
        Step qkv = plan.get(p + "attn_q.weight");
        if (qkv != null && qkv.method() == Method.AWQ) {
            int[] g = {BlockFloats.Q, BlockFloats.K, BlockFloats.V};
            float[] s = AwqFolding.search(List.of(b.load(g[0]), b.load(g[1]), b.load(g[2])),
                    List.of(b.rows(g[0]), b.rows(g[1]), b.rows(g[2])), b.cols(g[0]), stats[g[0]], stats[g[0]].meanAbs(),
                    grid(qkv), qkv.grid());
            AwqFolding.foldQkv(b, s);
        }
        Step o = plan.get(p + "attn_output.weight");
        if (o != null && o.method() == Method.AWQ) {
            int r = BlockFloats.O;
            float[] s = AwqFolding.search(List.of(b.load(r)), List.of(b.rows(r)), b.cols(r), stats[r],
                    AwqFolding.tiedMeanAbs(stats[r].meanAbs(), c), grid(o), o.grid());
            b.load(BlockFloats.V);
            AwqFolding.foldO(b, s, c);
        }
        Step gu = plan.get(p + "ffn_gate.weight");
        if (gu != null && gu.method() == Method.AWQ) {
            int[] g = {BlockFloats.GATE, BlockFloats.UP};
            float[] s = AwqFolding.search(List.of(b.load(g[0]), b.load(g[1])), List.of(b.rows(g[0]), b.rows(g[1])),
                    b.cols(g[0]), stats[g[0]], stats[g[0]].meanAbs(), grid(gu), gu.grid());
            AwqFolding.foldGateUp(b, s);
        }
        Step d = plan.get(p + "ffn_down.weight");
        if (d != null && d.method() == Method.AWQ) {
            int r = BlockFloats.DOWN;
            float[] s = AwqFolding.search(List.of(b.load(r)), List.of(b.rows(r)), b.cols(r), stats[r], stats[r].meanAbs(),
                    grid(d), d.grid());
            b.load(BlockFloats.UP);
            AwqFolding.foldDown(b, s);
        }
    }

    private static BlockGrid grid(Step s) {
        return s.type().grid().orElseThrow();
    }

    private Projection compressMatrix(String name, Step s, float[] w, int rows, int cols, LayerStatistics st, Arena arena) {
        methods.put(name, s.describe());
        String base = name.substring(0, name.length() - ".weight".length());
        float[][] effective = new float[1][]; // the weights the stored form computes, for the error report
        Projection p = switch (s.method()) {
            case RTN, AWQ -> {
                if (s.type().grid().isEmpty()) { // RTN only (Recipe): the encoding's own reference quantizer
                    effective[0] = RtnQuantizer.roundTrip(w, s.type());
                    yield encoded(name, w, rows, cols, s.type(), arena);
                }
                yield quantized(name, keep(effective, RtnQuantizer.quantize(w, rows, cols, grid(s))), arena);
            }
            case GPTQ -> {
                GptqQuantizer g = new GptqQuantizer(new GptqQuantizer.Options(s.damp(), s.block(), s.actOrder(), s.importance(),
                        s.lazySubBlocks(), s.conditionalImportance()));
                if (s.outliers() > 0) {
                    OutlierSplitter.Split sp = OutlierSplitter.split(w, rows, cols, st, s.outliers(),
                            OutlierSplitter.Saliency.HESSIAN, grid(s), g);
                    effective[0] = sp.reconstruct();
                    yield split(name, sp, arena);
                }
                yield quantized(name, keep(effective, g.quantize(w, rows, cols, st.hessian(), grid(s))), arena);
            }
            case MAGNITUDE -> pruned(name, keep(effective, MagnitudePruner.prune(w, rows, cols, s.sparsityPattern())), s, arena);
            case WANDA -> pruned(name, keep(effective, WandaPruner.prune(w, rows, cols, st, s.sparsityPattern())), s, arena);
            case SPARSEGPT -> pruned(name, keep(effective, new SparseGptPruner(new SparseGptPruner.Options(s.damp(), 128))
                    .prune(w, rows, cols, st.hessian(), s.sparsityPattern())), s, arena);
            case SVD, WHITENED_SVD -> {
                RankSelection r = new RankSelection.Fixed(rank(s, rows, cols));
                LowRankFactors f = s.method() == Method.SVD ? SvdFactorizer.factor(w, rows, cols, r)
                        : WhitenedSvdFactorizer.factor(w, rows, cols, st.hessian(), r, s.damp());
                effective[0] = f.product();
                Out a = put(base + ".lr_a.weight", encode(f.a(), s.type(), arena), s.type(), new long[] {f.rank(), rows});
                Out bb = put(base + ".lr_b.weight", encode(f.b(), s.type(), arena), s.type(), new long[] {cols, f.rank()});
                outputs.put(name, List.of(a, bb));
                yield Projection.factored(a.tensor(), bb.tensor());
            }
        };
        if (st != null && effective[0] != null) {
            // ‖(W − Ŵ)X‖² / ‖WX‖² on the calibration inputs: what the layer loses, comparable across methods.
            double[] h = st.hessian();
            double err = Matrices.outputError(w, effective[0], rows, cols, h);
            double ref = Matrices.outputError(w, new float[w.length], rows, cols, h);
            outputErrors.put(name, ref > 0 ? err / ref : 0);
        }
        return p;
    }

    private static QuantizedWeights keep(float[][] effective, QuantizedWeights q) {
        effective[0] = q.values();
        return q;
    }

    private static Pruned keep(float[][] effective, Pruned p) {
        effective[0] = p.weights();
        return p;
    }

    private Projection quantized(String name, QuantizedWeights q, Arena arena) {
        WeightEncoding e = q.grid().encoding().orElseThrow();
        MemorySegment seg = arena.allocate(e.byteSize((long) q.rows() * q.cols()), 64);
        seg.copyFrom(q.encode());
        Out o = put(name, seg, e, new long[] {q.cols(), q.rows()});
        outputs.put(name, List.of(o));
        return Projection.dense(o.tensor());
    }

    /**
     * The dense part as {@code X.weight} plus the CSR side tensor as {@code X.outliers.rowptr} (I32),
     * {@code .cols} (I16, unsigned) and {@code .values} (F16); the returned projection applies both,
     * so the next block is calibrated on what the file computes.
     */
    private Projection split(String name, OutlierSplitter.Split sp, Arena arena) {
        Projection dense = quantized(name, sp.dense(), arena);
        var s = sp.sparse();
        if (s.nonZeros() == 0) {
            return dense;
        }
        if (s.cols() > 65536) {
            throw new RecipeException(name + ": outlier columns are stored in 16 bits; rows of " + s.cols() + " are too wide");
        }
        String base = name.substring(0, name.length() - ".weight".length()) + ".outliers.";
        int nnz = s.nonZeros();
        var i32 = java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
        var i16 = java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
        MemorySegment rp = arena.allocate(4L * (s.rows() + 1), 64);
        for (int r = 0; r <= s.rows(); r++) {
            rp.set(i32, 4L * r, s.rowPtr()[r]);
        }
        MemorySegment cs = arena.allocate(2L * nnz, 64);
        MemorySegment vs = arena.allocate(2L * nnz, 64);
        float[] values = new float[nnz];
        for (int k = 0; k < nnz; k++) {
            cs.set(i16, 2L * k, (short) s.colIndex()[k]);
            vs.set(i16, 2L * k, s.valuesF16()[k]);
            values[k] = s.value(k);
        }
        List<Out> outs = new ArrayList<>(outputs.get(name));
        outs.add(new Out(base + "rowptr", null, GGML_I32, new long[] {s.rows() + 1}, rp));
        outs.add(new Out(base + "cols", null, GGML_I16, new long[] {nnz}, cs));
        outs.add(new Out(base + "values", WeightEncodings.byName("F16").orElseThrow(), 1, new long[] {nnz}, vs));
        outputs.put(name, List.copyOf(outs));
        return dense.withOutliers(new dev.sieve.model.layers.SparseOutliers(s.rows(), s.cols(), s.rowPtr().clone(),
                s.colIndex().clone(), values));
    }

    private static final int GGML_I16 = 25;
    private static final int GGML_I32 = 26;

    private Projection pruned(String name, Pruned pr, Step s, Arena arena) {
        WeightEncoding type = s.type();
        if (type instanceof SparseEncoding se && !se.isNM()) {
            int most = mostPerBlock(pr.weights(), se.blockSize());
            if (se.capacity() == se.blockSize()) {
                // Q8_B (capacity 256): the capacity of this matrix's fullest block; same values, fewer bytes.
                type = SparseEncoding.bitmap(se.values(), Math.max(1, most));
                String stored = type.name();
                methods.computeIfPresent(name, (k, v) -> v.replace(se.name(), stored + " (capacity fitted)"));
            } else if (most > se.capacity()) {
                // Unstructured pruning keeps a fraction per row, not per 256-weight block.
                throw new RecipeException(name + ": " + se.name() + " stores " + se.capacity() + " of every "
                        + se.blockSize() + " weights, but after " + s.method().key() + " pruning a block of this matrix keeps "
                        + most + " (per-row pruning leaves blocks uneven); store it as "
                        + SparseEncoding.bitmap(se.values(), most).name() + " or a larger capacity (or "
                        + se.values() + "_B: each matrix's fullest block), or prune less");
            }
        }
        Out o = put(name, encode(pr.weights(), type, arena), type, new long[] {pr.cols(), pr.rows()});
        outputs.put(name, List.of(o));
        return Projection.dense(o.tensor());
    }

    /** The largest count of non-zero weights in any {@code block}-weight block of {@code w}. */
    static int mostPerBlock(float[] w, int block) {
        int most = 0;
        for (int b = 0; b < w.length / block; b++) {
            int nz = 0;
            for (int i = b * block; i < (b + 1) * block; i++) {
                nz += w[i] != 0f ? 1 : 0;
            }
            most = Math.max(most, nz);
        }
        return most;
    }

    private Projection reencode(String name, float[] w, int rows, int cols, WeightEncoding e, Arena arena) {
        methods.putIfAbsent(name, "default " + e.name());
        return encoded(name, w, rows, cols, e, arena);
    }

    /** {@code w} stored in {@code e} by its reference quantizer. */
    private Projection encoded(String name, float[] w, int rows, int cols, WeightEncoding e, Arena arena) {
        if (cols % e.blockSize() != 0) {
            throw new RecipeException(name + ": rows of " + cols + " do not fit " + e.name() + " blocks of " + e.blockSize());
        }
        Out o = put(name, encode(w, e, arena), e, new long[] {cols, rows});
        outputs.put(name, List.of(o));
        return Projection.dense(o.tensor());
    }

    private void putVector(String name, float[] v, Arena arena) {
        WeightEncoding f32 = WeightEncodings.byName("F32").orElseThrow();
        outputs.put(name, List.of(put(name, encode(v, f32, arena), f32, new long[] {v.length})));
    }

    private static MemorySegment encode(float[] v, WeightEncoding e, Arena arena) {
        MemorySegment seg = arena.allocate(e.byteSize(v.length), 64);
        e.quantize(v, 0, seg, 0, v.length);
        return seg;
    }

    private static Out put(String name, MemorySegment data, WeightEncoding e, long[] ne) {
        return new Out(name, e, e.ggmlType(), ne, data);
    }

    /** Writes every tensor of the input in its order, compressed ones replaced, plus the recipe. */
    private Report write(Path out, Progress progress) throws IOException {
        GgufWriter w = new GgufWriter();
        Map<String, GgufValue> md = new LinkedHashMap<>(model.metadata().asMap());
        md.remove("general.file_type"); // the mix no longer is one llama.cpp file type
        w.putAll(md);
        w.put("sieve.compress.recipe", GgufValue.ofString(recipe.text()));
        w.put("sieve.compress.methods", GgufValue.ofStrings(methods.entrySet().stream()
                .map(e -> e.getKey() + ": " + e.getValue()).toArray(String[]::new)));
        long params = 0;
        long bytes = 0;
        for (GgufTensorInfo ti : model.file().tensorInfos().values()) {
            List<Out> outs = outputs.get(ti.name());
            boolean matrix = ti.ne().length >= 2 && ti.ne()[1] > 1;
            if (matrix) {
                params += ti.elementCount();
            }
            if (outs == null) {
                Tensor t = model.file().tensor(ti.name());
                w.addTensor(ti.name(), ti.ggmlType(), ti.ne(), t.byteSize(), dst -> dst.copyFrom(t.data().asSlice(0, t.byteSize())));
                bytes += matrix ? t.byteSize() : 0;
                continue;
            }
            for (Out o : outs) {
                if (o.encoding() != null) {
                    w.addTensor(o.name(), o.encoding(), o.ne(), dst -> dst.copyFrom(o.data()));
                } else {
                    w.addTensor(o.name(), o.ggmlType(), o.ne(), o.data().byteSize(), dst -> dst.copyFrom(o.data()));
                }
                bytes += matrix ? o.data().byteSize() : 0;
            }
        }
        w.write(out, (i, n, name) -> progress.update(i, n, "write " + name));
        return new Report(Map.copyOf(methods), Map.copyOf(outputErrors), params, bytes);
    }
}
