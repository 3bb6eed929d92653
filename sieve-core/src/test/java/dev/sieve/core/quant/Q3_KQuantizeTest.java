package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Q3_K's quantizer against a second, line-by-line transcription of ggml's {@code
 * quantize_row_q3_K_ref} and {@code make_q3_quants} (byte arrays, ggml's own loop structure: the
 * running hmask counter, in-place −4 of the levels, scales packed while quantizing). No llama.cpp
 * Q3_K file of sieve-tiny exists here, so this pins Sieve's code to the published algorithm.
 */
class Q3_KQuantizeTest {

    private static int nearestInt(float v) {
        return (int) Math.rint(v); // ggml's float trick rounds half to even
    }

    private static float makeQ3(int n, int nmax, float[] x, int xo, byte[] L, int lo) {
        float max = 0, amax = 0;
        for (int i = 0; i < n; ++i) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) { amax = ax; max = x[xo + i]; }
        }
        if (amax < 1e-15f) {
            for (int i = 0; i < n; ++i) { L[lo + i] = 0; }
            return 0.f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearestInt(iscale * x[xo + i]);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lo + i] = (byte) l;
            float w = x[xo + i] * x[xo + i];
            sumlx += w * x[xo + i] * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; ++itry) {
            int nChanged = 0;
            for (int i = 0; i < n; ++i) {
                float w = x[xo + i] * x[xo + i];
                float slx = sumlx - w * x[xo + i] * L[lo + i];
                if (slx > 0) {
                    float sl2 = suml2 - w * L[lo + i] * L[lo + i];
                    int newL = nearestInt(x[xo + i] * sl2 / slx);
                    newL = Math.max(-nmax, Math.min(nmax - 1, newL));
                    if (newL != L[lo + i]) {
                        slx += w * x[xo + i] * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                            L[lo + i] = (byte) newL; sumlx = slx; suml2 = sl2;
                            ++nChanged;
                        }
                    }
                }
            }
            if (nChanged == 0) {
                break;
            }
        }
        for (int i = 0; i < n; ++i) {
            L[lo + i] += (byte) nmax;
        }
        return sumlx / suml2;
    }

    /** One 110-byte block: hmask[32], qs[64], scales[12], d (f16, little-endian). */
    private static byte[] quantizeBlock(float[] x, int xo) {
        byte[] hmask = new byte[32], qs = new byte[64], scalesB = new byte[12];
        byte[] L = new byte[256];
        float[] scales = new float[16];
        float maxScale = 0, amax = 0;
        for (int j = 0; j < 16; ++j) {
            scales[j] = makeQ3(16, 4, x, xo + 16 * j, L, 16 * j);
            float scale = Math.abs(scales[j]);
            if (scale > amax) { amax = scale; maxScale = scales[j]; }
        }
        short dBits;
        if (maxScale != 0) {
            float iscale = -32.f / maxScale;
            for (int j = 0; j < 16; ++j) {
                byte l = (byte) nearestInt(iscale * scales[j]);
                l = (byte) (Math.max(-32, Math.min(31, l)) + 32);
                if (j < 8) {
                    scalesB[j] = (byte) (l & 0xF);
                } else {
                    scalesB[j - 8] |= (byte) ((l & 0xF) << 4);
                }
                l >>= 4;
                scalesB[j % 4 + 8] |= (byte) (l << (2 * (j / 4)));
            }
            dBits = Float.floatToFloat16(1 / iscale);
        } else {
            dBits = Float.floatToFloat16(0.f);
        }
        for (int j = 0; j < 16; ++j) {
            int sc = j < 8 ? scalesB[j] & 0xF : (scalesB[j - 8] & 0xFF) >> 4;
            sc = (sc | (((scalesB[8 + j % 4] & 0xFF) >> (2 * (j / 4))) & 3) << 4) - 32;
            float d = Float.float16ToFloat(dBits) * sc;
            if (d == 0) {
                continue;
            }
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearestInt(x[xo + 16 * j + ii] / d);
                L[16 * j + ii] = (byte) (Math.max(-4, Math.min(3, l)) + 4);
            }
        }
        int m = 0;
        int hm = 1;
        for (int j = 0; j < 256; ++j) {
            if (L[j] > 3) {
                hmask[m] |= (byte) hm;
                L[j] -= 4;
            }
            if (++m == 32) {
                m = 0; hm <<= 1;
            }
        }
        for (int j = 0; j < 256; j += 128) {
            for (int l = 0; l < 32; ++l) {
                qs[j / 4 + l] = (byte) (L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
            }
        }
        byte[] out = new byte[110];
        System.arraycopy(hmask, 0, out, 0, 32);
        System.arraycopy(qs, 0, out, 32, 64);
        System.arraycopy(scalesB, 0, out, 96, 12);
        out[108] = (byte) dBits;
        out[109] = (byte) (dBits >> 8);
        return out;
    }

    @Test
    void quantizeMatchesTranscriptionOfGgmlBitForBit() {
        Random r = new Random(2024);
        int blocks = 64;
        float[] x = new float[256 * blocks];
        for (int b = 0; b < blocks; b++) {
            for (int i = 0; i < 256; i++) {
                double v = switch (b % 5) {
                    case 0 -> r.nextGaussian() * 0.02;
                    case 1 -> r.nextGaussian() * 2 + 0.3;
                    case 2 -> (i / 16) % 3 == 0 ? 0 : r.nextGaussian(); // zero sub-blocks
                    case 3 -> r.nextGaussian() * 0.01 + (i % 37 == 5 ? 0.5 : 0); // outliers
                    default -> b == 4 ? 0 : (i % 2 == 0 ? 0.125 : -0.125);
                };
                x[b * 256 + i] = (float) v;
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q = arena.allocate(Q3_KEncoding.INSTANCE.byteSize(x.length));
            Q3_KEncoding.INSTANCE.quantize(x, 0, q, 0, x.length);
            for (int b = 0; b < blocks; b++) {
                byte[] want = quantizeBlock(x, 256 * b);
                byte[] got = q.asSlice(110L * b, 110).toArray(ValueLayout.JAVA_BYTE);
                assertArrayEquals(want, got, "block " + b);
            }
        }
    }
}
