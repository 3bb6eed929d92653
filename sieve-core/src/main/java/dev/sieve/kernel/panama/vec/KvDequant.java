package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.BL;
import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;
import static dev.sieve.kernel.panama.vec.Vec.PARTS;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Quantized KV cache groups to floats (the reads behind {@code KvStore}): 8-bit symmetric codes and
 * 4-bit asymmetric codes whose byte j holds elements j and j + group/2 of its group, so one byte
 * load unpacks, by an AND and a shift, into two runs of consecutive floats. Groups too small for a
 * whole byte load ({@link Vec#BL} bytes) take the scalar loop, which computes the same values.
 */
final class KvDequant {
    private KvDequant() {}

    static void int8(byte[] codes, int cOff, float[] scales, int sOff, int group, float[] out, int outOff, int n) {
        int step = BL.length();
        for (int g = 0; g < n / group; g++) {
            float scale = scales[sOff + g];
            int base = g * group;
            int j = 0;
            if (group % step == 0) {
                FloatVector s = FloatVector.broadcast(F, scale);
                for (; j < group; j += step) {
                    ByteVector b = ByteVector.fromArray(BL, codes, cOff + base + j);
                    for (int p = 0; p < PARTS; p++) {
                        ((FloatVector) b.convertShape(VectorOperators.B2F, F, p)).mul(s)
                                .intoArray(out, outOff + base + j + p * N);
                    }
                }
            }
            for (; j < group; j++) {
                out[outOff + base + j] = codes[cOff + base + j] * scale;
            }
        }
    }

    static void uint4(byte[] codes, int cOff, float[] scales, float[] mins, int sOff, int group, float[] out, int outOff,
            int n) {
        int half = group / 2;
        int step = BL.length();
        for (int g = 0; g < n / group; g++) {
            float scale = scales[sOff + g];
            float min = mins[sOff + g];
            int cb = cOff + g * half;
            int ob = outOff + g * group;
            int j = 0;
            if (half % step == 0) {
                FloatVector s = FloatVector.broadcast(F, scale);
                FloatVector m = FloatVector.broadcast(F, min);
                for (; j < half; j += step) {
                    ByteVector b = ByteVector.fromArray(BL, codes, cb + j);
                    ByteVector lo = b.and((byte) 15);
                    ByteVector hi = b.lanewise(VectorOperators.LSHR, 4);
                    for (int p = 0; p < PARTS; p++) {
                        ((FloatVector) lo.convertShape(VectorOperators.B2F, F, p)).fma(s, m)
                                .intoArray(out, ob + j + p * N);
                        ((FloatVector) hi.convertShape(VectorOperators.B2F, F, p)).fma(s, m)
                                .intoArray(out, ob + half + j + p * N);
                    }
                }
            }
            for (; j < half; j++) {
                int b = codes[cb + j];
                out[ob + j] = Math.fma((float) (b & 15), scale, min);
                out[ob + half + j] = Math.fma((float) ((b >> 4) & 15), scale, min);
            }
        }
    }
}
