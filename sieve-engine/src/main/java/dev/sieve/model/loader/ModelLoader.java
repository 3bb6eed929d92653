package dev.sieve.model.loader;

import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.io.gguf.GgufFile;
import dev.sieve.io.gguf.GgufMetadata;
import dev.sieve.model.layers.LayerWeights;
import dev.sieve.model.layers.ModelWeights;
import dev.sieve.model.layers.Projection;
import dev.sieve.model.spec.Architecture;
import dev.sieve.model.spec.ModelConfig;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Opens a GGUF file and binds its tensors to a model: the architecture is chosen by {@code
 * general.architecture} among the {@link Architecture} services, every tensor's presence and shape
 * is checked, and nothing is decoded but the small vectors.
 */
public final class ModelLoader {
    private static final List<Architecture> ARCHITECTURES =
            ServiceLoader.load(Architecture.class, ModelLoader.class.getClassLoader()).stream()
                    .map(ServiceLoader.Provider::get).toList();

    private ModelLoader() {}

    /** The architecture names Sieve supports. */
    public static List<String> supportedArchitectures() {
        return ARCHITECTURES.stream().flatMap(a -> a.names().stream()).toList();
    }

    public static Model load(Path path) throws IOException {
        GgufFile file = GgufFile.open(path);
        try {
            return bind(file);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    /**
     * {@code m} with every matrix the forward pass multiplies in the layout {@code kernels} multiply
     * fastest ({@link Kernels#preferredLayout}: below 512 bits Q4_K_R and Q4_0_R, at 512 the 16-row layouts), converted
     * losslessly on {@code pool}'s threads (a tensor per task) into memory owned by the file, whose
     * pages of each converted matrix are then released, so resident memory stays about the file's
     * size (Q6_K_R16, the one larger layout, adds 30% of the Q6_K matrices). Returns {@code m} itself when no matrix changes. For inference only: compression and
     * writing read the file's own layout. The token embedding, read a row at a time by the scalar
     * decoders, stays as stored unless it is also the output head.
     */
    public static Model relayout(Model m, Kernels kernels, WorkerPool pool) {
        return relayout(m, kernels, pool, false);
    }

    /**
     * As {@link #relayout(Model, Kernels, WorkerPool)}; with {@code largePages} the converted matrices
     * live in 2 MiB pages where the OS lends them: decode +3–17% (Q4_0_R16 the most), but faulting
     * them in cost 1.3–3.0 s more of loading a 1.1B Q4_0 on the measured VM (docs/performance.md,
     * session 27), so for long work (bench, chat, serve, long runs).
     */
    public static Model relayout(Model m, Kernels kernels, WorkerPool pool, boolean largePages) {
        ModelWeights w = m.weights();
        List<Tensor> all = products(w);
        // A tied head is also the embedding, read a row at a time: a 16-row layout serves that too
        // (Tensor.dequantizeRow through the layout's reference, one row a token), and the head is the
        // larger use (135M Q4_0: the tied head's row decoder took 16% of decode).
        // Each matrix's layout once, on the pool: a layout sized for typical data reads the matrix to see
        // that it fits (SlicedTileIndexedEncoding.holds).
        WeightEncoding[] chosen = new WeightEncoding[all.size()];
        pool.parallelFor(all.size(), 1, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                chosen[i] = target(all.get(i), kernels);
            }
        });
        IdentityHashMap<Tensor, WeightEncoding> targets = new IdentityHashMap<>();
        for (int i = 0; i < chosen.length; i++) {
            targets.put(all.get(i), chosen[i]);
        }
        List<Tensor> changing = new ArrayList<>(new java.util.LinkedHashSet<>(all.stream()
                .filter(t -> targets.get(t) != t.encoding())
                .toList()));
        if (changing.isEmpty()) {
            return m;
        }
        // One region for every converted matrix, back to back (64-byte aligned): in large pages, a
        // region per matrix rounded each up to whole 2 MiB pages, 206 MiB more resident for tinyllama's Q4_0.
        long[] at = new long[changing.size() + 1];
        for (int i = 0; i < changing.size(); i++) {
            Tensor t = changing.get(i);
            at[i + 1] = at[i] + (targets.get(t).byteSize(t.elementCount()) + 63 & -64L);
        }
        MemorySegment region = m.file().allocate(at[changing.size()], largePages);
        Tensor[] converted = new Tensor[changing.size()];
        pool.parallelFor(changing.size(), 1, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                Tensor t = changing.get(i);
                WeightEncoding to = targets.get(t);
                converted[i] = convert(m.file(), t, to, region.asSlice(at[i], to.byteSize(t.elementCount())));
            }
        });
        IdentityHashMap<Tensor, Tensor> done = new IdentityHashMap<>();
        for (int i = 0; i < converted.length; i++) {
            done.put(changing.get(i), converted[i]);
        }
        java.util.function.UnaryOperator<Tensor> swap = t -> done.getOrDefault(t, t);
        List<LayerWeights> layers = w.layers().stream().map(l -> l.mapTensors(swap)).toList();
        Tensor output = swap.apply(w.output());
        Tensor embd = w.output() == w.tokenEmbedding() ? output : w.tokenEmbedding();
        return new Model(m.file(), m.config(), new ModelWeights(embd, layers, w.outputNorm(), output, w.ropeFreqFactors()));
    }

    /**
     * Whether {@link #relayout} would convert a matrix that {@code kernels} otherwise multiply only by its
     * scalar reference ({@link Kernels#decodesOnlyByReference}): then converting pays back within a few
     * tokens, and a short run should convert too (a 1.1B Q4_I5 model, {@code run -n 16} in its rows: 13.2 s;
     * converted, twice the tokens: 7.1 s; docs/performance.md, session 35).
     */
    public static boolean convertsForAnyRun(Model m, Kernels kernels) {
        return products(m.weights()).stream()
                .anyMatch(t -> kernels.decodesOnlyByReference(t.encoding()) && target(t, kernels) != t.encoding());
    }

    /** The matrices {@link #relayout} may convert: every layer's projections, then the head. */
    private static List<Tensor> products(ModelWeights w) {
        List<Tensor> all = new ArrayList<>();
        for (LayerWeights l : w.layers()) {
            for (Projection p : l.projections()) {
                all.addAll(p.tensors());
            }
        }
        all.add(w.output());
        return all;
    }

    private static WeightEncoding target(Tensor t, Kernels kernels) {
        WeightEncoding preferred = kernels.preferredLayout(t);
        // A row must hold whole blocks of the new layout (Q4_0_R: 64 weights; Q4_0 rows need only 32).
        // A row-grouped layout (16-row slices) needs whole groups of rows.
        return preferred.repacks(t.encoding()) && t.cols() % preferred.blockSize() == 0
                && t.rows() % preferred.rowGroup() == 0 ? preferred : t.encoding();
    }

    private static Tensor convert(GgufFile file, Tensor t, WeightEncoding to, MemorySegment dst) {
        try {
            to.repackMatrix(t.encoding(), t.data(), dst, t.rows(), t.cols());
        } catch (IllegalArgumentException corrupt) { // e.g. a block scale a layout cannot hold
            throw new ModelLoadException(t.name() + " (" + t.encoding().name() + "): " + corrupt.getMessage());
        }
        file.release(t.data()); // the file's copy is not read again: let its pages go
        return new Tensor(t.name(), to, t.ne(), dst);
    }

    public static Model bind(GgufFile file) {
        GgufMetadata md = file.metadata();
        String arch = md.optString("general.architecture")
                .orElseThrow(() -> new ModelLoadException("general.architecture is missing: not a model file?"));
        Architecture a = ARCHITECTURES.stream().filter(x -> x.names().contains(arch)).findFirst()
                .orElseThrow(() -> new ModelLoadException("unknown architecture '" + arch + "' (Sieve runs: "
                        + String.join(", ", supportedArchitectures()) + ")"));
        Tensor embd = require(file, "token_embd.weight");
        int vocab = embd.rows();
        ModelConfig c = a.config(md, arch, vocab);
        check(embd, c.dim(), vocab);
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            String p = "blk." + l + ".";
            layers.add(new LayerWeights(
                    vector(file, p + "attn_norm.weight", c.dim()),
                    projection(file, p + "attn_q", c.dim(), c.qDim()),
                    projection(file, p + "attn_k", c.dim(), c.kvDim()),
                    projection(file, p + "attn_v", c.dim(), c.kvDim()),
                    projection(file, p + "attn_output", c.qDim(), c.dim()),
                    c.block().qkvBias() ? vector(file, p + "attn_q.bias", c.qDim()) : null,
                    c.block().qkvBias() ? vector(file, p + "attn_k.bias", c.kvDim()) : null,
                    c.block().qkvBias() ? vector(file, p + "attn_v.bias", c.kvDim()) : null,
                    c.block().qkNorm() ? vector(file, p + "attn_q_norm.weight", c.headDim()) : null,
                    c.block().qkNorm() ? vector(file, p + "attn_k_norm.weight", c.headDim()) : null,
                    vector(file, p + "ffn_norm.weight", c.dim()),
                    projection(file, p + "ffn_gate", c.dim(), c.ffnDim()),
                    projection(file, p + "ffn_up", c.dim(), c.ffnDim()),
                    projection(file, p + "ffn_down", c.ffnDim(), c.dim())));
        }
        Tensor output = file.hasTensor("output.weight") ? check(require(file, "output.weight"), c.dim(), vocab) : embd;
        float[] freqs = file.hasTensor("rope_freqs.weight") ? vector(file, "rope_freqs.weight", c.ropeDim() / 2) : null;
        ModelWeights w = new ModelWeights(embd, List.copyOf(layers), vector(file, "output_norm.weight", c.dim()), output, freqs);
        return new Model(file, c, w);
    }

    /**
     * {@code base.weight}, or the low-rank pair {@code base.lr_a.weight} {@code [r, out]} and
     * {@code base.lr_b.weight} {@code [in, r]} written by {@code sieve compress} in its place.
     */
    private static Projection projection(GgufFile file, String base, int in, int out) {
        String a = base + ".lr_a.weight";
        if (!file.hasTensor(base + ".weight") && file.hasTensor(a)) {
            Tensor ta = require(file, a);
            Tensor tb = require(file, base + ".lr_b.weight");
            int r = ta.cols();
            check(ta, r, out);
            check(tb, in, r);
            return withOutliers(file, base, Projection.factored(ta, tb), in, out);
        }
        return withOutliers(file, base, Projection.dense(check(require(file, base + ".weight"), in, out)), in, out);
    }

    static final int GGML_I16 = 25;
    static final int GGML_I32 = 26;
    static final int GGML_F16 = 1;

    /**
     * Attaches the CSR side tensor {@code base.outliers.{rowptr,cols,values}} written by {@code sieve
     * compress --outliers}, if present (all three or none).
     */
    private static Projection withOutliers(GgufFile file, String base, Projection p, int in, int out) {
        String rp = base + ".outliers.rowptr";
        String cn = base + ".outliers.cols";
        String vn = base + ".outliers.values";
        boolean any = file.hasTensor(rp) || file.hasTensor(cn) || file.hasTensor(vn);
        if (!any) {
            return p;
        }
        if (!(file.hasTensor(rp) && file.hasTensor(cn) && file.hasTensor(vn))) {
            throw new ModelLoadException(base + ": outliers need all of " + rp + ", " + cn + " and " + vn);
        }
        long nRows = file.tensorInfos().get(rp).elementCount();
        long nnz = file.tensorInfos().get(cn).elementCount();
        if (nRows != out + 1L || file.tensorInfos().get(vn).elementCount() != nnz) {
            throw new ModelLoadException(base + ": outliers have " + nRows + " row pointers (expected " + (out + 1)
                    + "), " + nnz + " columns and " + file.tensorInfos().get(vn).elementCount() + " values");
        }
        var rs = file.rawTensor(rp, GGML_I32);
        var cs = file.rawTensor(cn, GGML_I16);
        var vs = file.rawTensor(vn, GGML_F16);
        int[] rowPtr = new int[out + 1];
        for (int r = 0; r <= out; r++) {
            rowPtr[r] = rs.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 4L * r);
        }
        int[] col = new int[(int) nnz];
        float[] val = new float[(int) nnz];
        var i16 = java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int k = 0; k < nnz; k++) {
            col[k] = cs.get(i16, 2L * k) & 0xFFFF; // unsigned: inputs up to 65,536 wide
            val[k] = Float.float16ToFloat(vs.get(i16, 2L * k));
        }
        try {
            return p.withOutliers(new dev.sieve.model.layers.SparseOutliers(out, in, rowPtr, col, val));
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(base + " outliers: " + e.getMessage());
        }
    }

    private static Tensor require(GgufFile file, String name) {
        if (!file.hasTensor(name)) {
            throw new ModelLoadException("tensor '" + name + "' is missing");
        }
        return file.tensor(name);
    }

    private static Tensor check(Tensor t, long in, long out) {
        long[] ne = t.ne();
        boolean ok = ne.length >= 1 && ne[0] == in && t.rows() == out
                && (ne.length == 2 || (ne.length > 2 && Arrays.stream(ne, 2, ne.length).allMatch(d -> d == 1)));
        if (!ok) {
            throw new ModelLoadException("tensor '" + t.name() + "' has shape " + Arrays.toString(ne)
                    + ", expected [" + in + ", " + out + "]");
        }
        return t;
    }

    private static float[] vector(GgufFile file, String name, int n) {
        Tensor t = require(file, name);
        if (t.elementCount() != n) {
            throw new ModelLoadException("tensor '" + name + "' has " + t.elementCount() + " values, expected " + n);
        }
        return t.toFloatArray();
    }
}
