package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.F;
import static dev.sieve.kernel.panama.vec.Vec.I;
import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/** Q4_0 with int8 activations for decode (see {@link Int8Path}); float tiles for prompts. */
final class Q4_0IntKernel extends Q4_0Kernel implements Int8Path.Dot2 {
    private static final long AB = Q8_0Encoding.BLOCK_BYTES;

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

    @Override
    public void dot2i(MemorySegment w, long o0, long o1, MemorySegment a, long aOff,
            int cols, float[] res) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0;
        IntVector izero = IntVector.zero(I);
        int nb = cols / QK;
        for (int b = 0; b < nb; b++) {
            long bo = BB * b;
            long ao = aOff + AB * b;
            IntVector i0 = izero, i1 = izero;
            for (int c = 0; c < QK / 2; c += N) {
                int p = Vec.part(c);
                long at = 2 + Vec.loadAt(c);
                var xa = Vec.b2s(Vec.bytes(a, ao + at), p);
                var xb = Vec.b2s(Vec.bytes(a, ao + at + QK / 2), p);
                ByteVector v = Vec.bytes(w, o0 + bo + at);
                i0 = i0.add(Vec.s2i(Vec.b2s(lo(v), p).mul(xa).add(Vec.b2s(hi(v), p).mul(xb))));
                v = Vec.bytes(w, o1 + bo + at);
                i1 = i1.add(Vec.s2i(Vec.b2s(lo(v), p).mul(xa).add(Vec.b2s(hi(v), p).mul(xb))));
            }
            float da = Vec.scale(a, ao);
            s0 = Vec.i2f(i0).fma(FloatVector.broadcast(F, Vec.scale(w, o0 + bo) * da), s0);
            s1 = Vec.i2f(i1).fma(FloatVector.broadcast(F, Vec.scale(w, o1 + bo) * da), s1);
        }
        res[0] = s0.reduceLanes(VectorOperators.ADD);
        res[1] = s1.reduceLanes(VectorOperators.ADD);
    }
}
