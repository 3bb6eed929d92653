package dev.sieve.kernel.panama;

import dev.sieve.core.quant.WeightEncoding;

/** The per-encoding kernels of one width: the fast one where registered, else {@link ScalarFallback}. */
public interface KernelTable {
    EncodingKernel kernelFor(WeightEncoding e);
}
