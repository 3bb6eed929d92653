package dev.sieve.kernel.panama.vec;

import dev.sieve.core.kernel.Activations;
import java.lang.foreign.MemorySegment;

/**
 * The two-row loop of the integer decode path for the 32-blocks (what ggml does: activations
 * quantized to Q8_0, products in 16-bit lanes, widened to int once per pair), which Q4_0 takes on
 * rows shorter than {@link FloatPathKernel#LONG_ROW} columns. The Vector API has no
 * VPDPBUSD/VPMADDUBSW, so this is all it can do. Prompts (≥ {@link FloatPathKernel#TILE_TOKENS}
 * tokens) take the float tiles.
 */
final class Int8Path {
    /** An integer dot product of two weight rows with one Q8_0 activation row, into {@code res[0..1]} (16 floats, the rest scratch). */
    interface Dot2 {
        void dot2i(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols, float[] res);
    }

    private static final ThreadLocal<float[]> RES = ThreadLocal.withInitial(() -> new float[16]);

    private Int8Path() {}

    static boolean wants(Activations x) {
        return x.tokens() < FloatPathKernel.TILE_TOKENS;
    }

    /** Rows [r0, r1) two at a time against every token's activations: row t of {@code a} at {@code t * ab}. */
    static void matmul(Dot2 k, MemorySegment w, long rb, MemorySegment a, long ab, Activations x, float[] out,
            int os, int r0, int r1) {
        int cols = x.cols();
        float[] res = RES.get();
        for (int r = r0; r < r1; r += 2) {
            int n = Math.min(2, r1 - r);
            long o0 = r * rb;
            long o1 = (r + n - 1) * rb;
            for (int t = 0; t < x.tokens(); t++) {
                k.dot2i(w, o0, o1, a, t * ab, cols, res);
                for (int i = 0; i < n; i++) {
                    out[t * os + r + i] = res[i];
                }
            }
        }
    }
}
