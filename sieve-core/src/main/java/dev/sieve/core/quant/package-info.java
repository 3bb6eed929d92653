/**
 * Weight encodings: one class per encoding (block layout, reference quantize and dequantize, dot
 * product, and the activation encoding it pairs with, ggml's {@code vec_dot_type}).
 *
 * <h2>Surface</h2>
 * <ul>
 *   <li>{@link dev.sieve.core.quant.WeightEncoding}: the contract; everything in it is the scalar
 *       reference. Nothing outside this package and the kernels switches on an encoding.
 *   <li>{@link dev.sieve.core.quant.WeightEncodings}: the registry (by name, by GGUF type id, all of
 *       them: the table tests loop over). GGUF's F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1,
 *       Q2_K … Q6_K, Q8_K, and Sieve's own: sparse encodings ({@link dev.sieve.core.quant.SparseEncoding},
 *       ids from 1024) and dense-and-sparse ones ({@link dev.sieve.core.quant.OutlierEncoding}, a
 *       Q4_0 or Q8_0 block plus f16 outliers, ids 2304 and 2305) and {@link
 *       dev.sieve.core.quant.Q4_KRepackedEncoding} (Q4_K_R, id 2306) and {@link
 *       dev.sieve.core.quant.Q4_0RepackedEncoding} (Q4_0_R, id 2307): Q4_K's and Q4_0's values in the
 *       layouts of the 16-bit decode kernels, made at load through {@code WeightEncoding.repack};
 *       indexed N:16 ({@link dev.sieve.core.quant.IndexedSparseEncoding}: Q8 and Q4 from 2320, F16 and
 *       BF16 from 2400) and the in-memory layouts made from the sparse types at 512 bits: 16-row
 *       slices ({@link dev.sieve.core.quant.SlicedEncoding}'s subclasses, from 2308) and padded bitmap
 *       blocks ({@link dev.sieve.core.quant.SparseEncoding#padded()}, from 2464); bitmap Q8 and Q4 in
 *       16-row slices ({@link dev.sieve.core.quant.SlicedBitmapEncoding}, from 3500), and sparse bitmap
 *       Q8 and Q4 with each value beside its column, slices packed after an offset table ({@link
 *       dev.sieve.core.quant.SlicedTileIndexedEncoding}, from 4012; its size depends on the data, so the
 *       kernels choose it per matrix); docs/formats.md.
 *   <li>{@link dev.sieve.core.quant.BlockGrid}: an encoding's grid of representable values, for
 *       quantizers that choose values themselves (GPTQ, AWQ); {@link dev.sieve.core.quant.Half}:
 *       little-endian scalar reads and half/bfloat conversions; {@link dev.sieve.core.quant.GgmlTypes}:
 *       the sizes of every ggml type, including those Sieve cannot decode (file layout checks).
 * </ul>
 */
package dev.sieve.core.quant;
