package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.I;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/** Q8_0 with int8 activations for decode (see {@link Int8Path}); float tiles for prompts. */
final class Q8_0IntKernel extends Q8_0Kernel implements Int8Path.Dot2 {

    @Override
    public void prepare(Tensor w, Activations x) {
        if (Int8Path.wants(x)) {
            Int8Path.prepare(x);
        } else {
            super.prepare(w, x);
        }
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        if (x.encoding() == Q8_0Encoding.INSTANCE) {
            Int8Path.matmul(this, w.data(), w.rowBytes(), x, out, outStride, r0, r1);
        } else {
            super.matmul(w, x, out, outStride, r0, r1);
        }
    }

    private static ShortVector s(MemorySegment m, long blk, int c) {
        return Vec.b2s(Vec.bytes(m, blk + 2 + Vec.loadAt(c)), Vec.part(c));
    }

    @Override
    public void dot2i(MemorySegment w, long o0, long o1, MemorySegment a, long aOff,
            int cols, float[] res) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        IntVector izero = IntVector.zero(I);
        int nb = cols / QK;
        for (int b = 0; b < nb; b++) {
            long bo = BB * b;
            long ao = aOff + BB * b;
            IntVector i0 = izero, i1 = izero;
            for (int c = 0; c < QK; c += 2 * N) {
                ShortVector xa = s(a, ao, c), xb = s(a, ao, c + N);
                i0 = i0.add(Vec.s2i(s(w, o0 + bo, c).mul(xa).add(s(w, o0 + bo, c + N).mul(xb))));
                i1 = i1.add(Vec.s2i(s(w, o1 + bo, c).mul(xa).add(s(w, o1 + bo, c + N).mul(xb))));
            }
            float da = Vec.scale(a, ao);
            s0 = Vec.i2f(i0).fma(FloatVector.broadcast(F, Vec.scale(w, o0 + bo) * da), s0);
            s1 = Vec.i2f(i1).fma(FloatVector.broadcast(F, Vec.scale(w, o1 + bo) * da), s1);
        }
        float r0 = Vec.sum(s0, res, 0), r1 = Vec.sum(s1, res, 0);
        res[0] = r0;
        res[1] = r1;
    }
}
