package dev.sieve.compress.pipeline;

import dev.sieve.model.layers.LayerWeights;
import dev.sieve.model.layers.Projection;
import java.util.List;

/**
 * A block's weights decoded to floats for editing (AWQ folding, then the methods): the two norm
 * vectors, V's bias, and the seven matrices W[out][in] row-major, decoded on first use.
 */
public final class BlockFloats {
    public static final int Q = 0, K = 1, V = 2, O = 3, GATE = 4, UP = 5, DOWN = 6;
    /** GGUF names of the seven projections, in {@link LayerWeights#projections()} order. */
    public static final List<String> NAMES = List.of("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down");

    final LayerWeights source;
    public final float[] attnNorm;
    public final float[] ffnNorm;
    public final float[] bv;
    public final float[][] w = new float[7][];

    public BlockFloats(LayerWeights lw) {
        source = lw;
        attnNorm = lw.attnNorm().clone();
        ffnNorm = lw.ffnNorm().clone();
        bv = lw.bv() != null ? lw.bv().clone() : null;
    }

    public Projection projection(int role) {
        return source.projections().get(role);
    }

    public int rows(int role) {
        return projection(role).out();
    }

    public int cols(int role) {
        return projection(role).in();
    }

    /** Decodes matrix {@code role} (a factored one as its product) unless already decoded or edited. */
    public float[] load(int role) {
        if (w[role] == null) {
            Projection p = projection(role);
            if (p.isFactored()) {
                throw new IllegalStateException(p + " is already factored; compress from a dense model");
            }
            w[role] = p.dense().toFloatArray();
            if (p.outliers() != null) {
                p.outliers().addTo(w[role]); // the matrix the pair stands for
            }
        }
        return w[role];
    }

    /** Whether the matrix was edited (folded), so the original tensor no longer stands for it. */
    public boolean changed(int role) {
        return w[role] != null;
    }

    /** A block with the given projections and these (possibly folded) norms and bias. */
    public LayerWeights with(List<Projection> p) {
        LayerWeights s = source;
        return new LayerWeights(attnNorm, p.get(Q), p.get(K), p.get(V), p.get(O), s.bq(), s.bk(), bv, s.qNorm(), s.kNorm(),
                ffnNorm, p.get(GATE), p.get(UP), p.get(DOWN));
    }
}
