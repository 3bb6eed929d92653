package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.Half;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** F32 weights: plain float loads. */
final class F32Kernel extends FloatPathKernel {
    F32Kernel() {
        super(F32Encoding.INSTANCE);
    }

    private static float at(MemorySegment w, long off) {
        return w.get(Half.FLOAT_LE, off);
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
            long wa = 4L * k, wb = 4L * (k + N);
            p0 = Vec.f32(w, o0 + wa).fma(xa, p0);
            q0 = Vec.f32(w, o0 + wb).fma(xb, q0);
            p1 = Vec.f32(w, o1 + wa).fma(xa, p1);
            q1 = Vec.f32(w, o1 + wb).fma(xb, q1);
        }
        float s0 = Vec.sum(p0.add(q0), res, 0);
        float s1 = Vec.sum(p1.add(q1), res, 0);
        for (; k < cols; k++) {
            float x = a.get(Half.FLOAT_LE, aOff + 4L * k);
            long wo = 4L * k;
            s0 += at(w, o0 + wo) * x;
            s1 += at(w, o1 + wo) * x;
        }
        res[0] = s0;
        res[1] = s1;
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        long base = rowOff + 4L * k0;
        int bound = F.loopBound(kc);
        int k = 0;
        for (; k < bound; k += N) {
            Vec.f32(w, base + 4L * k).intoArray(dst, dstOff + k);
        }
        for (; k < kc; k++) {
            dst[dstOff + k] = at(w, base + 4L * k);
        }
    }
}
