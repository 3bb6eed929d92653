package dev.sieve.core.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.kernel.panama.PanamaKernels;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Linear#applyAgain} reuses the previous call's prepared activations only where that is the
 * same computation: the same array, token count and width, and weights of the same encoding; the
 * results match a fresh {@link Linear#apply} bit for bit, in decode (1 token) and prompt (20) paths.
 */
class LinearTest {
    private static Tensor matrix(WeightEncoding e, int rows, int cols, Random rnd, Arena arena) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        Tensor t = Tensor.allocate("w", e, arena, cols, rows);
        e.quantize(v, 0, t.data(), 0, v.length);
        return t;
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static float[] fresh(Kernels k, Tensor w, float[] x, int tokens) {
        try (WorkerPool pool = new WorkerPool(2)) {
            float[] out = new float[tokens * w.rows()];
            new Linear(k, pool).apply(w, x, tokens, out);
            return out;
        }
    }

    @Test
    void applyAgainMatchesAFreshProductAndPreparesWhenTheInputOrEncodingDiffers() {
        Random rnd = new Random(5);
        int rows = 48, cols = 256;
        for (int bits : new int[] {256, 512}) {
            Kernels k = PanamaKernels.create(bits);
            try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(2)) {
                Tensor a = matrix(Q4_0Encoding.INSTANCE, rows, cols, rnd, arena);
                Tensor b = matrix(Q4_0Encoding.INSTANCE, rows, cols, rnd, arena);
                Tensor c = matrix(Q8_0Encoding.INSTANCE, rows, cols, rnd, arena);
                Linear lin = new Linear(k, pool);
                for (int tokens : new int[] {1, 20}) {
                    float[] x = gaussian(rnd, tokens * cols);
                    float[] out = new float[tokens * rows];
                    lin.apply(a, x, tokens, out);
                    lin.applyAgain(b, x, tokens, out); // same input and encoding: reused
                    assertArrayEquals(fresh(k, b, x, tokens), out, bits + " reused, tokens=" + tokens);
                    lin.applyAgain(c, x, tokens, out); // another encoding: prepared for it
                    assertArrayEquals(fresh(k, c, x, tokens), out, bits + " other encoding, tokens=" + tokens);
                    float[] y = gaussian(rnd, tokens * cols);
                    lin.apply(a, x, tokens, out);
                    lin.applyAgain(b, y, tokens, out); // another array: prepared again
                    assertArrayEquals(fresh(k, b, y, tokens), out, bits + " other input, tokens=" + tokens);
                    lin.apply(a, x, tokens, out);
                    lin.applyAgain(b, x, 1, out); // fewer tokens of the same array: prepared again
                    assertArrayEquals(fresh(k, b, x, 1), java.util.Arrays.copyOf(out, rows), bits + " one token of " + tokens);
                }
            }
        }
    }
}
