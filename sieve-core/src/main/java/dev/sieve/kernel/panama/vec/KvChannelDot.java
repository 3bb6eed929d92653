package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.BL;
import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;
import static dev.sieve.kernel.panama.vec.Vec.PARTS;

import dev.sieve.core.kernel.ScalarKernels;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Scores of several query vectors against a block of keys quantized per channel (KIVI), read from
 * the codes directly. The block is channel-major (channel c's codes for all rows are consecutive), so
 * a vector of one channel's codes holds N rows: it is converted once and multiplied by a broadcast
 * query element for four query vectors at a time, each accumulating N row scores lane-wise. No
 * horizontal reduction per row, and every lane sums its channels in order with fused multiply-adds,
 * exactly as the scalar twin does. Blocks whose rows do not fill whole byte loads take the scalar
 * twin.
 */
final class KvChannelDot {
    private KvChannelDot() {}

    static void int8(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out, int outOff,
            int outStride) {
        int step = BL.length();
        if (rows % step != 0) {
            ScalarKernels.INSTANCE.channelDotInt8(x, xOff, heads, n, codes, cOff, rows, out, outOff, outStride);
            return;
        }
        for (int r0 = 0; r0 < rows; r0 += step) {
            for (int p = 0; p < PARTS; p++) {
                int h = 0;
                for (; h + 4 <= heads; h += 4) {
                    int x0 = xOff + h * n;
                    FloatVector a0 = FloatVector.zero(F);
                    FloatVector a1 = a0;
                    FloatVector a2 = a0;
                    FloatVector a3 = a0;
                    for (int c = 0; c < n; c++) {
                        FloatVector kv = (FloatVector) ByteVector.fromArray(BL, codes, cOff + c * rows + r0)
                                .convertShape(VectorOperators.B2F, F, p);
                        a0 = kv.fma(FloatVector.broadcast(F, x[x0 + c]), a0);
                        a1 = kv.fma(FloatVector.broadcast(F, x[x0 + n + c]), a1);
                        a2 = kv.fma(FloatVector.broadcast(F, x[x0 + 2 * n + c]), a2);
                        a3 = kv.fma(FloatVector.broadcast(F, x[x0 + 3 * n + c]), a3);
                    }
                    int o = outOff + h * outStride + r0 + p * N;
                    a0.intoArray(out, o);
                    a1.intoArray(out, o + outStride);
                    a2.intoArray(out, o + 2 * outStride);
                    a3.intoArray(out, o + 3 * outStride);
                }
                for (; h < heads; h++) {
                    int x0 = xOff + h * n;
                    FloatVector a = FloatVector.zero(F);
                    for (int c = 0; c < n; c++) {
                        FloatVector kv = (FloatVector) ByteVector.fromArray(BL, codes, cOff + c * rows + r0)
                                .convertShape(VectorOperators.B2F, F, p);
                        a = kv.fma(FloatVector.broadcast(F, x[x0 + c]), a);
                    }
                    a.intoArray(out, outOff + h * outStride + r0 + p * N);
                }
            }
        }
    }

    static void uint4(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out, int outOff,
            int outStride) {
        int half = rows / 2;
        int step = BL.length();
        if (rows % 2 != 0 || half % step != 0) {
            ScalarKernels.INSTANCE.channelDotUint4(x, xOff, heads, n, codes, cOff, rows, out, outOff, outStride);
            return;
        }
        for (int j0 = 0; j0 < half; j0 += step) {
            for (int hi = 0; hi < 2; hi++) {
                int shift = 4 * hi;
                for (int p = 0; p < PARTS; p++) {
                    int o0 = outOff + hi * half + j0 + p * N;
                    int h = 0;
                    for (; h + 4 <= heads; h += 4) {
                        int x0 = xOff + h * n;
                        FloatVector a0 = FloatVector.zero(F);
                        FloatVector a1 = a0;
                        FloatVector a2 = a0;
                        FloatVector a3 = a0;
                        for (int c = 0; c < n; c++) {
                            FloatVector kv = nibbles(codes, cOff + c * half + j0, shift, p);
                            a0 = kv.fma(FloatVector.broadcast(F, x[x0 + c]), a0);
                            a1 = kv.fma(FloatVector.broadcast(F, x[x0 + n + c]), a1);
                            a2 = kv.fma(FloatVector.broadcast(F, x[x0 + 2 * n + c]), a2);
                            a3 = kv.fma(FloatVector.broadcast(F, x[x0 + 3 * n + c]), a3);
                        }
                        int o = o0 + h * outStride;
                        a0.intoArray(out, o);
                        a1.intoArray(out, o + outStride);
                        a2.intoArray(out, o + 2 * outStride);
                        a3.intoArray(out, o + 3 * outStride);
                    }
                    for (; h < heads; h++) {
                        int x0 = xOff + h * n;
                        FloatVector a = FloatVector.zero(F);
                        for (int c = 0; c < n; c++) {
                            a = nibbles(codes, cOff + c * half + j0, shift, p).fma(FloatVector.broadcast(F, x[x0 + c]), a);
                        }
                        a.intoArray(out, o0 + h * outStride);
                    }
                }
            }
        }
    }

    /** Part {@code p} of the nibbles at {@code shift} (0: low, 4: high) of a byte load, as floats. */
    private static FloatVector nibbles(byte[] codes, int off, int shift, int p) {
        ByteVector b = ByteVector.fromArray(BL, codes, off);
        ByteVector c = shift == 0 ? b.and((byte) 15) : b.lanewise(VectorOperators.LSHR, 4);
        return (FloatVector) c.convertShape(VectorOperators.B2F, F, p);
    }
}
