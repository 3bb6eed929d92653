package dev.sieve.kernel.panama.vec;

import dev.sieve.core.quant.F16Encoding;
import dev.sieve.core.quant.Half;
import java.lang.foreign.MemorySegment;

/**
 * F16 weights, converted a piece of a row at a time into floats by a loop C2 vectorizes (VCVTPH2PS,
 * {@link Vec#halvesToFloats}), then multiplied ({@link FloatPathKernel#dot2}): tg64 5.2 → 7.9
 * tokens/s against the Vector API conversion (tinyllama shape, docs/performance.md, session 29);
 * activations rounded to half as ggml (and the reference) do.
 */
final class F16Kernel extends FloatPathKernel {
    F16Kernel() {
        super(F16Encoding.INSTANCE);
    }

    @Override
    void storeActivations(float[] src, MemorySegment dst, int n) {
        for (int i = 0; i < n; i++) {
            dst.set(Half.FLOAT_LE, 4L * i, Half.roundF16(src[i]));
        }
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        Vec.halvesToFloats(w, rowOff + 2L * k0, dst, dstOff, kc);
    }
}
