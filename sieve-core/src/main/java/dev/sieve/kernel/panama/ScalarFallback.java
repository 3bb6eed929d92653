package dev.sieve.kernel.panama;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;

/** The reference path ({@code encoding.dotQuantized} per row) for encodings without a fast kernel. */
public final class ScalarFallback implements EncodingKernel {
    private final WeightEncoding encoding;

    public ScalarFallback(WeightEncoding encoding) {
        this.encoding = encoding;
    }

    @Override
    public WeightEncoding encoding() {
        return encoding;
    }

    @Override
    public void prepare(Tensor w, Activations x) {
        ScalarKernels.INSTANCE.prepare(w, x);
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1) {
        ScalarKernels.INSTANCE.matmul(w, x, out, outStride, r0, r1);
    }
}
