package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.quant.IndexedSparseEncoding;
import dev.sieve.core.quant.SlicedIndexedEncoding;
import dev.sieve.core.quant.SlicedNMEncoding;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.SparseEncoding.Values;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * 2:4 with Q8, Q4, BF16 and F16 values and 4:8 with Q8 and Q4, in the row layout and in 16-row slices
 * ({@link SlicedNMEncoding}), and 4:8 with every value type made indexed 8:16 in 16-row slices (the layout
 * BF16 and F16 take), at
 * every width, against the scalar reference and the dense F32 kernel on the same weights: one token
 * (a lane per row), 2–5 tokens (the one-token product per token), 8, 16 and 17 (the decoded chunks: two
 * slices and an odd one, groups of eight tokens and a tail), an odd number of 32-column blocks, a row whose
 * last chunk is one block (2080 columns), and thread ranges that start and end inside a slice
 * ({@link IndexedSparseKernelsTest#bothLayoutsMatch}).
 */
class SlicedNMKernelsTest {
    @TestFactory
    Stream<DynamicTest> bothLayoutsMatchScalarAndDense() {
        return SlicedNMEncoding.encodings().stream().map(s -> DynamicTest.dynamicTest(s.name(),
                () -> IndexedSparseKernelsTest.bothLayoutsMatch(s.source(), s, new int[] {1, 2, 5, 8, 16, 17},
                        PanamaKernelsTest.NMSE_FLOAT)));
    }

    /** 4:8 with Q8, Q4, BF16 and F16 values made indexed 8:16 in 16-row slices (BF16 and F16 are, at load): the same paths and oracles. */
    @TestFactory
    Stream<DynamicTest> fourOfEightAsIndexedSlicesMatchesScalarAndDense() {
        return Stream.of(Values.values()).map(v -> DynamicTest.dynamicTest(v.name(),
                () -> IndexedSparseKernelsTest.bothLayoutsMatch(SparseEncoding.nm(4, 8, v),
                        SlicedIndexedEncoding.of(IndexedSparseEncoding.of(8, v)), new int[] {1, 2, 5, 8, 16, 17}, PanamaKernelsTest.NMSE_FLOAT)));
    }

    @Test
    void the512BitKernelsAskForSlicesOf2To4AndOf4To8() { // 4:8 as pairs for Q8 and Q4 values, as indexed 8:16 for F16 and BF16
        for (Values v : Values.values()) {
            SparseEncoding e = SparseEncoding.nm(2, 4, v);
            assertSame(SlicedNMEncoding.of(e), PanamaKernels.preferredLayout(e, 512));
            assertTrue(SlicedNMEncoding.of(e).repacks(e));
            assertSame(e, PanamaKernels.preferredLayout(e, 256));
            SparseEncoding e48 = SparseEncoding.nm(4, 8, v);
            boolean quantized = v == Values.Q8 || v == Values.Q4;
            assertSame(quantized ? SlicedNMEncoding.of(e48) : SlicedIndexedEncoding.of(IndexedSparseEncoding.of(8, v)),
                    PanamaKernels.preferredLayout(e48, 512));
            assertSame(e48, PanamaKernels.preferredLayout(e48, 256));
        }
    }
}
