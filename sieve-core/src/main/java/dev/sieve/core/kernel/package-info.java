/**
 * The numeric kernels of a forward pass, behind one interface.
 *
 * <h2>Surface</h2>
 * <ul>
 *   <li>{@link dev.sieve.core.kernel.Kernels}: matrix products over any weight encoding (prepare the
 *       activations once per batch, then rows {@code [r0, r1)} for every token), a sparse CSR matrix's
 *       rows (the outliers of a dense-and-sparse projection), and the small vector operations of
 *       attention, normalisation and the feed-forward gate (dot, dots, expSum, swiglu, axpy,
 *       weightedSum, rmsNorm, the quantized KV cache's dequantize and channel dot products).
 *   <li>{@link dev.sieve.core.kernel.ScalarKernels}: the plain reference every fast path is tested
 *       against, encoding by encoding, through {@link dev.sieve.core.quant.WeightEncoding}'s own dot.
 *   <li>{@link dev.sieve.core.kernel.KernelProvider}: chooses the kernels once per JVM ({@code get()}:
 *       the Vector API kernels when available, else the reference) and gives the reproducible copy
 *       ({@code reproducible()}: fixed summation order, for compression and evaluation).
 *   <li>{@link dev.sieve.core.kernel.Linear}: a dense or sparse matrix product split by rows across a
 *       {@link dev.sieve.core.parallel.WorkerPool}; {@link dev.sieve.core.kernel.Activations}: a
 *       batch of activation rows with the encoded form the weights' dot product takes.
 * </ul>
 */
package dev.sieve.core.kernel;
