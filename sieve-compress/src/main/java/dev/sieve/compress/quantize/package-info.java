/**
 * Weight quantization of one linear layer W[out][in] (row-major {@code float[]}), onto a
 * {@link dev.sieve.core.quant.BlockGrid}: an encoding's grid (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K), so
 * the result encodes to a standard GGUF tensor, or a {@link dev.sieve.compress.quantize.UniformGrid}
 * (b-bit, group g, symmetric or not) for experiments.
 *
 * <ul>
 *   <li>{@link dev.sieve.compress.quantize.RtnQuantizer}: round to nearest (bit-identical to the
 *       encoding's reference quantizer through its grid);
 *   <li>{@link dev.sieve.compress.quantize.GptqQuantizer}: GPTQ with damping, lazy batches,
 *       optional act-order with static groups;
 *   <li>{@link dev.sieve.compress.quantize.AwqScaler}: AWQ per-channel scale search; the scales
 *       must be folded into the preceding norm by the caller;
 *   <li>{@link dev.sieve.compress.quantize.OutlierSplitter}: dense-and-sparse split with a CSR
 *       f16 side tensor ({@link dev.sieve.compress.quantize.SparseOutliers}).
 * </ul>
 *
 * Results are {@link dev.sieve.compress.quantize.QuantizedWeights}: values on the grid, the fitted
 * blocks, and {@code encode()} to the tensor bytes.
 */
package dev.sieve.compress.quantize;
