package dev.sieve.kernel.panama;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;

/**
 * The matrix product for one weight encoding. {@link PanamaKernels} looks the kernel up once per
 * call by encoding instance; an encoding without one gets {@link ScalarFallback}, so new encodings
 * work before they have a fast kernel. Adding a fast kernel is one class plus one registry line.
 */
public interface EncodingKernel {

    /** The weight encoding this kernel multiplies. */
    WeightEncoding encoding();

    /** Puts {@code x} into the form {@link #matmul} reads (once per batch, single-threaded). */
    void prepare(Tensor w, Activations x);

    /** As {@link dev.sieve.core.kernel.Kernels#matmul}; called concurrently on disjoint row ranges. */
    void matmul(Tensor w, Activations x, float[] out, int outStride, int r0, int r1);
}
