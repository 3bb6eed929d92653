package dev.sieve.kernel.panama.vec;

import dev.sieve.core.kernel.Activations;
import dev.sieve.core.quant.SlicedEncoding;
import dev.sieve.core.tensor.Tensor;

/**
 * The 16-row kernels that read 64 bytes as two column pairs of 16 rows, each short one row's pair, and
 * multiply them against Q8_0_R16's activation patterns ({@link SlicedQ8_0Kernel#pairPatterns}): Q8_0_R16,
 * Q6_K_R16 (its levels placed as Q8_0_R16's bytes) and bitmap Q8 and Q4 (their steps expanded into them). Below
 * {@link #INT16_TOKENS} tokens they decode in 16-bit lanes; prompts take the decoded chunks.
 */
abstract class PairPatternKernel extends SlicedKernel {
    static final int INT16_TOKENS = 4;

    PairPatternKernel(SlicedEncoding e) {
        super(e);
    }

    @Override
    final boolean int16Path(Activations x) {
        return LANE_PER_ROW && x.tokens() < INT16_TOKENS;
    }

    @Override
    public final void prepare(Tensor w, Activations x) {
        prepareDecodedRows(w, x);
    }

    @Override
    final void prepareInt16(Activations x) {
        SlicedQ8_0Kernel.pairPatterns(this, x);
    }
}
