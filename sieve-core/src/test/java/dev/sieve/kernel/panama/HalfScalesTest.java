package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.quant.IndexedSparseEncoding;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.SparseEncoding.Values;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The 16-bit decode kernels of the 512-bit sliced layouts convert each block's f16 scales written out in
 * their loops (not through {@code Vec.f16}): scales at the format's edges — the smallest subnormal, a
 * negative subnormal, negative zero, the largest finite half, infinity — give what the scalar reference
 * gives, row by row (an infinite scale's row not finite in both: without the conversion's test for
 * the exponent's top value it would read 65504-odd). Q4_0_R16 holds finite scales only (the layout
 * refuses others: Q4_0SlicedEncodingTest), so it takes the finite edges.
 */
class HalfScalesTest {
    private static final short[] EDGES = {0x0001, (short) 0x8003, (short) 0x8000, 0x7BFF, (short) 0xFBFF, 0x7C00};
    private static final short[] FINITE_EDGES = java.util.Arrays.copyOf(EDGES, EDGES.length - 1);

    @TestFactory
    Stream<DynamicTest> edgeScalesDecodeAsTheReference() {
        return Stream.of(Q4_0Encoding.INSTANCE, Q8_0Encoding.INSTANCE, SparseEncoding.nm(2, 4, Values.Q4), SparseEncoding.nm(2, 4, Values.Q8),
                        IndexedSparseEncoding.of(8, Values.Q4))
                .map(e -> DynamicTest.dynamicTest(e.name(), () -> check(e)));
    }

    private static void check(WeightEncoding e) {
        int rows = 64, cols = 256;
        PanamaKernels k = PanamaKernels.create(512);
        WeightEncoding layout = k.preferredLayout(e);
        assertEquals(16, layout.rowGroup(), e.name() + " has a 16-row layout at 512 bits");
        short[] edges = layout == dev.sieve.core.quant.Q4_0SlicedEncoding.INSTANCE ? FINITE_EDGES : EDGES;
        Random rnd = new Random(4);
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = PanamaKernelsTest.randomTensor(e, rows, cols, rnd, arena);
            for (int r = 0; r < rows; r++) { // row r's block r % 8 gets an edge scale (its first two bytes)
                int b = r % (cols / e.blockSize());
                long at = r * w.rowBytes() + (long) b * e.blockBytes();
                float[] before = new float[cols], after = new float[cols];
                w.dequantizeRow(r, before, 0);
                short h = edges[r % edges.length];
                w.data().set(ValueLayout.JAVA_SHORT_UNALIGNED, at, h);
                w.dequantizeRow(r, after, 0);
                boolean changed = false;
                for (int c = b * e.blockSize(); c < (b + 1) * e.blockSize(); c++) {
                    changed |= Float.compare(before[c], after[c]) != 0;
                }
                assertTrue(changed, e.name() + ": the scale is the block's first two bytes");
            }
            Tensor sliced = Tensor.allocate("s", layout, arena, cols, rows);
            layout.repackMatrix(e, w.data(), sliced.data(), rows, cols);
            float[] x = PanamaKernelsTest.gaussian(rnd, cols);
            float[] want = PanamaKernelsTest.run(ScalarKernels.INSTANCE, sliced, x, 1, 0, rows);
            float[] got = PanamaKernelsTest.run(k, sliced, x, 1, 0, rows);
            for (int r = 0; r < rows; r++) {
                String where = layout.name() + " row " + r + " scale 0x" + Integer.toHexString(edges[r % edges.length] & 0xFFFF);
                if (Float.isFinite(want[r])) {
                    assertEquals(want[r], got[r], 1e-4f * Math.max(1f, Math.abs(want[r])), where);
                } else { // Q4_0's −8 taken off as d·8Σx turns the reference's ∞ into ∞ − ∞: not finite either way
                    assertTrue(!Float.isFinite(got[r]), where + ": " + want[r] + " against " + got[r]);
                }
            }
        }
    }
}
