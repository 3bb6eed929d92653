package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The grid of each encoding: rounding is exactly what decoding gives, and RTN equals quantize. */
class BlockGridTest {

    static Stream<WeightEncoding> gridded() {
        return WeightEncodings.all().stream().filter(e -> e.grid().isPresent());
    }

    @Test
    void theExpectedEncodingsHaveGrids() {
        List<String> names = gridded().map(WeightEncoding::name).toList();
        assertTrue(names.containsAll(List.of("Q8_0", "Q4_0", "Q4_1", "Q3_K", "Q4_K", "Q5_K", "Q6_K")), names.toString());
        assertFalse(WeightEncodings.byName("F32").orElseThrow().grid().isPresent());
    }

    /** Gaussian blocks, blocks with one large outlier, all-equal blocks, an all-zero block. */
    private static float[] testValues(Random r, int bs, int blocks) {
        float[] x = new float[bs * blocks];
        for (int b = 0; b < blocks; b++) {
            int kind = b % 4;
            for (int i = 0; i < bs; i++) {
                float v = switch (kind) {
                    case 0 -> (float) r.nextGaussian() * 0.02f;
                    case 1 -> (float) r.nextGaussian() * 3f + 0.5f;
                    case 2 -> b == 2 ? 0f : 0.125f;
                    default -> (float) (r.nextGaussian() * 0.01 + (i == 7 ? 0.4 : 0));
                };
                x[b * bs + i] = v;
            }
        }
        return x;
    }

    @ParameterizedTest
    @MethodSource("gridded")
    void roundingOriginalValuesReproducesQuantizeThenDequantize(WeightEncoding e) {
        BlockGrid grid = e.grid().orElseThrow();
        assertEquals(e.blockSize(), grid.blockSize());
        assertEquals(e, grid.encoding().orElseThrow());
        int bs = e.blockSize();
        int blocks = 24;
        float[] x = testValues(new Random(7 + bs), bs, blocks);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q = arena.allocate(e.byteSize(x.length));
            e.quantize(x, 0, q, 0, x.length);
            float[] ref = new float[x.length];
            e.dequantize(q, 0, ref, 0, x.length);
            BlockGrid.Block block = grid.newBlock();
            for (int b = 0; b < blocks; b++) {
                block.fit(x, b * bs);
                for (int i = 0; i < bs; i++) {
                    float got = block.round(i, x[b * bs + i]);
                    // == treats −0 and +0 alike: the only freedom the rule leaves.
                    assertTrue(got == ref[b * bs + i], e.name() + " block " + b + " at " + i
                            + ": grid " + got + ", quantize→dequantize " + ref[b * bs + i]);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("gridded")
    void encodingGridValuesDecodesToThemExactly(WeightEncoding e) {
        BlockGrid grid = e.grid().orElseThrow();
        int bs = e.blockSize();
        int blocks = 16;
        Random r = new Random(11 + bs);
        float[] x = testValues(r, bs, blocks);
        // Fit on x, then round values pushed off the fitted range (as GPTQ's updates do).
        float[] moved = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            moved[i] = x[i] + (float) r.nextGaussian() * Math.abs(x[i]) * 0.7f;
        }
        float[] onGrid = new float[x.length];
        BlockGrid.Block[] fitted = new BlockGrid.Block[blocks];
        for (int b = 0; b < blocks; b++) {
            fitted[b] = grid.newBlock();
            fitted[b].fit(x, b * bs);
            for (int i = 0; i < bs; i++) {
                onGrid[b * bs + i] = fitted[b].round(i, moved[b * bs + i]);
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(e.byteSize(x.length));
            MemorySegment seg2 = arena.allocate(e.byteSize(x.length));
            for (int b = 0; b < blocks; b++) {
                fitted[b].encode(onGrid, b * bs, seg, (long) b * e.blockBytes());
                fitted[b].encode(moved, b * bs, seg2, (long) b * e.blockBytes());
            }
            float[] back = new float[x.length];
            float[] back2 = new float[x.length];
            e.dequantize(seg, 0, back, 0, x.length);
            e.dequantize(seg2, 0, back2, 0, x.length);
            for (int i = 0; i < x.length; i++) {
                assertTrue(back[i] == onGrid[i], e.name() + " at " + i + ": " + back[i] + " vs " + onGrid[i]);
                assertTrue(back2[i] == onGrid[i], e.name() + " off-grid encode at " + i);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("gridded")
    void roundingIsIdempotent(WeightEncoding e) {
        BlockGrid.Block block = e.grid().orElseThrow().newBlock();
        int bs = e.blockSize();
        float[] x = testValues(new Random(3), bs, 4);
        for (int b = 0; b < 4; b++) {
            block.fit(x, b * bs);
            for (int i = 0; i < bs; i++) {
                float once = block.round(i, x[b * bs + i] * 1.3f);
                assertTrue(block.round(i, once) == once, e.name() + " at " + i);
            }
        }
    }
}
