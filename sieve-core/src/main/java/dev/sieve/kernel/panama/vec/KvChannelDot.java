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

    /** How a byte load becomes codes: signed bytes, or the low or high nibbles. */
    private static final int INT8 = 0;
    private static final int LOW = 1;
    private static final int HIGH = 2;

    static void int8(float[] x, int xOff, int heads, int n, byte[] codes, int cOff, int rows, float[] out, int outOff,
            int outStride) {
        int step = BL.length();
        if (rows % step != 0) {
            ScalarKernels.INSTANCE.channelDotInt8(x, xOff, heads, n, codes, cOff, rows, out, outOff, outStride);
            return;
        }
        for (int r0 = 0; r0 < rows; r0 += step) {
            for (int p = 0; p < PARTS; p++) {
                rowsOfAllHeads(x, xOff, heads, n, codes, cOff + r0, rows, INT8, p, out, outOff + r0 + p * N, outStride);
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
            for (int p = 0; p < PARTS; p++) {
                rowsOfAllHeads(x, xOff, heads, n, codes, cOff + j0, half, LOW, p, out, outOff + j0 + p * N, outStride);
                rowsOfAllHeads(x, xOff, heads, n, codes, cOff + j0, half, HIGH, p, out, outOff + half + j0 + p * N,
                        outStride);
            }
        }
    }

    /**
     * N rows' scores for every head: channel c's codes are part {@code p} of the byte load at
     * {@code base + c · cStride}, decoded by {@code mode}; head h's result goes to {@code out[o + h · outStride ..]}.
     */
    private static void rowsOfAllHeads(float[] x, int xOff, int heads, int n, byte[] codes, int base, int cStride, int mode,
            int p, float[] out, int o, int outStride) {
        int h = 0;
        for (; h + 4 <= heads; h += 4) {
            int x0 = xOff + h * n;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            for (int c = 0; c < n; c++) {
                FloatVector kv = load(codes, base + c * cStride, mode, p);
                a0 = kv.fma(FloatVector.broadcast(F, x[x0 + c]), a0);
                a1 = kv.fma(FloatVector.broadcast(F, x[x0 + n + c]), a1);
                a2 = kv.fma(FloatVector.broadcast(F, x[x0 + 2 * n + c]), a2);
                a3 = kv.fma(FloatVector.broadcast(F, x[x0 + 3 * n + c]), a3);
            }
            int oh = o + h * outStride;
            a0.intoArray(out, oh);
            a1.intoArray(out, oh + outStride);
            a2.intoArray(out, oh + 2 * outStride);
            a3.intoArray(out, oh + 3 * outStride);
        }
        for (; h < heads; h++) {
            int x0 = xOff + h * n;
            FloatVector a = FloatVector.zero(F);
            for (int c = 0; c < n; c++) {
                a = load(codes, base + c * cStride, mode, p).fma(FloatVector.broadcast(F, x[x0 + c]), a);
            }
            a.intoArray(out, o + h * outStride);
        }
    }

    /** Part {@code p} of the codes in the byte load at {@code off}, as floats. */
    private static FloatVector load(byte[] codes, int off, int mode, int p) {
        ByteVector b = ByteVector.fromArray(BL, codes, off);
        if (mode == LOW) {
            b = b.and((byte) 15);
        } else if (mode == HIGH) {
            b = b.lanewise(VectorOperators.LSHR, 4);
        }
        return (FloatVector) b.convertShape(VectorOperators.B2F, F, p);
    }
}
