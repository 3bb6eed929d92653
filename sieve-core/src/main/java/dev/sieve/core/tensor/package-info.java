/**
 * {@link dev.sieve.core.tensor.Tensor}: a named n-dimensional array over a {@code MemorySegment}
 * (usually a slice of the memory-mapped model file) in one {@link dev.sieve.core.quant.WeightEncoding},
 * with ggml's dimension order ({@code ne[0]} is the row length).
 */
package dev.sieve.core.tensor;
