package dev.sieve.model.layers;

import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.spec.ModelConfig;
import dev.sieve.model.spec.RopeType;

/**
 * The forward pass of a Llama-family decoder, for a batch of consecutive tokens of one sequence.
 *
 * <p>Per block (names as in the papers): {@code x += Wo · Attention(RoPE(Wq·norm(x)),
 * RoPE(Wk·norm(x)), Wv·norm(x))}, then {@code x += Wdown · (SiLU(Wgate·norm(x)) ⊙ Wup·norm(x))};
 * finally logits = {@code Wout · norm(x)}. A batch of B tokens runs every matrix product as one
 * B-token product, so each weight is streamed once per batch. Buffers are allocated once for the
 * largest batch; a forward step allocates nothing.
 */
public final class Transformer {
    private final ModelConfig c;
    private final ModelWeights w;
    private final Linear linear;
    private final Kernels k;
    private final WorkerPool pool;
    private final int maxBatch;

    // Activations for up to maxBatch tokens, token-major: x[t * dim + i].
    private final float[] x;     // residual stream          [B, dim]
    private final float[] xb;    // normalized input          [B, dim]
    private final float[] q;     // queries                   [B, heads·headDim]
    private final float[] kk;    // keys of this batch        [B, kvHeads·headDim]
    private final float[] v;     // values of this batch      [B, kvHeads·headDim]
    private final float[] att;   // attention output          [B, heads·headDim]
    private final float[] proj;  // a projection back to dim  [B, dim]
    private final float[] gate;  // SwiGLU gate               [B, ffnDim]
    private final float[] up;    // SwiGLU up                 [B, ffnDim]
    private final float[] cos;   // RoPE cos per token        [B, ropeDim/2]
    private final float[] sin;   // RoPE sin per token        [B, ropeDim/2]
    private float[] lowRank;     // B·x of a factored projection [B, rank]

    // Per-call state read by the attention task (fields, so the task lambda is created once).
    private int curLayer;
    // Where each token of the batch belongs: its sequence's cache and its absolute position.
    private final int[] tokPos;
    private final KvCache[] tokCache;
    private final WorkerPool.RangeTask attentionTask = this::attendRange;
    private LinearObserver observer;

    public Transformer(ModelConfig config, ModelWeights weights, Linear linear, int maxBatch) {
        this.c = config;
        this.w = weights;
        this.linear = linear;
        this.k = linear.kernels();
        this.pool = linear.pool();
        this.maxBatch = maxBatch;
        x = new float[maxBatch * c.dim()];
        xb = new float[maxBatch * c.dim()];
        q = new float[maxBatch * c.qDim()];
        kk = new float[maxBatch * c.kvDim()];
        v = new float[maxBatch * c.kvDim()];
        att = new float[maxBatch * c.qDim()];
        proj = new float[maxBatch * c.dim()];
        gate = new float[maxBatch * c.ffnDim()];
        up = new float[maxBatch * c.ffnDim()];
        cos = new float[maxBatch * c.ropeDim() / 2];
        tokPos = new int[maxBatch];
        tokCache = new KvCache[maxBatch];
        sin = new float[maxBatch * c.ropeDim() / 2];
        int rank = 0;
        for (LayerWeights l : weights.layers()) {
            for (Projection p : l.projections()) {
                rank = Math.max(rank, p.rank());
            }
        }
        lowRank = new float[maxBatch * rank];
    }

    public ModelConfig config() {
        return c;
    }

    public int maxBatch() {
        return maxBatch;
    }

    /** A full-precision (F32) cache. */
    public KvCache newCache(int capacity) {
        return newCache(capacity, KvEncoding.F32);
    }

    /** A cache in {@code encoding} with the default residual window. */
    public KvCache newCache(int capacity, KvEncoding encoding) {
        return newCache(capacity, encoding, KvCache.DEFAULT_RESIDUAL);
    }

    /** A cache in {@code encoding} keeping the last {@code residual} positions in full precision. */
    public KvCache newCache(int capacity, KvEncoding encoding, int residual) {
        return new KvCache(c.layers(), capacity, c.kvDim(), c.headDim(), encoding, residual, k);
    }

    /**
     * Runs {@code n} tokens ({@code tokens[off..off+n)}) at positions {@code cache.length() ..}, appends
     * their keys and values to {@code cache}, and writes the logits of the last {@code nLogits} of them
     * to {@code logits[i · vocab ..]} (i from 0). Batches larger than {@link #maxBatch()} run in chunks.
     */
    public void forward(int[] tokens, int off, int n, KvCache cache, float[] logits, int nLogits) {
        if (cache.length() + n > cache.capacity()) {
            throw new IllegalArgumentException("context full: " + cache.length() + " + " + n
                    + " tokens exceed the context of " + cache.capacity());
        }
        int firstLogit = n - nLogits;
        for (int done = 0; done < n; ) {
            int b = Math.min(maxBatch, n - done);
            int chunkFirstLogit = Math.max(0, firstLogit - done);
            forwardChunk(tokens, off + done, b, cache);
            if (chunkFirstLogit < b) {
                int outIndex = done + chunkFirstLogit - firstLogit;
                outputLogits(chunkFirstLogit, b - chunkFirstLogit, logits, outIndex * c.vocabSize());
            }
            done += b;
        }
    }

    private void forwardChunk(int[] tokens, int off, int n, KvCache cache) {
        embed(tokens, off, n, x);
        int start = cache.length();
        place(cache, start, 0, n);
        ropeTables(n);
        for (int l = 0; l < c.layers(); l++) {
            block(l, w.layers().get(l), n);
        }
        cache.extendTo(start + n);
        java.util.Arrays.fill(tokCache, 0, n, null);
    }

    /** Marks batch tokens {@code [from, from + n)} as positions {@code start..} of {@code cache}. */
    private void place(KvCache cache, int start, int from, int n) {
        for (int t = 0; t < n; t++) {
            tokPos[from + t] = start + t;
            tokCache[from + t] = cache;
        }
    }

    /** One sequence's share of a mixed batch: {@code n} new tokens {@code tokens[off..]} appended to {@code cache}. */
    public record BatchEntry(KvCache cache, int[] tokens, int off, int n) {}

    /**
     * Runs several sequences in one pass (continuous batching): every matrix product sees all
     * tokens of all entries at once, so each weight is streamed once per step for all of them; each
     * token attends only to its own sequence. Writes the logits after the last token of entry i to
     * {@code logits[i · vocab ..]}. The total of tokens must fit {@link #maxBatch()}; an entry's cache
     * must have room, and a cache may appear only once.
     */
    public void forwardBatch(java.util.List<BatchEntry> entries, float[] logits) {
        int total = 0;
        for (int ei = 0; ei < entries.size(); ei++) { // indexed: no iterator on the hot path
            BatchEntry e = entries.get(ei);
            if (e.n() < 1) {
                throw new IllegalArgumentException("a batch entry needs at least one token");
            }
            if (e.cache().length() + e.n() > e.cache().capacity()) {
                throw new IllegalArgumentException("context full: " + e.cache().length() + " + " + e.n()
                        + " tokens exceed the context of " + e.cache().capacity());
            }
            total += e.n();
        }
        if (total > maxBatch) {
            throw new IllegalArgumentException(total + " tokens exceed the batch of " + maxBatch);
        }
        int dim = c.dim();
        int t = 0;
        for (int ei = 0; ei < entries.size(); ei++) {
            BatchEntry e = entries.get(ei);
            for (int j = 0; j < t; j++) {
                if (tokCache[j] == e.cache()) {
                    throw new IllegalArgumentException("a sequence appears twice in one batch");
                }
            }
            embed(e.tokens(), e.off(), e.n(), x, t * dim);
            place(e.cache(), e.cache().length(), t, e.n());
            t += e.n();
        }
        ropeTables(total);
        for (int l = 0; l < c.layers(); l++) {
            block(l, w.layers().get(l), total);
        }
        t = 0;
        int i = 0;
        for (int ei = 0; ei < entries.size(); ei++) {
            BatchEntry e = entries.get(ei);
            e.cache().extendTo(e.cache().length() + e.n());
            t += e.n();
            k.rmsNorm(xb, i * dim, x, (t - 1) * dim, w.outputNorm(), dim, c.rmsEps());
            i++;
        }
        java.util.Arrays.fill(tokCache, 0, total, null);
        linear.apply(w.output(), xb, entries.size(), logits);
    }

    /**
     * Context shift (llama.cpp's, and StreamingLLM's sinks + window): forgets positions {@code [keep,
     * keep + discard)} of {@code cache} and moves every later position down by {@code discard} (see
     * {@link #compactCache}). The first {@code keep} positions (the attention sinks) stay.
     */
    public void shiftCache(KvCache cache, int keep, int discard) {
        int len = cache.length();
        if (keep < 0 || discard < 1 || keep + discard > len) {
            throw new IllegalArgumentException("cannot drop " + discard + " positions after " + keep + " of " + len);
        }
        int[] kept = new int[len - discard];
        for (int i = 0; i < kept.length; i++) {
            kept[i] = i < keep ? i : i + discard;
        }
        compactCache(cache, kept, kept.length);
    }

    /**
     * Keeps positions {@code kept[0 .. count)} (strictly ascending) of {@code cache} and forgets the
     * rest: {@code kept[i]} moves to position i. Keys are stored rotated by their position, and RoPE is
     * relative (q_m·k_n depends on m − n only), so a key moved down by d is rotated back by d to be
     * exactly what its token at the new position would have had; values move as they are; quantized
     * caches re-encode moved keys. The accumulated attention (H2O) moves along.
     */
    public void compactCache(KvCache cache, int[] kept, int count) {
        int len = cache.length();
        for (int i = 0; i < count; i++) {
            if (kept[i] < i || kept[i] >= len || i > 0 && kept[i] <= kept[i - 1]) {
                throw new IllegalArgumentException("kept positions must ascend within the " + len + " held");
            }
        }
        int half = c.ropeDim() / 2;
        float[] cs = new float[half];
        float[] sn = new float[half];
        float thetaScale = (float) Math.pow(c.ropeTheta(), -2.0 / c.ropeDim());
        float[] ff = w.ropeFreqFactors();
        int kvDim = c.kvDim();
        int hd = c.headDim();
        boolean neox = c.ropeType() == RopeType.NEOX;
        int first = 0; // positions below it stay where they are
        while (first < count && kept[first] == first) {
            first++;
        }
        // A layer's moved positions are all read before any is written: a write may evict a position
        // still to be read from the full-precision window (the only copy of an open per-channel key group).
        int moved = count - first;
        float[] kb = new float[moved * kvDim];
        float[] vb = new float[moved * kvDim];
        float[] kr = new float[kvDim];
        float[] vr = new float[kvDim];
        for (int l = 0; l < c.layers(); l++) {
            for (int i = first; i < count; i++) {
                cache.get(l, kept[i], kr, vr);
                System.arraycopy(kr, 0, kb, (i - first) * kvDim, kvDim);
                System.arraycopy(vr, 0, vb, (i - first) * kvDim, kvDim);
            }
            int tableShift = -1;
            for (int i = first; i < count; i++) {
                int shift = kept[i] - i;
                if (shift != tableShift) {
                    // The angles of a rotation by `shift` positions, accumulated as ropeTables accumulates them.
                    float theta = shift;
                    for (int j = 0; j < half; j++) {
                        float a = ff != null ? theta / ff[j] : theta;
                        cs[j] = (float) Math.cos(a);
                        sn[j] = (float) Math.sin(a);
                        theta *= thetaScale;
                    }
                    tableShift = shift;
                }
                int o = (i - first) * kvDim;
                for (int h = 0; h < c.kvHeads(); h++) {
                    int base = o + h * hd;
                    for (int j = 0; j < half; j++) {
                        int i0 = neox ? base + j : base + 2 * j;
                        int i1 = neox ? base + j + half : base + 2 * j + 1;
                        float a = kb[i0];
                        float b = kb[i1];
                        kb[i0] = a * cs[j] + b * sn[j]; // rotation by −angle
                        kb[i1] = b * cs[j] - a * sn[j];
                    }
                }
                cache.put(l, i, kb, o, vb, o);
            }
        }
        cache.compactAttention(kept, count);
        cache.truncate(count);
    }

    /** Looks up the embeddings of {@code n} tokens into {@code out[t * dim ..]}. */
    public void embed(int[] tokens, int off, int n, float[] out) {
        embed(tokens, off, n, out, 0);
    }

    private void embed(int[] tokens, int off, int n, float[] out, int outOff) {
        int dim = c.dim();
        for (int t = 0; t < n; t++) {
            int id = tokens[off + t];
            if (id < 0 || id >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + c.vocabSize());
            }
            w.tokenEmbedding().dequantizeRow(id, out, outOff + t * dim);
        }
    }

    /**
     * Runs block {@code l} with weights {@code lw} (which may differ from the model's, e.g. while it
     * is being compressed) on {@code n ≤ maxBatch} tokens whose residual stream is {@code xio[t · dim ..]},
     * in place, at positions from {@code cache.length()}; the cache's length is not advanced. Used by
     * calibration, which runs the model one block at a time.
     */
    public void runBlock(int l, LayerWeights lw, float[] xio, int n, KvCache cache) {
        if (n > maxBatch) {
            throw new IllegalArgumentException(n + " tokens exceed the batch of " + maxBatch);
        }
        System.arraycopy(xio, 0, x, 0, n * c.dim());
        place(cache, cache.length(), 0, n);
        ropeTables(n);
        block(l, lw, n);
        System.arraycopy(x, 0, xio, 0, n * c.dim());
        java.util.Arrays.fill(tokCache, 0, n, null);
    }

    /** Sees the input of every matrix product (for calibration statistics); null for none. */
    public void setObserver(LinearObserver observer) {
        this.observer = observer;
    }

    private void project(int layer, Projection p, float[] in, int n, float[] out) {
        project(layer, p, in, n, out, false);
    }

    /** {@code again}: {@code in} is the previous projection's input, unchanged ({@link Linear#applyAgain}). */
    private void project(int layer, Projection p, float[] in, int n, float[] out, boolean again) {
        if (observer != null) {
            observer.input(layer, p, in, n);
        }
        if (p.isFactored()) {
            // y = A·(B·x): the rank-r intermediate is the only extra buffer, grown on first need
            // (weights given to runBlock may carry ranks the model's own layers do not).
            int need = n * p.rank();
            if (lowRank.length < need) {
                lowRank = new float[maxBatch * p.rank()];
            }
            linear.apply(p.b(), in, n, lowRank);
            linear.apply(p.a(), lowRank, n, out);
        } else if (again) {
            linear.applyAgain(p.dense(), in, n, out);
        } else {
            linear.apply(p.dense(), in, n, out);
        }
        if (p.outliers() != null) {
            SparseOutliers o = p.outliers();
            linear.addSparse(o.rows(), o.cols(), o.rowPtr(), o.col(), o.values(), in, n, out);
        }
    }

    private void block(int l, LayerWeights lw, int n) {
        int dim = c.dim();
        // Attention block.
        for (int t = 0; t < n; t++) {
            k.rmsNorm(xb, t * dim, x, t * dim, lw.attnNorm(), dim, c.rmsEps());
        }
        project(l, lw.wq(), xb, n, q);
        project(l, lw.wk(), xb, n, kk, true);
        project(l, lw.wv(), xb, n, v, true);
        if (lw.bq() != null) {
            addBias(q, lw.bq(), n);
            addBias(kk, lw.bk(), n);
            addBias(v, lw.bv(), n);
        }
        if (lw.qNorm() != null) {
            headNorm(q, lw.qNorm(), n * c.heads());
            headNorm(kk, lw.kNorm(), n * c.kvHeads());
        }
        rope(q, n, c.heads());
        rope(kk, n, c.kvHeads());
        int kvDim = c.kvDim();
        for (int t = 0; t < n; t++) {
            tokCache[t].put(l, tokPos[t], kk, t * kvDim, v, t * kvDim);
        }
        curLayer = l;
        pool.parallelFor(n * c.kvHeads(), 1, attentionTask);
        project(l, lw.wo(), att, n, proj);
        for (int i = 0; i < n * dim; i++) {
            x[i] += proj[i];
        }
        // Feed-forward block (SwiGLU).
        for (int t = 0; t < n; t++) {
            k.rmsNorm(xb, t * dim, x, t * dim, lw.ffnNorm(), dim, c.rmsEps());
        }
        project(l, lw.wGate(), xb, n, gate);
        project(l, lw.wUp(), xb, n, up, true);
        k.swiglu(gate, up, 0, n * c.ffnDim()); // gate = SiLU(gate) ⊙ up
        project(l, lw.wDown(), gate, n, proj);
        for (int i = 0; i < n * dim; i++) {
            x[i] += proj[i];
        }
    }

    /** Final norm and LM head for tokens {@code [from, from + count)} of the last chunk. */
    private void outputLogits(int from, int count, float[] logits, int logitsOff) {
        int dim = c.dim();
        for (int t = 0; t < count; t++) {
            k.rmsNorm(xb, t * dim, x, (from + t) * dim, w.outputNorm(), dim, c.rmsEps());
        }
        if (logitsOff == 0) {
            linear.apply(w.output(), xb, count, logits);
        } else {
            // Linear writes from index 0; chunked prompts with many logits land via a copy.
            float[] tmp = new float[count * c.vocabSize()];
            linear.apply(w.output(), xb, count, tmp);
            System.arraycopy(tmp, 0, logits, logitsOff, tmp.length);
        }
    }

    private void addBias(float[] y, float[] bias, int n) {
        int d = bias.length;
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < d; i++) {
                y[t * d + i] += bias[i];
            }
        }
    }

    /** RMSNorm of each head of {@code y} ({@code count} heads of headDim) with weight {@code g}. */
    private void headNorm(float[] y, float[] g, int count) {
        int hd = c.headDim();
        for (int h = 0; h < count; h++) {
            k.rmsNorm(y, h * hd, y, h * hd, g, hd, c.rmsEps());
        }
    }

    /**
     * cos/sin of each token's rotation angles. Like ggml, the angle of pair i is {@code pos · θ^i}
     * with {@code θ = base^(-2/ropeDim)} accumulated in float, divided by Llama 3.1's frequency
     * factor when the model has them, so positions match llama.cpp bit for bit where possible.
     */
    private void ropeTables(int n) {
        int half = c.ropeDim() / 2;
        float thetaScale = (float) Math.pow(c.ropeTheta(), -2.0 / c.ropeDim());
        float[] ff = w.ropeFreqFactors();
        for (int t = 0; t < n; t++) {
            float theta = tokPos[t];
            for (int i = 0; i < half; i++) {
                float a = ff != null ? theta / ff[i] : theta;
                cos[t * half + i] = (float) Math.cos(a);
                sin[t * half + i] = (float) Math.sin(a);
                theta *= thetaScale;
            }
        }
    }

    private void rope(float[] y, int n, int heads) {
        int hd = c.headDim();
        int half = c.ropeDim() / 2;
        boolean neox = c.ropeType() == RopeType.NEOX;
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * hd;
                for (int i = 0; i < half; i++) {
                    int i0 = neox ? base + i : base + 2 * i;
                    int i1 = neox ? base + i + half : base + 2 * i + 1;
                    float cs = cos[t * half + i];
                    float sn = sin[t * half + i];
                    float a = y[i0];
                    float b = y[i1];
                    y[i0] = a * cs - b * sn;
                    y[i1] = a * sn + b * cs;
                }
            }
        }
    }

    /** Positions read from the cache at a time: a quantized chunk is decoded once into a 16 KiB-ish scratch. */
    private static final int ATTENTION_CHUNK = 64;

    /** One attention thread's buffers, grown to the longest context seen and then reused. */
    private static final class AttentionScratch {
        float[] scores = new float[0];
        float[] sums = new float[0];
        final KvCache.Rows rows = new KvCache.Rows();
    }

    private final ThreadLocal<AttentionScratch> attentionScratch = ThreadLocal.withInitial(AttentionScratch::new);

    /**
     * Causal attention for (token, key/value head) pairs {@code [from, to)}: all query heads that share
     * a key/value head (GQA) are served by one pass over the cache, in chunks of consecutive positions,
     * so each chunk is read (and, for a quantized cache, dequantized) once for all of them. Scores
     * first, then the softmax, then the weighted sum of values, normalized at the end.
     */
    private void attendRange(int from, int to) {
        int hd = c.headDim();
        int heads = c.heads();
        int kvHeads = c.kvHeads();
        int group = heads / kvHeads;
        float scale = (float) (1.0 / Math.sqrt(hd));
        AttentionScratch sc = attentionScratch.get();
        KvCache.Rows rows = sc.rows;
        int l = curLayer;

        for (int pair = from; pair < to; pair++) {
            int t = pair / kvHeads;
            int kvh = pair % kvHeads;
            int kvOff = kvh * hd;
            int len = tokPos[t] + 1; // causal: positions 0..tokPos[t] of this token's sequence
            KvCache cache = tokCache[t];
            int q0 = (t * heads + kvh * group) * hd; // the group's first query head
            if (sc.sums.length < group) {
                sc.sums = new float[group];
            }
            if (sc.scores.length < group * len) {
                sc.scores = new float[Math.max(group * len, 2 * sc.scores.length)];
            }
            float[] s = sc.scores;
            for (int p = 0; p < len; ) {
                int n = Math.min(Math.min(len - p, ATTENTION_CHUNK), cache.contiguous(p));
                cache.keyScores(l, p, n, kvOff, hd, q, q0, group, s, p, len, rows);
                p += n;
            }
            for (int g = 0; g < group; g++) {
                int b = g * len;
                float max = Float.NEGATIVE_INFINITY;
                for (int p = 0; p < len; p++) {
                    s[b + p] *= scale;
                    max = Math.max(max, s[b + p]);
                }
                float sum = k.expSum(s, b, len, max);
                sc.sums[g] = sum;
                java.util.Arrays.fill(att, q0 + g * hd, q0 + (g + 1) * hd, 0f);
                if (cache.tracksAttention()) {
                    cache.addAttention(s, b, len, 1f / sum);
                }
            }
            for (int p = 0; p < len; ) {
                int n = Math.min(Math.min(len - p, ATTENTION_CHUNK), cache.contiguous(p));
                cache.readValues(l, p, n, kvOff, hd, rows);
                float[] d = rows.data();
                for (int g = 0; g < group; g++) {
                    k.weightedSum(s, g * len + p, d, rows.offset(), rows.stride(), n, att, q0 + g * hd, hd);
                }
                p += n;
            }
            for (int g = 0; g < group; g++) {
                float inv = 1f / sc.sums[g];
                int o = q0 + g * hd;
                for (int i = 0; i < hd; i++) {
                    att[o + i] *= inv;
                }
            }
        }
    }
}
