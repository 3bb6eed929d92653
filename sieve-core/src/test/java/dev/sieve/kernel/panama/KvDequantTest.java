package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sieve.core.kernel.Kernels;
import dev.sieve.core.kernel.ScalarKernels;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The quantized KV cache reads at every vector width against {@link ScalarKernels}, bit for bit
 * (both compute code·scale, or fma(code, scale, min)), for group sizes with and without a vector
 * path, at unaligned offsets; and the scalar twin against the formula spelled out element by element.
 */
class KvDequantTest {
    static final int[] GROUPS = {2, 8, 16, 32, 64};

    @Test
    void int8GroupsMatchTheScalarTwinAtEveryWidth() {
        Random r = new Random(1);
        for (int group : GROUPS) {
            int n = group * 5;
            byte[] codes = new byte[n + 7];
            r.nextBytes(codes);
            float[] scales = new float[8];
            for (int i = 0; i < scales.length; i++) {
                scales[i] = r.nextFloat() * 0.1f;
            }
            float[] want = new float[n + 3];
            ScalarKernels.INSTANCE.dequantizeInt8(codes, 7, scales, 2, group, want, 3, n);
            for (int i = 0; i < n; i++) {
                assertEquals(codes[7 + i] * scales[2 + i / group], want[3 + i], "scalar twin, element " + i);
            }
            for (int bits : PanamaKernelsTest.widths()) {
                Kernels k = PanamaKernels.create(bits);
                float[] got = new float[n + 3];
                k.dequantizeInt8(codes, 7, scales, 2, group, got, 3, n);
                assertArrayEquals(want, got, bits + " bits, group " + group);
            }
        }
    }

    @Test
    void uint4GroupsMatchTheScalarTwinAtEveryWidth() {
        Random r = new Random(2);
        for (int group : GROUPS) {
            int n = group * 5;
            byte[] codes = new byte[n / 2 + 5];
            r.nextBytes(codes);
            float[] scales = new float[8];
            float[] mins = new float[8];
            for (int i = 0; i < scales.length; i++) {
                scales[i] = r.nextFloat() * 0.1f;
                mins[i] = (float) r.nextGaussian();
            }
            float[] want = new float[n + 1];
            ScalarKernels.INSTANCE.dequantizeUint4(codes, 5, scales, mins, 1, group, want, 1, n);
            int half = group / 2;
            for (int i = 0; i < n; i++) {
                int g = i / group;
                int j = i % group;
                int b = codes[5 + g * half + j % half] & 0xFF;
                int code = j < half ? b & 15 : b >> 4;
                assertEquals(Math.fma((float) code, scales[1 + g], mins[1 + g]), want[1 + i], "scalar twin, element " + i);
            }
            for (int bits : PanamaKernelsTest.widths()) {
                Kernels k = PanamaKernels.create(bits);
                float[] got = new float[n + 1];
                k.dequantizeUint4(codes, 5, scales, mins, 1, group, got, 1, n);
                assertArrayEquals(want, got, bits + " bits, group " + group);
            }
        }
    }

    static final int[] ROWS = {2, 6, 8, 16, 32, 64};
    static final int[] HEADS = {1, 3, 4, 8, 9};

    /** One channel-major scoring kernel, as the tests call it. */
    interface ChannelDot {
        void apply(Kernels k, float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out,
                int outOff, int outStride);
    }

    /** The code of row {@code row}, channel {@code c}, spelled out from the layout. */
    interface Code {
        int at(byte[] codes, int cOff, int rows, int c, int row);
    }

    @Test
    void channelMajorInt8ScoresMatchTheScalarTwinAtEveryWidth() {
        checkChannelDot(3, 1, Kernels::channelDotInt8, (codes, cOff, rows, c, row) -> codes[cOff + c * rows + row]);
    }

    @Test
    void channelMajorUint4ScoresMatchTheScalarTwinAtEveryWidth() {
        checkChannelDot(4, 2, Kernels::channelDotUint4, (codes, cOff, rows, c, row) -> {
            int half = rows / 2;
            int b = codes[cOff + c * half + row % half] & 0xFF;
            return row < half ? b & 15 : b >> 4;
        });
    }

    /** The scalar twin against the layout spelled out, and every width against the scalar twin bit for bit. */
    private static void checkChannelDot(long seed, int codesPerByte, ChannelDot dot, Code code) {
        Random r = new Random(seed);
        for (int rows : ROWS) {
            for (int heads : HEADS) {
                int n = 24;
                byte[] codes = new byte[rows / codesPerByte * n + 5];
                r.nextBytes(codes);
                float[] x = gaussians(r, heads * n + 2);
                int stride = rows + 3;
                float[] want = new float[1 + heads * stride];
                dot.apply(ScalarKernels.INSTANCE, x, 2, heads, n, codes, 5, rows, want, 1, stride);
                for (int h = 0; h < heads; h++) {
                    for (int row = 0; row < rows; row++) {
                        double ref = 0;
                        for (int c = 0; c < n; c++) {
                            ref += (double) x[2 + h * n + c] * code.at(codes, 5, rows, c, row);
                        }
                        assertEquals(ref, want[1 + h * stride + row], 1e-4 * (1 + Math.abs(ref)),
                                "scalar twin, head " + h + " row " + row);
                    }
                }
                for (int bits : PanamaKernelsTest.widths()) {
                    float[] got = new float[want.length];
                    dot.apply(PanamaKernels.create(bits), x, 2, heads, n, codes, 5, rows, got, 1, stride);
                    assertArrayEquals(want, got, bits + " bits, " + rows + " rows, " + heads + " heads");
                }
            }
        }
    }

    /** The weighted sum of value rows equals axpy applied row after row, bit for bit, at every width and length. */
    @Test
    void weightedSumEqualsRowByRowAxpy() {
        Random r = new Random(5);
        List<Kernels> all = new java.util.ArrayList<>(List.of(ScalarKernels.INSTANCE));
        for (int bits : PanamaKernelsTest.widths()) {
            all.add(PanamaKernels.create(bits));
        }
        for (int n : new int[] {1, 7, 20, 64, 100, 128}) {
            int rows = 13;
            int stride = n + 5;
            float[] x = gaussians(r, 3 + rows * stride);
            float[] w = gaussians(r, rows + 2);
            float[] y0 = gaussians(r, n + 4);
            for (Kernels k : all) {
                float[] want = y0.clone();
                for (int row = 0; row < rows; row++) {
                    k.axpy(w[2 + row], x, 3 + row * stride, want, 4, n);
                }
                float[] got = y0.clone();
                k.weightedSum(w, 2, x, 3, stride, rows, got, 4, n);
                assertArrayEquals(want, got, k.name() + ", n " + n);
            }
        }
    }

    private static float[] gaussians(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }
}
