package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.BF16Encoding;
import dev.sieve.core.quant.Half;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** BF16 weights (a shift in registers); activations rounded to bfloat16 as the reference does. */
final class BF16Kernel extends FloatPathKernel {
    BF16Kernel() {
        super(BF16Encoding.INSTANCE);
    }

    private static float at(MemorySegment w, long off) {
        return Half.bf16(w, off);
    }

    @Override
    void storeActivations(float[] src, MemorySegment dst, int n) {
        for (int i = 0; i < n; i++) {
            dst.set(Half.FLOAT_LE, 4L * i, Float.intBitsToFloat(Half.toBf16(src[i]) << 16));
        }
    }

    // Two accumulators per row hide the FMA latency; four rows share each activation load.
    @Override
    void dot2(MemorySegment w, long o0, long o1, MemorySegment a, long aOff, int cols,
            float[] res) {
        FloatVector p0 = FloatVector.zero(F), p1 = p0, q0 = p0, q1 = p0;
        int bound = cols - cols % (2 * N);
        int k = 0;
        for (; k < bound; k += 2 * N) {
            long xo = aOff + 4L * k;
            FloatVector xa = Vec.f32(a, xo);
            FloatVector xb = Vec.f32(a, xo + 4L * N);
            long wa = 2L * k, wb = 2L * (k + N);
            p0 = Vec.bf16(w, o0 + wa).fma(xa, p0);
            q0 = Vec.bf16(w, o0 + wb).fma(xb, q0);
            p1 = Vec.bf16(w, o1 + wa).fma(xa, p1);
            q1 = Vec.bf16(w, o1 + wb).fma(xb, q1);
        }
        float s0 = Vec.sum(p0.add(q0), res, 0);
        float s1 = Vec.sum(p1.add(q1), res, 0);
        for (; k < cols; k++) {
            float x = a.get(Half.FLOAT_LE, aOff + 4L * k);
            long wo = 2L * k;
            s0 += at(w, o0 + wo) * x;
            s1 += at(w, o1 + wo) * x;
        }
        res[0] = s0;
        res[1] = s1;
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        long base = rowOff + 2L * k0;
        int bound = F.loopBound(kc);
        int k = 0;
        for (; k < bound; k += N) {
            Vec.bf16(w, base + 2L * k).intoArray(dst, dstOff + k);
        }
        for (; k < kc; k++) {
            dst[dstOff + k] = at(w, base + 2L * k);
        }
    }
}
