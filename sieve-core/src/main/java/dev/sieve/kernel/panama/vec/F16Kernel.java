package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.F16Encoding;
import dev.sieve.core.quant.Half;
import java.lang.foreign.MemorySegment;

/** F16 weights, converted in registers (decode, then multiply: see {@link FloatPathKernel#dot2}); activations rounded to half as ggml (and the reference) do. */
final class F16Kernel extends FloatPathKernel {
    F16Kernel() {
        super(F16Encoding.INSTANCE);
    }

    private static float at(MemorySegment w, long off) {
        return Vec.scale(w, off);
    }

    @Override
    void storeActivations(float[] src, MemorySegment dst, int n) {
        for (int i = 0; i < n; i++) {
            dst.set(Half.FLOAT_LE, 4L * i, Half.roundF16(src[i]));
        }
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        long base = rowOff + 2L * k0;
        int bound = F.loopBound(kc);
        int k = 0;
        for (; k < bound; k += N) {
            Vec.f16(w, base + 2L * k).intoArray(dst, dstOff + k);
        }
        for (; k < kc; k++) {
            dst[dstOff + k] = at(w, base + 2L * k);
        }
    }
}
