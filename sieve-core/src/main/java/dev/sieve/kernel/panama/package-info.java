/**
 * Vector API ({@code jdk.incubator.vector}) kernels: the fast {@link dev.sieve.core.kernel.Kernels}.
 *
 * <h2>Surface</h2>
 * <ul>
 *   <li>{@link dev.sieve.kernel.panama.PanamaKernels#create(int)}: the kernels at 128, 256 or 512
 *       bits ({@code bits <= 0}: the preferred species). {@code KernelProvider} calls it by
 *       reflection. {@link dev.sieve.kernel.panama.PanamaKernels#create(int, boolean)} also selects
 *       the int8-activation decode path for Q8_0 at 512 bits (for measurement; below 512 bits it is
 *       the default). Q4_0, Q4_0_R, Q4_K_R and Q8_0 decode with int8 activations below 512 bits.
 *       {@link dev.sieve.kernel.panama.PanamaKernels#create(int, boolean, boolean)} with {@code
 *       exact} gives the reproducible copy ({@code KernelProvider.reproducible()}: compress, eval),
 *       whose lane sums have one fixed order in every execution mode (docs/architecture.md).
 *   <li>{@link dev.sieve.kernel.panama.CpuFlags}: the CPU's feature flags, read once, for the choices
 *       that need an instruction the Vector API compiles to only where it exists (bitmap types' 16-row
 *       layout and expand paths: VPEXPANDB).
 *   <li>{@link dev.sieve.kernel.panama.EncodingKernel}: the matrix product for one encoding. The
 *       registry ({@code vec.VecKernels.make}) maps encoding instances to kernels, each made the first
 *       time a matrix of its encoding is multiplied (made up front, the ~3,000 took 0.32 s of every
 *       start); every encoding without one gets {@link dev.sieve.kernel.panama.ScalarFallback} (the
 *       reference {@code dotQuantized} per row), so new encodings work, slowly, as soon as they are
 *       registered in {@code WeightEncodings}. A fast kernel for a new encoding is one class in {@code
 *       vec} (usually extending {@code FloatPathKernel} with a {@code decode} and, where it pays, a
 *       fused {@code dot2}) plus one line in {@code make}.
 * </ul>
 *
 * <h2>How the arithmetic is organised</h2>
 * <ul>
 *   <li>All species-dependent code is in {@code dev.sieve.kernel.panama.vec}, written once against
 *       {@code Vec.F} ({@code static final}). {@link dev.sieve.kernel.panama.WidthLoader} loads a
 *       copy of that package per width (and per lane-sum order, {@code Vec.EXACT}), so each width
 *       is compiled by C2 with a constant species (required for intrinsification) and all widths
 *       can coexist in one JVM.
 *   <li>Activations: {@code prepare} stores the batch as floats, rounded as the reference rounds
 *       them (F16: to half; BF16: to bfloat16; encodings whose activations are Q8_0, as ggml's
 *       Q4_0 and Q8_0: to the values of their Q8_0 blocks, so the float tiles and the 16-bit decode
 *       path multiply the same activations; the K-quants: not at all).
 *   <li>Decode (fewer than 4 tokens): fused decoders stream two weight rows at a time and FMA the
 *       decoded vectors straight into float accumulators (memory-bound for F32; decode-bound for
 *       the narrower encodings on AVX2). Below 512 bits Q4_0, Q8_0 and the repacked Q4_0_R and
 *       Q4_K_R instead multiply in 16-bit lanes against Q8_0 activations laid out by {@code
 *       vec.Int16Activations}, loading their bytes as shorts without widening where the layout allows
 *       (Q8_0: even and odd bytes split by shifts; Q4_0_R, Q4_K_R: four nibbles per lane; session 20,
 *       1.2-1.4× what the widening decoders did per thread); at 512 bits Q4_0_R16, Q4_K_R16 and Q8_0_R16 (16
 *       rows interleaved, one row per lane) multiply 64-byte loads of 16 rows' bytes in 16-bit lanes
 *       against the activations laid out once as 16-bit column patterns;
 *       Q6_K (and any encoding with per-group offsets) gets per-group activation sums at prepare
 *       time and decodes each packed byte once for all the quarters it serves. Helpers too big for
 *       C2 to inline add into a per-thread float[] instead of returning vectors (which would box).
 *   <li>Prompt (4 tokens or more): per 1024-column chunk and 4-row block, the weights are decoded
 *       once into a per-thread float tile, then a 4-row × 4-token register kernel (16
 *       accumulators) runs over it, so decoding is amortised over the batch. At 512 bits, from 16
 *       tokens, {@code vec.Panels} instead: 32-row panels decoded by the same row decoders, 8 rows ×
 *       32 tokens per register pass with the tokens in the lanes (activations transposed once per
 *       product); the 16-row sliced layouts decode 256-column chunks of 32 rows to floats and run
 *       32 rows × 8 tokens with the rows in the lanes ({@code vec.SlicedKernel#decoded}; the
 *       indexed sparse types from N = 8). Sparse bitmap encodings at most 20% dense instead multiply
 *       only their stored values from 4·N tokens on ({@code vec.SparseKernel}: tokens in the lanes,
 *       activations transposed per call).
 *   <li>Dense-and-sparse encodings ({@code Q4_0_O}, {@code Q8_0_O}: {@code vec.OutlierKernel})
 *       decode their dense blocks as Q4_0/Q8_0 do and add the outlier, one per 64 weights.
 *   <li>Weights are read through {@code MemorySegment} (little-endian), hot paths allocate nothing
 *       (per-thread scratch; two-row decoders keep C2 under its inlining node limit, above which it
 *       boxes vectors).
 * </ul>
 */
package dev.sieve.kernel.panama;
