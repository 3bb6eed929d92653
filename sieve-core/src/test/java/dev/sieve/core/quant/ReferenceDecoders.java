package dev.sieve.core.quant;

/**
 * Plain decoders written from ggml's published block layouts ({@code ggml-common.h}) and its
 * {@code dequantize_row_*} loops, independently of the encodings under test: they read a byte
 * array, use ggml's loop shapes and its packed-scale tricks (the encodings index per weight), and
 * keep ggml's float operation order so results can be compared bit for bit.
 */
final class ReferenceDecoders {
    private ReferenceDecoders() {}

    /** Decodes one block. */
    interface Decoder {
        float[] decode(byte[] b);
    }

    static int u8(byte[] b, int i) {
        return b[i] & 0xFF;
    }

    static int le16(byte[] b, int i) {
        return (b[i] & 0xFF) | (b[i + 1] & 0xFF) << 8;
    }

    static int le32(byte[] b, int i) {
        return le16(b, i) | le16(b, i + 2) << 16;
    }

    static float f16(byte[] b, int i) {
        return Float.float16ToFloat((short) le16(b, i));
    }

    static float f32(byte[] b, int i) {
        return Float.intBitsToFloat(le32(b, i));
    }

    static float[] f32(byte[] b) {
        return new float[] {f32(b, 0)};
    }

    static float[] f16(byte[] b) {
        return new float[] {f16(b, 0)};
    }

    static float[] bf16(byte[] b) {
        return new float[] {Float.intBitsToFloat(le16(b, 0) << 16)};
    }

    /** Q8_0 (qsOffset 2) and Q8_1 (qsOffset 4): d, [s], int8 qs[32]. */
    static float[] q8(byte[] b, int qsOffset) {
        float d = f16(b, 0);
        float[] y = new float[32];
        for (int j = 0; j < 32; j++) {
            y[j] = b[qsOffset + j] * d;
        }
        return y;
    }

    static float[] q4_0(byte[] b) {
        float d = f16(b, 0);
        float[] y = new float[32];
        for (int j = 0; j < 16; j++) {
            y[j] = ((u8(b, 2 + j) & 0xF) - 8) * d;
            y[j + 16] = ((u8(b, 2 + j) >> 4) - 8) * d;
        }
        return y;
    }

    /**
     * Sieve's Q4_0_R (40 bytes per 64): two f32 scales, then the two Q4_0 blocks' 16 nibble bytes
     * each (byte j: weight j low, j + 16 high; the second block's weights 32 + …).
     */
    static float[] q4_0_R(byte[] b) {
        float[] y = new float[64];
        for (int h = 0; h < 2; h++) {
            float d = f32(b, 4 * h);
            for (int j = 0; j < 16; j++) {
                int q = u8(b, 8 + 16 * h + j);
                y[32 * h + j] = ((q & 0xF) - 8) * d;
                y[32 * h + j + 16] = ((q >> 4) - 8) * d;
            }
        }
        return y;
    }

    static float[] q4_1(byte[] b) {
        float d = f16(b, 0);
        float m = f16(b, 2);
        float[] y = new float[32];
        for (int j = 0; j < 16; j++) {
            y[j] = (u8(b, 4 + j) & 0xF) * d + m;
            y[j + 16] = (u8(b, 4 + j) >> 4) * d + m;
        }
        return y;
    }

    /** Q5_0 and Q5_1: the fifth bits sit in a little-endian uint32, bit j for weight j. */
    static float[] q5(byte[] b, boolean withMin) {
        float d = f16(b, 0);
        float m = withMin ? f16(b, 2) : 0f;
        int qhAt = withMin ? 4 : 2;
        int qh = le32(b, qhAt);
        float[] y = new float[32];
        for (int j = 0; j < 16; j++) {
            int xh0 = ((qh >>> j) << 4) & 0x10;
            int xh1 = (qh >>> (j + 12)) & 0x10;
            int x0 = (u8(b, qhAt + 4 + j) & 0xF) | xh0;
            int x1 = (u8(b, qhAt + 4 + j) >> 4) | xh1;
            if (withMin) {
                y[j] = x0 * d + m;
                y[j + 16] = x1 * d + m;
            } else {
                y[j] = (x0 - 16) * d;
                y[j + 16] = (x1 - 16) * d;
            }
        }
        return y;
    }

    static float[] q2_K(byte[] b) {
        float d = f16(b, 80);
        float min = f16(b, 82);
        float[] y = new float[256];
        int out = 0;
        int is = 0;
        for (int n = 0; n < 2; n++) {
            int q = 16 + 32 * n;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    int sc = u8(b, is++);
                    float dl = d * (sc & 0xF);
                    float ml = min * (sc >> 4);
                    for (int l = 0; l < 16; l++) {
                        y[out++] = dl * ((u8(b, q + 16 * half + l) >> shift) & 3) - ml;
                    }
                }
            }
        }
        return y;
    }

    /** Q3_K, with ggml's 32-bit mask trick to unpack the sixteen 6-bit scales. */
    static float[] q3_K(byte[] b) {
        float dAll = f16(b, 108);
        int[] aux = {le32(b, 96), le32(b, 100), le32(b, 104), 0};
        int kmask1 = 0x03030303;
        int kmask2 = 0x0f0f0f0f;
        int tmp = aux[2];
        aux[2] = ((aux[0] >>> 4) & kmask2) | (((tmp >>> 4) & kmask1) << 4);
        aux[3] = ((aux[1] >>> 4) & kmask2) | (((tmp >>> 6) & kmask1) << 4);
        aux[0] = (aux[0] & kmask2) | ((tmp & kmask1) << 4);
        aux[1] = (aux[1] & kmask2) | (((tmp >>> 2) & kmask1) << 4);
        int[] scales = new int[16];
        for (int i = 0; i < 16; i++) {
            scales[i] = (aux[i / 4] >>> (8 * (i % 4))) & 0xFF;
        }
        float[] y = new float[256];
        int out = 0;
        int is = 0;
        int m = 1;
        for (int n = 0; n < 2; n++) {
            int q = 32 + 32 * n;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    float dl = dAll * (scales[is++] - 32);
                    for (int l = 0; l < 16; l++) {
                        int k = 16 * half + l;
                        int low = (u8(b, q + k) >> shift) & 3;
                        y[out++] = dl * (low - ((u8(b, k) & m) != 0 ? 0 : 4));
                    }
                }
                m <<= 1;
            }
        }
        return y;
    }

    /**
     * The eight 6-bit scales (result[0..7]) and mins (result[8..15]) of Q4_K/Q5_K, unpacked with
     * the 32-bit mask sequence of ggml's SIMD dot products rather than get_scale_min_k4.
     */
    static int[] scalesK4(byte[] b, int at) {
        int[] u = {le32(b, at), le32(b, at + 4), le32(b, at + 8), 0};
        int kmask1 = 0x3f3f3f3f;
        int kmask2 = 0x0f0f0f0f;
        int kmask3 = 0x03030303;
        u[3] = ((u[2] >>> 4) & kmask2) | (((u[1] >>> 6) & kmask3) << 4);
        int uaux = u[1] & kmask1;
        u[1] = (u[2] & kmask2) | (((u[0] >>> 6) & kmask3) << 4);
        u[2] = uaux;
        u[0] &= kmask1;
        int[] r = new int[16];
        for (int i = 0; i < 16; i++) {
            r[i] = (u[i / 4] >>> (8 * (i % 4))) & 0xFF;
        }
        return r;
    }

    static float[] q4_K(byte[] b) {
        float d = f16(b, 0);
        float min = f16(b, 2);
        int[] sm = scalesK4(b, 4);
        float[] y = new float[256];
        int out = 0;
        for (int c = 0; c < 4; c++) {
            int q = 16 + 32 * c;
            float d1 = d * sm[2 * c];
            float m1 = min * sm[8 + 2 * c];
            float d2 = d * sm[2 * c + 1];
            float m2 = min * sm[8 + 2 * c + 1];
            for (int l = 0; l < 32; l++) {
                y[out++] = d1 * (u8(b, q + l) & 0xF) - m1;
            }
            for (int l = 0; l < 32; l++) {
                y[out++] = d2 * (u8(b, q + l) >> 4) - m2;
            }
        }
        return y;
    }

    /**
     * Sieve's Q4_K_R (148 bytes): d, dmin (f16), eight scale bytes, eight min bytes, then per
     * sub-block j 16 bytes whose low nibbles are weights 32j..32j+15 and high nibbles 32j+16..32j+31.
     */
    static float[] q4_K_R(byte[] b) {
        float d = f16(b, 0);
        float min = f16(b, 2);
        float[] y = new float[256];
        for (int j = 0; j < 8; j++) {
            float dl = d * u8(b, 4 + j);
            float ml = min * u8(b, 12 + j);
            for (int i = 0; i < 16; i++) {
                int q = u8(b, 20 + 16 * j + i);
                y[32 * j + i] = dl * (q & 0xF) - ml;
                y[32 * j + 16 + i] = dl * (q >> 4) - ml;
            }
        }
        return y;
    }

    static float[] q5_K(byte[] b) {
        float d = f16(b, 0);
        float min = f16(b, 2);
        int[] sm = scalesK4(b, 4);
        float[] y = new float[256];
        int out = 0;
        int u1 = 1;
        int u2 = 2;
        for (int c = 0; c < 4; c++) {
            int ql = 48 + 32 * c;
            float d1 = d * sm[2 * c];
            float m1 = min * sm[8 + 2 * c];
            float d2 = d * sm[2 * c + 1];
            float m2 = min * sm[8 + 2 * c + 1];
            for (int l = 0; l < 32; l++) {
                y[out++] = d1 * ((u8(b, ql + l) & 0xF) + ((u8(b, 16 + l) & u1) != 0 ? 16 : 0)) - m1;
            }
            for (int l = 0; l < 32; l++) {
                y[out++] = d2 * ((u8(b, ql + l) >> 4) + ((u8(b, 16 + l) & u2) != 0 ? 16 : 0)) - m2;
            }
            u1 <<= 2;
            u2 <<= 2;
        }
        return y;
    }

    static float[] q6_K(byte[] b) {
        float d = f16(b, 208);
        float[] y = new float[256];
        for (int n = 0; n < 2; n++) {
            int ql = 64 * n;
            int qh = 128 + 32 * n;
            int sc = 192 + 8 * n;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int h = u8(b, qh + l);
                int q1 = ((u8(b, ql + l) & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((u8(b, ql + l + 32) & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = ((u8(b, ql + l) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = ((u8(b, ql + l + 32) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                y[128 * n + l] = d * b[sc + is] * q1;
                y[128 * n + l + 32] = d * b[sc + is + 2] * q2;
                y[128 * n + l + 64] = d * b[sc + is + 4] * q3;
                y[128 * n + l + 96] = d * b[sc + is + 6] * q4;
            }
        }
        return y;
    }

    static float[] q8_K(byte[] b) {
        float d = f32(b, 0);
        float[] y = new float[256];
        for (int j = 0; j < 256; j++) {
            y[j] = d * b[4 + j];
        }
        return y;
    }
}
