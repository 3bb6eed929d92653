package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;

import dev.sieve.core.quant.Half;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

/**
 * Prompt products with the tokens in the vector lanes (16 lanes only), for every encoding of the
 * float path: a panel of up to {@link #ROWS} rows × {@link #PK} columns is decoded by the encoding's
 * row decoder into a tile (row i at {@code tile[i·PK..]}), and a register kernel multiplies 8 of
 * its rows by 32 tokens at a time: per column two vectors of 16 tokens' activations and, per row,
 * the weight broadcast from the tile (a load, folded into the broadcast) feeding two FMAs. Nothing
 * is reduced across lanes, and the activations are laid out by {@link #transpose} once per matrix
 * (group g's column c: 32 tokens at {@code xt[32·(g·cols + c)..]}, tokens past the last zero), so
 * the kernel's loads need one address register. The results gather per panel in a
 * rows × tokens array and go out once at the end ({@link #writeBack}).
 *
 * <p>Why: the 6 × 4 tiles ({@code FloatPathKernel#micro6x4}) read 24 KiB of tile and 16 KiB of
 * activations per 1024-column pass and reduce 24 accumulators per tile; Q4_0_R16's kernel of this
 * shape (rows in the lanes) ran 2048 × 5632 at 128 tokens 12–18% faster than them
 * (docs/performance.md, session 27).
 */
final class Panels {
    /** Rows per panel (a multiple of 8; the last panel of a thread's range is padded with zero rows). */
    static final int ROWS = 32;
    /** Columns per panel chunk: a multiple of every block size (256 at most); 32 rows × 256 floats, 32 KiB. */
    static final int PK = 256;
    /** Tokens per group: two vectors. */
    static final int TG = 32;
    /** Half a group: one vector. */
    private static final int HALF = TG / 2;
    /** From this many tokens on (16 lanes only) prompts take the panels; property {@code sieve.panel.tokens}, for measurements. */
    static final int MIN_TOKENS = Integer.getInteger("sieve.panel.tokens", 16);
    static final boolean AVAILABLE = Vec.N == HALF;

    private Panels() {}

    /** Whether a product over {@code tokens} tokens takes the panels. */
    static boolean use(int tokens) {
        return AVAILABLE && tokens >= MIN_TOKENS;
    }

    /** Token groups of {@link #TG}. */
    static int groups(int tokens) {
        return (tokens + TG - 1) / TG;
    }

    /** Floats of {@link #transpose}'s layout. */
    static int transposedFloats(int tokens, int cols) {
        return groups(tokens) * TG * cols;
    }

    /** The rows at {@code a} (token t's column c at byte {@code 4·(t·cols + c)}) into {@code xt} in the panels' layout. */
    static void transpose(MemorySegment a, int tokens, int cols, float[] xt) {
        int whole = cols - cols % HALF;
        for (int t0 = 0; t0 < groups(tokens) * TG; t0 += HALF) { // 16 tokens (a half group) at a time
            int valid = Math.clamp(tokens - t0, 0, HALF), d = t0 / TG * TG * cols + t0 % TG;
            for (int c = 0; c < whole; c += HALF) {
                transpose16(a, 4L * ((long) t0 * cols + c), 4L * cols, valid, xt, d + TG * c, TG);
            }
            for (int c = whole; c < cols; c++) {
                for (int i = 0; i < HALF; i++) {
                    xt[d + TG * c + i] = i < valid ? a.get(Half.FLOAT_LE, 4L * ((long) (t0 + i) * cols + c)) : 0f;
                }
            }
        }
    }

    /**
     * 16 rows of 16 floats (row i at byte {@code off + i·rowBytes}, rows from {@code valid} on read as
     * zeros) stored as 16 columns: column j's 16 values at {@code dst[d + j·stride..]}. Four stages of
     * two-vector permutes (64 for 256 values); a scalar copy took 2–3 times as long.
     */
    static void transpose16(MemorySegment a, long off, long rowBytes, int valid, float[] dst, int d, int stride) {
        IntVector x0_0 = row(a, off, 0 < valid);
        IntVector x0_1 = row(a, off + 1 * rowBytes, 1 < valid);
        IntVector x0_2 = row(a, off + 2 * rowBytes, 2 < valid);
        IntVector x0_3 = row(a, off + 3 * rowBytes, 3 < valid);
        IntVector x0_4 = row(a, off + 4 * rowBytes, 4 < valid);
        IntVector x0_5 = row(a, off + 5 * rowBytes, 5 < valid);
        IntVector x0_6 = row(a, off + 6 * rowBytes, 6 < valid);
        IntVector x0_7 = row(a, off + 7 * rowBytes, 7 < valid);
        IntVector x0_8 = row(a, off + 8 * rowBytes, 8 < valid);
        IntVector x0_9 = row(a, off + 9 * rowBytes, 9 < valid);
        IntVector x0_10 = row(a, off + 10 * rowBytes, 10 < valid);
        IntVector x0_11 = row(a, off + 11 * rowBytes, 11 < valid);
        IntVector x0_12 = row(a, off + 12 * rowBytes, 12 < valid);
        IntVector x0_13 = row(a, off + 13 * rowBytes, 13 < valid);
        IntVector x0_14 = row(a, off + 14 * rowBytes, 14 < valid);
        IntVector x0_15 = row(a, off + 15 * rowBytes, 15 < valid);
        IntVector x1_0_0 = LO1.selectFrom(x0_0, x0_1), x1_1_0 = HI1.selectFrom(x0_0, x0_1);
        IntVector x1_0_1 = LO1.selectFrom(x0_2, x0_3), x1_1_1 = HI1.selectFrom(x0_2, x0_3);
        IntVector x1_0_2 = LO1.selectFrom(x0_4, x0_5), x1_1_2 = HI1.selectFrom(x0_4, x0_5);
        IntVector x1_0_3 = LO1.selectFrom(x0_6, x0_7), x1_1_3 = HI1.selectFrom(x0_6, x0_7);
        IntVector x1_0_4 = LO1.selectFrom(x0_8, x0_9), x1_1_4 = HI1.selectFrom(x0_8, x0_9);
        IntVector x1_0_5 = LO1.selectFrom(x0_10, x0_11), x1_1_5 = HI1.selectFrom(x0_10, x0_11);
        IntVector x1_0_6 = LO1.selectFrom(x0_12, x0_13), x1_1_6 = HI1.selectFrom(x0_12, x0_13);
        IntVector x1_0_7 = LO1.selectFrom(x0_14, x0_15), x1_1_7 = HI1.selectFrom(x0_14, x0_15);
        IntVector x2_0_0 = LO2.selectFrom(x1_0_0, x1_0_1), x2_1_0 = HI2.selectFrom(x1_0_0, x1_0_1);
        IntVector x2_0_1 = LO2.selectFrom(x1_0_2, x1_0_3), x2_1_1 = HI2.selectFrom(x1_0_2, x1_0_3);
        IntVector x2_0_2 = LO2.selectFrom(x1_0_4, x1_0_5), x2_1_2 = HI2.selectFrom(x1_0_4, x1_0_5);
        IntVector x2_0_3 = LO2.selectFrom(x1_0_6, x1_0_7), x2_1_3 = HI2.selectFrom(x1_0_6, x1_0_7);
        IntVector x2_2_0 = LO2.selectFrom(x1_1_0, x1_1_1), x2_3_0 = HI2.selectFrom(x1_1_0, x1_1_1);
        IntVector x2_2_1 = LO2.selectFrom(x1_1_2, x1_1_3), x2_3_1 = HI2.selectFrom(x1_1_2, x1_1_3);
        IntVector x2_2_2 = LO2.selectFrom(x1_1_4, x1_1_5), x2_3_2 = HI2.selectFrom(x1_1_4, x1_1_5);
        IntVector x2_2_3 = LO2.selectFrom(x1_1_6, x1_1_7), x2_3_3 = HI2.selectFrom(x1_1_6, x1_1_7);
        IntVector x3_0_0 = LO4.selectFrom(x2_0_0, x2_0_1), x3_1_0 = HI4.selectFrom(x2_0_0, x2_0_1);
        IntVector x3_0_1 = LO4.selectFrom(x2_0_2, x2_0_3), x3_1_1 = HI4.selectFrom(x2_0_2, x2_0_3);
        IntVector x3_2_0 = LO4.selectFrom(x2_1_0, x2_1_1), x3_3_0 = HI4.selectFrom(x2_1_0, x2_1_1);
        IntVector x3_2_1 = LO4.selectFrom(x2_1_2, x2_1_3), x3_3_1 = HI4.selectFrom(x2_1_2, x2_1_3);
        IntVector x3_4_0 = LO4.selectFrom(x2_2_0, x2_2_1), x3_5_0 = HI4.selectFrom(x2_2_0, x2_2_1);
        IntVector x3_4_1 = LO4.selectFrom(x2_2_2, x2_2_3), x3_5_1 = HI4.selectFrom(x2_2_2, x2_2_3);
        IntVector x3_6_0 = LO4.selectFrom(x2_3_0, x2_3_1), x3_7_0 = HI4.selectFrom(x2_3_0, x2_3_1);
        IntVector x3_6_1 = LO4.selectFrom(x2_3_2, x2_3_3), x3_7_1 = HI4.selectFrom(x2_3_2, x2_3_3);
        IntVector x4_0_0 = LO8.selectFrom(x3_0_0, x3_0_1), x4_1_0 = HI8.selectFrom(x3_0_0, x3_0_1);
        IntVector x4_2_0 = LO8.selectFrom(x3_1_0, x3_1_1), x4_3_0 = HI8.selectFrom(x3_1_0, x3_1_1);
        IntVector x4_4_0 = LO8.selectFrom(x3_2_0, x3_2_1), x4_5_0 = HI8.selectFrom(x3_2_0, x3_2_1);
        IntVector x4_6_0 = LO8.selectFrom(x3_3_0, x3_3_1), x4_7_0 = HI8.selectFrom(x3_3_0, x3_3_1);
        IntVector x4_8_0 = LO8.selectFrom(x3_4_0, x3_4_1), x4_9_0 = HI8.selectFrom(x3_4_0, x3_4_1);
        IntVector x4_10_0 = LO8.selectFrom(x3_5_0, x3_5_1), x4_11_0 = HI8.selectFrom(x3_5_0, x3_5_1);
        IntVector x4_12_0 = LO8.selectFrom(x3_6_0, x3_6_1), x4_13_0 = HI8.selectFrom(x3_6_0, x3_6_1);
        IntVector x4_14_0 = LO8.selectFrom(x3_7_0, x3_7_1), x4_15_0 = HI8.selectFrom(x3_7_0, x3_7_1);
        x4_0_0.reinterpretAsFloats().intoArray(dst, d);
        x4_1_0.reinterpretAsFloats().intoArray(dst, d + 1 * stride);
        x4_2_0.reinterpretAsFloats().intoArray(dst, d + 2 * stride);
        x4_3_0.reinterpretAsFloats().intoArray(dst, d + 3 * stride);
        x4_4_0.reinterpretAsFloats().intoArray(dst, d + 4 * stride);
        x4_5_0.reinterpretAsFloats().intoArray(dst, d + 5 * stride);
        x4_6_0.reinterpretAsFloats().intoArray(dst, d + 6 * stride);
        x4_7_0.reinterpretAsFloats().intoArray(dst, d + 7 * stride);
        x4_8_0.reinterpretAsFloats().intoArray(dst, d + 8 * stride);
        x4_9_0.reinterpretAsFloats().intoArray(dst, d + 9 * stride);
        x4_10_0.reinterpretAsFloats().intoArray(dst, d + 10 * stride);
        x4_11_0.reinterpretAsFloats().intoArray(dst, d + 11 * stride);
        x4_12_0.reinterpretAsFloats().intoArray(dst, d + 12 * stride);
        x4_13_0.reinterpretAsFloats().intoArray(dst, d + 13 * stride);
        x4_14_0.reinterpretAsFloats().intoArray(dst, d + 14 * stride);
        x4_15_0.reinterpretAsFloats().intoArray(dst, d + 15 * stride);
    }

    private static IntVector row(MemorySegment a, long off, boolean valid) {
        return valid ? FloatVector.fromMemorySegment(F, a, off, ByteOrder.LITTLE_ENDIAN).reinterpretAsInts() : IntVector.zero(Vec.I);
    }

    private static final IntVector LO1 = stage(1, 0), HI1 = stage(1, 8);
    private static final IntVector LO2 = stage(2, 0), HI2 = stage(2, 8);
    private static final IntVector LO4 = stage(4, 0), HI4 = stage(4, 8);
    private static final IntVector LO8 = stage(8, 0), HI8 = stage(8, 8);

    /**
     * A stage's permute: from two vectors a (indices 0–15) and b (16–31), blocks of u lanes taken in
     * turn from a and b, from lane {@code from} of each; after stages u = 1, 2, 4, 8 over pairs of
     * rows, pairs of pairs, ..., each vector holds one column of 16 rows.
     */
    private static IntVector stage(int u, int from) {
        if (!AVAILABLE) {
            return null;
        }
        int[] idx = new int[HALF];
        for (int l = 0; l < HALF; l++) {
            idx[l] = (l % (2 * u) < u ? 0 : HALF) + from + l / (2 * u) * u + l % u;
        }
        return IntVector.fromArray(Vec.I, idx, 0);
    }

    /**
     * Tile rows {@code [0, rows)} (a multiple of 8) × every token group over {@code kc} columns from
     * {@code k0}, into (first chunk) or onto {@code po}: row i's token t at {@code po[i·ps + t]}.
     */
    static void multiply(float[] tile, int rows, int kc, float[] xt, int k0, int cols, int tokens,
            float[] po, int ps, boolean first) {
        int groups = groups(tokens);
        for (int g = 0; g < groups; g++) {
            for (int i = 0; i < rows; i += 8) {
                int xo = TG * (g * cols + k0), o = i * ps + TG * g;
                if (tokens - TG * g > HALF) {
                    micro8x32(tile, i * PK, kc, xt, xo, po, o, ps, first);
                } else {
                    micro8x16(tile, i * PK, kc, xt, xo, po, o, ps, first);
                }
            }
        }
    }

    /** Rows {@code [0, rows)} of the panel at row r of the output: token t's at {@code out[t·os + r + i]}. */
    static void writeBack(float[] po, int ps, int rows, int tokens, float[] out, int os, int r) {
        for (int t = 0; t < tokens; t++) {
            for (int i = 0; i < rows; i++) {
                out[t * os + r + i] = po[i * ps + t];
            }
        }
    }

    /** Tile rows {@code w + i·PK} (i < 8) × the 32 tokens of column c at {@code xt[xo + 32·c..]}; row i's sums to {@code po[o + i·ps..]}. */
    private static void micro8x32(float[] tile, int w, int kc, float[] xt, int xo, float[] po, int o, int ps, boolean first) {
        // The sums start from the earlier chunks' (a helper adding them at the end took the vectors
        // as arguments, was not inlined, and boxed them).
        FloatVector a0 = start(po, o, first), a1 = start(po, o + ps, first), a2 = start(po, o + 2 * ps, first);
        FloatVector a3 = start(po, o + 3 * ps, first), a4 = start(po, o + 4 * ps, first), a5 = start(po, o + 5 * ps, first);
        FloatVector a6 = start(po, o + 6 * ps, first), a7 = start(po, o + 7 * ps, first);
        FloatVector b0 = start(po, o + HALF, first), b1 = start(po, o + ps + HALF, first), b2 = start(po, o + 2 * ps + HALF, first);
        FloatVector b3 = start(po, o + 3 * ps + HALF, first), b4 = start(po, o + 4 * ps + HALF, first);
        FloatVector b5 = start(po, o + 5 * ps + HALF, first), b6 = start(po, o + 6 * ps + HALF, first);
        FloatVector b7 = start(po, o + 7 * ps + HALF, first);
        for (int c = 0; c < kc; c++) {
            int x = xo + TG * c, k = w + c;
            FloatVector x0 = FloatVector.fromArray(F, xt, x), x1 = FloatVector.fromArray(F, xt, x + HALF);
            FloatVector w0 = FloatVector.broadcast(F, tile[k]);
            a0 = x0.fma(w0, a0);
            b0 = x1.fma(w0, b0);
            FloatVector w1 = FloatVector.broadcast(F, tile[k + PK]);
            a1 = x0.fma(w1, a1);
            b1 = x1.fma(w1, b1);
            FloatVector w2 = FloatVector.broadcast(F, tile[k + 2 * PK]);
            a2 = x0.fma(w2, a2);
            b2 = x1.fma(w2, b2);
            FloatVector w3 = FloatVector.broadcast(F, tile[k + 3 * PK]);
            a3 = x0.fma(w3, a3);
            b3 = x1.fma(w3, b3);
            FloatVector w4 = FloatVector.broadcast(F, tile[k + 4 * PK]);
            a4 = x0.fma(w4, a4);
            b4 = x1.fma(w4, b4);
            FloatVector w5 = FloatVector.broadcast(F, tile[k + 5 * PK]);
            a5 = x0.fma(w5, a5);
            b5 = x1.fma(w5, b5);
            FloatVector w6 = FloatVector.broadcast(F, tile[k + 6 * PK]);
            a6 = x0.fma(w6, a6);
            b6 = x1.fma(w6, b6);
            FloatVector w7 = FloatVector.broadcast(F, tile[k + 7 * PK]);
            a7 = x0.fma(w7, a7);
            b7 = x1.fma(w7, b7);
        }
        a0.intoArray(po, o);
        b0.intoArray(po, o + HALF);
        a1.intoArray(po, o + ps);
        b1.intoArray(po, o + ps + HALF);
        a2.intoArray(po, o + 2 * ps);
        b2.intoArray(po, o + 2 * ps + HALF);
        a3.intoArray(po, o + 3 * ps);
        b3.intoArray(po, o + 3 * ps + HALF);
        a4.intoArray(po, o + 4 * ps);
        b4.intoArray(po, o + 4 * ps + HALF);
        a5.intoArray(po, o + 5 * ps);
        b5.intoArray(po, o + 5 * ps + HALF);
        a6.intoArray(po, o + 6 * ps);
        b6.intoArray(po, o + 6 * ps + HALF);
        a7.intoArray(po, o + 7 * ps);
        b7.intoArray(po, o + 7 * ps + HALF);
    }

    /** {@link #micro8x32} for a last group of at most 16 tokens (one vector). */
    private static void micro8x16(float[] tile, int w, int kc, float[] xt, int xo, float[] po, int o, int ps, boolean first) {
        FloatVector a0 = start(po, o, first), a1 = start(po, o + ps, first), a2 = start(po, o + 2 * ps, first);
        FloatVector a3 = start(po, o + 3 * ps, first), a4 = start(po, o + 4 * ps, first), a5 = start(po, o + 5 * ps, first);
        FloatVector a6 = start(po, o + 6 * ps, first), a7 = start(po, o + 7 * ps, first);
        for (int c = 0; c < kc; c++) {
            int k = w + c;
            FloatVector x0 = FloatVector.fromArray(F, xt, xo + TG * c);
            a0 = x0.fma(FloatVector.broadcast(F, tile[k]), a0);
            a1 = x0.fma(FloatVector.broadcast(F, tile[k + PK]), a1);
            a2 = x0.fma(FloatVector.broadcast(F, tile[k + 2 * PK]), a2);
            a3 = x0.fma(FloatVector.broadcast(F, tile[k + 3 * PK]), a3);
            a4 = x0.fma(FloatVector.broadcast(F, tile[k + 4 * PK]), a4);
            a5 = x0.fma(FloatVector.broadcast(F, tile[k + 5 * PK]), a5);
            a6 = x0.fma(FloatVector.broadcast(F, tile[k + 6 * PK]), a6);
            a7 = x0.fma(FloatVector.broadcast(F, tile[k + 7 * PK]), a7);
        }
        a0.intoArray(po, o);
        a1.intoArray(po, o + ps);
        a2.intoArray(po, o + 2 * ps);
        a3.intoArray(po, o + 3 * ps);
        a4.intoArray(po, o + 4 * ps);
        a5.intoArray(po, o + 5 * ps);
        a6.intoArray(po, o + 6 * ps);
        a7.intoArray(po, o + 7 * ps);
    }

    private static FloatVector start(float[] po, int o, boolean first) {
        return first ? FloatVector.zero(F) : FloatVector.fromArray(F, po, o);
    }
}
