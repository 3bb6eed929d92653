package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertSame;

import dev.sieve.core.quant.SlicedBitmapEncoding;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.SparseEncoding.Values;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Bitmap Q8 and Q4 (50%, 70% and a nearly empty capacity) in the row layout and in 16-row slices ({@link
 * SlicedBitmapEncoding}), at every width, against the scalar reference and the dense F32 kernel on the
 * same weights: one to three tokens (the 16-bit expanded steps, two slices a pass, an odd slice), four
 * and five (the decoded blocks one token at a time), 16, 17 and 25 (groups of eight and tails), an odd
 * number of 256-column blocks, and thread ranges that start and end inside a slice
 * ({@link IndexedSparseKernelsTest#bothLayoutsMatch}).
 */
class SlicedBitmapKernelsTest {
    private static final int[][] SHAPES = {{16, 256}, {48, 512}, {32, 768}, {160, 2304}};

    @TestFactory
    Stream<DynamicTest> bothLayoutsMatchScalarAndDense() {
        return Stream.of(Values.Q8, Values.Q4).flatMap(v -> Stream.of(128, 77, 3).map(c -> SparseEncoding.bitmap(v, c)))
                .map(e -> DynamicTest.dynamicTest(e.name(),
                () -> IndexedSparseKernelsTest.bothLayoutsMatch(e, SlicedBitmapEncoding.of(e), new int[] {1, 2, 3, 4, 5, 16, 17, 25},
                        PanamaKernelsTest.NMSE_FLOAT, SHAPES)));
    }

    @Test
    void the512BitKernelsAskForSlicesOfBitmapQ8AndQ4WhereBytesExpandInOneInstruction() {
        for (int c : new int[] {1, 77, 128, 256}) {
          for (Values v : new Values[] {Values.Q8, Values.Q4}) {
            SparseEncoding e = SparseEncoding.bitmap(v, c);
            for (CpuVendor vendor : CpuVendor.values()) {
                assertSame(SlicedBitmapEncoding.of(e), PanamaKernels.preferredLayout(e, 512, vendor, true));
            }
            assertSame(e.blockBytes() % 8 == 0 ? e : e.padded(), PanamaKernels.preferredLayout(e, 512, CpuVendor.INTEL, false));
            assertSame(e, PanamaKernels.preferredLayout(e, 256, CpuVendor.INTEL, true));
          }
        }
        for (Values v : new Values[] {Values.F16, Values.BF16}) { // the two-byte value types keep their rows
            SparseEncoding e = SparseEncoding.bitmap(v, 128);
            assertSame(e, PanamaKernels.preferredLayout(e, 512, CpuVendor.INTEL, true));
        }
    }
}
