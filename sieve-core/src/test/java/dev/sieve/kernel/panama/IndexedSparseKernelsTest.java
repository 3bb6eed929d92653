package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.IndexedSparseEncoding;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.quant.Q4_0SlicedEncoding;
import dev.sieve.core.quant.SlicedIndexedEncoding;
import dev.sieve.core.quant.SparseEncoding.Values;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The indexed N:16 kernels (and dense Q4_0's) at every width, in the row layout and in the 16-row
 * layout made at load, against (a) the scalar reference on the row layout and (b) the dense F32 kernel on the same
 * weights with their zeros filled in: decode (1-3 tokens: one row per lane at 512 bits), prompt
 * tiles (5, 17), an odd number of 32-column blocks (the kernel's single-block tail), and thread
 * ranges that start and end inside a 16-row slice.
 */
class IndexedSparseKernelsTest {
    static final int[] NS = {1, 2, 5, 8, 16};
    static final int[][] SHAPES = {{16, 32}, {48, 64}, {32, 96}, {160, 2080}};
    static final int[] TOKENS = {1, 2, 3, 5, 17};
    /** Row ranges as fractions of the rows: all, and one starting and ending mid-slice. */
    static final int[][] RANGES = {{0, 16}, {5, 13}};

    static List<IndexedSparseEncoding> encodings() {
        List<IndexedSparseEncoding> l = new ArrayList<>();
        for (Values v : Values.values()) {
            for (int n : NS) {
                l.add(IndexedSparseEncoding.of(n, v));
            }
        }
        return l;
    }

    @TestFactory
    Stream<DynamicTest> bothLayoutsMatchScalarAndDense() {
        return encodings().stream().map(e -> DynamicTest.dynamicTest(e.name(),
                () -> bothLayoutsMatch(e, SlicedIndexedEncoding.of(e), TOKENS, PanamaKernelsTest.NMSE_FLOAT)));
    }

    /**
     * Dense Q4_0 in its 16-row layout ({@link Q4_0SlicedEncoding}): one token (a lane per row), the
     * four-token passes (4, 5), the decoded-chunk path from 16 tokens with two slices at a time, an
     * odd slice and tails of fewer than eight tokens (16, 17, 25), and a row of 2080 columns (its last
     * chunk one block). Against the dense F32 kernel the bound is the Q8_0 activations' (the reference
     * and both Q4_0 layouts round activations to Q8_0; F32 does not).
     */
    @Test
    void q4_0InSixteenRowSlicesMatchesScalarAndDense() {
        bothLayoutsMatch(Q4_0Encoding.INSTANCE, Q4_0SlicedEncoding.INSTANCE, new int[] {1, 2, 4, 5, 16, 17, 25},
                PanamaKernelsTest.NMSE_QUANTIZED_ACTIVATIONS);
    }

    /**
     * Q4_0_R16's one-token decode at its 16-bit sums' bound: every nibble 15 and every activation ±1 (Q8_0
     * level ±127), so each folded pair of lanes sums 2 · 8 · 15 · 127 = 30,480 of the 32,767 a short holds
     * (folding four lanes would wrap). Each row must come out as the scalar reference's, 7 · cols · ±x.
     */
    @Test
    void q4_0SlicesAtTheLargestLevelsStayWithinTheirSixteenBitSums() {
        int rows = 32, cols = 256;
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = Tensor.allocate("w", Q4_0Encoding.INSTANCE, arena, cols, rows);
            for (long b = 0; b < w.data().byteSize(); b += Q4_0Encoding.BLOCK_BYTES) {
                w.data().set(dev.sieve.core.quant.Half.SHORT_LE, b, (short) 0x3C00); // scale 1.0
                for (int j = 2; j < Q4_0Encoding.BLOCK_BYTES; j++) {
                    w.data().set(java.lang.foreign.ValueLayout.JAVA_BYTE, b + j, (byte) 0xFF);
                }
            }
            Tensor sliced = Tensor.allocate("s", Q4_0SlicedEncoding.INSTANCE, arena, cols, rows);
            Q4_0SlicedEncoding.INSTANCE.repackMatrix(Q4_0Encoding.INSTANCE, w.data(), sliced.data(), rows, cols);
            float[] x = new float[2 * cols];
            java.util.Arrays.fill(x, 0, cols, 1f);
            java.util.Arrays.fill(x, cols, 2 * cols, -1f);
            float[] ref = PanamaKernelsTest.run(ScalarKernels.INSTANCE, w, x, 2, 0, rows);
            float[] got = PanamaKernelsTest.run(PanamaKernels.create(512), sliced, x, 2, 0, rows);
            for (int i = 0; i < ref.length; i++) {
                assertEquals(Math.copySign(7f * cols, ref[i]), ref[i], 7f * cols * 1e-3f, "reference " + i);
                assertEquals(ref[i], got[i], Math.abs(ref[i]) * 1e-6f, "output " + i);
            }
        }
    }

    /**
     * Dense Q8_0 in its 16-row layout ({@link dev.sieve.core.quant.Q8_0SlicedEncoding}): the 16-bit decode
     * (1-3 tokens: column pairs of 16 rows as shorts), the decoded-chunk prompts (4, 5 one token at a time;
     * 16, 17, 25 with groups of eight), an odd slice and part slices, against the scalar reference (float
     * rounding only: both multiply Q8_0 activations) and dense F32 (the activations' rounding).
     */
    @Test
    void q8_0InSixteenRowSlicesMatchesScalarAndDense() {
        bothLayoutsMatch(dev.sieve.core.quant.Q8_0Encoding.INSTANCE, dev.sieve.core.quant.Q8_0SlicedEncoding.INSTANCE,
                new int[] {1, 2, 3, 4, 5, 16, 17, 25}, PanamaKernelsTest.NMSE_QUANTIZED_ACTIVATIONS);
    }

    /** {@code e} and its sliced layout {@code s} at every width, against the scalar reference and against dense F32 (within {@code denseTol}). */
    static void bothLayoutsMatch(WeightEncoding e, WeightEncoding s, int[] tokenCounts, double denseTol) {
        bothLayoutsMatch(e, s, tokenCounts, denseTol, SHAPES);
    }

    /** As {@link #bothLayoutsMatch(WeightEncoding, WeightEncoding, int[], double)} on the given {rows, cols} shapes. */
    static void bothLayoutsMatch(WeightEncoding e, WeightEncoding s, int[] tokenCounts, double denseTol, int[][] shapes) {
        Random rnd = new Random(e.ggmlType());
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : shapes) {
                int rows = shape[0], cols = shape[1];
                Tensor w = PanamaKernelsTest.randomTensor(e, rows, cols, rnd, arena);
                Tensor sliced = Tensor.allocate("s", s, arena, cols, rows);
                s.repackMatrix(e, w.data(), sliced.data(), rows, cols);
                Tensor dense = Tensor.allocate("d", F32Encoding.INSTANCE, arena, cols, rows);
                float[] all = w.toFloatArray();
                F32Encoding.INSTANCE.quantize(all, 0, dense.data(), 0, all.length);
                for (int tokens : tokenCounts) {
                    float[] x = PanamaKernelsTest.gaussian(rnd, tokens * cols);
                    for (int[] range : RANGES) {
                        int r0 = rows * range[0] / 16, r1 = rows * range[1] / 16;
                        float[] ref = PanamaKernelsTest.run(ScalarKernels.INSTANCE, w, x, tokens, r0, r1);
                        // A layout that rounds the activations where its source does not (Q4 2:4 to Q8_0,
                        // sparse bitmap Q8 to Q8_K): its own reference, and the dense product of the rounded activations.
                        boolean rounds = s.activationEncoding() != e.activationEncoding();
                        float[] slicedRef = rounds ? PanamaKernelsTest.run(ScalarKernels.INSTANCE, sliced, x, tokens, r0, r1) : ref;
                        float[] xq = x.clone();
                        if (rounds) {
                            roundTrip(s.activationEncoding(), x, xq, arena);
                            assertTrue(PanamaKernelsTest.nmse(slicedRef, ref, w, x, tokens, r0, r1) <= PanamaKernelsTest.NMSE_QUANTIZED_ACTIVATIONS);
                        }
                        for (int bits : new int[] {128, 256, 512}) {
                            PanamaKernels k = PanamaKernels.create(bits);
                            float[] den = PanamaKernelsTest.run(k, dense, x, tokens, r0, r1);
                            float[] denRounded = rounds ? PanamaKernelsTest.run(k, dense, xq, tokens, r0, r1) : den;
                            for (Tensor t : new Tensor[] {w, sliced}) {
                                assertFalse(k.kernelFor(t.encoding()) instanceof ScalarFallback, t.encoding().name());
                                float[] got = PanamaKernelsTest.run(k, t, x, tokens, r0, r1);
                                String where = bits + " " + t.encoding().name() + " " + rows + "x" + cols
                                        + " tokens=" + tokens + " rows " + r0 + ".." + r1;
                                for (int i = 0; i < got.length; i++) {
                                    int row = i % rows;
                                    assertEquals(row >= r0 && row < r1, !Float.isNaN(got[i]), where + ": output " + i);
                                }
                                boolean own = t == sliced && rounds;
                                double eRef = PanamaKernelsTest.nmse(got, own ? slicedRef : ref, w, x, tokens, r0, r1);
                                double eDense = PanamaKernelsTest.nmse(got, own ? denRounded : den, w, x, tokens, r0, r1);
                                assertTrue(eRef <= PanamaKernelsTest.NMSE_FLOAT, where + " vs scalar: nmse " + eRef);
                                assertTrue(eDense <= (own ? PanamaKernelsTest.NMSE_FLOAT : denseTol), where + " vs dense: nmse " + eDense);
                            }
                        }
                    }
                }
            }
        }
    }

    /** {@code x} as the activation encoding {@code act} holds it, into {@code xq}. */
    static void roundTrip(WeightEncoding act, float[] x, float[] xq, Arena arena) {
        java.lang.foreign.MemorySegment q = arena.allocate(act.byteSize(x.length));
        act.quantize(x, 0, q, 0, x.length);
        act.dequantize(q, 0, xq, 0, x.length);
    }

    /**
     * The format lets a row name a column twice in a block (both values add): index bytes replaced
     * by random ones, so repeats occur, still decode as the reference in every 512-bit path (one
     * token, the stored-values passes, and from 16 tokens the dense decoded chunks, which add each
     * value by a gather and a scatter).
     */
    @Test
    void repeatedIndicesAddInEveryPath() {
        Random rnd = new Random(11);
        PanamaKernels k = PanamaKernels.create(512);
        try (Arena arena = Arena.ofConfined()) {
            for (IndexedSparseEncoding e : new IndexedSparseEncoding[] {IndexedSparseEncoding.of(8, Values.Q8),
                    IndexedSparseEncoding.of(8, Values.Q4), IndexedSparseEncoding.of(2, Values.Q8),
                    IndexedSparseEncoding.of(8, Values.F16), IndexedSparseEncoding.of(8, Values.BF16)}) {
                int rows = 32, cols = 64;
                Tensor w = PanamaKernelsTest.randomTensor(e, rows, cols, rnd, arena);
                for (long b = 0; b < (long) rows * cols / IndexedSparseEncoding.QK; b++) {
                    for (int i = 0; i < e.perGroup(); i++) {
                        w.data().set(java.lang.foreign.ValueLayout.JAVA_BYTE, b * e.blockBytes() + e.indexAt() + i,
                                (byte) rnd.nextInt(256));
                    }
                }
                SlicedIndexedEncoding s = SlicedIndexedEncoding.of(e);
                Tensor sliced = Tensor.allocate("s", s, arena, cols, rows);
                s.repackMatrix(e, w.data(), sliced.data(), rows, cols);
                for (int tokens : new int[] {1, 5, 17}) {
                    float[] x = PanamaKernelsTest.gaussian(rnd, tokens * cols);
                    float[] ref = PanamaKernelsTest.run(ScalarKernels.INSTANCE, w, x, tokens, 0, rows);
                    if (s.sixteenBit()) { // Q8_0 activations: the layout's own reference, itself within their rounding of the row layout's
                        float[] own = PanamaKernelsTest.run(ScalarKernels.INSTANCE, sliced, x, tokens, 0, rows);
                        assertTrue(PanamaKernelsTest.nmse(own, ref, w, x, tokens, 0, rows) <= PanamaKernelsTest.NMSE_QUANTIZED_ACTIVATIONS);
                        ref = own;
                    }
                    float[] got = PanamaKernelsTest.run(k, sliced, x, tokens, 0, rows);
                    double err = PanamaKernelsTest.nmse(got, ref, w, x, tokens, 0, rows);
                    assertTrue(err <= PanamaKernelsTest.NMSE_FLOAT, e.name() + " tokens=" + tokens + ": nmse " + err);
                }
            }
        }
    }

    @Test
    void the512BitKernelsAskForTheSlicedLayoutAndOnlyThey() {
        IndexedSparseEncoding e = IndexedSparseEncoding.of(5, Values.Q8);
        WeightEncoding wide = PanamaKernels.preferredLayout(e, 512);
        assertSame(SlicedIndexedEncoding.of(e), wide);
        assertTrue(wide.repacks(e));
        assertSame(e, PanamaKernels.preferredLayout(e, 256));
        assertSame(e, PanamaKernels.preferredLayout(e, 128));
        assertSame(Q4_0SlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_0Encoding.INSTANCE, 512));
        // Their rows are decoded by the reference only: callers convert them even for short runs.
        assertTrue(PanamaKernels.create(512).decodesOnlyByReference(e));
        assertFalse(PanamaKernels.create(512).decodesOnlyByReference(Q4_0Encoding.INSTANCE));
        assertFalse(PanamaKernels.create(512).decodesOnlyByReference(SlicedIndexedEncoding.of(e)));
    }
}
