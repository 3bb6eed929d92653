package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.sieve.core.quant.Q6_KEncoding;
import dev.sieve.core.quant.Q6_KSlicedEncoding;
import dev.sieve.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Q6_K in its 16-row byte layout (Q6_K_R16): its rows decode to Q6_K's values bit for bit, and at every
 * width its products agree with (a) the scalar reference on the same layout (Q8_0 activations, the
 * layout's own: float rounding only) and (b) the dense F32 kernel on the decoded weights (within the
 * activations' Q8_0 rounding): decode in 16-bit lanes (1-3 tokens), prompts through the decoded blocks
 * (4, 5, 8, 9, 16, 17 tokens), one, two and three slices (a pair and a single one), and thread ranges
 * that start and end inside a slice.
 */
class SlicedQ6_KKernelTest {
    @Test
    void rowsDecodeToQ6_KsValuesBitForBit() {
        Random rnd = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 48, cols = 768;
            Tensor w = PanamaKernelsTest.randomTensor(Q6_KEncoding.INSTANCE, rows, cols, rnd, arena);
            Tensor sliced = Tensor.allocate("s", Q6_KSlicedEncoding.INSTANCE, arena, cols, rows);
            Q6_KSlicedEncoding.INSTANCE.repackMatrix(Q6_KEncoding.INSTANCE, w.data(), sliced.data(), rows, cols);
            assertEquals(rows * (cols / 256) * 274L, sliced.byteSize(), "274 bytes a row's block");
            assertArrayEquals(w.toFloatArray(), sliced.toFloatArray(), 0f);
        }
    }

    /** Against the scalar reference on the layout itself (its Q8_0 activations are its own, not Q6_K's Q8_K). */
    @Test
    void matchesTheScalarReferenceAndDenseAtEveryWidth() {
        SlicedQ4_KKernelTest.slicedMatches(Q6_KEncoding.INSTANCE, Q6_KSlicedEncoding.INSTANCE, Q6_KSlicedEncoding.INSTANCE, 11);
    }

    @Test
    void takenAtFiveTwelveBitsOnly() {
        assertSame(Q6_KSlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q6_KEncoding.INSTANCE, 512));
        assertSame(Q6_KEncoding.INSTANCE, PanamaKernels.preferredLayout(Q6_KEncoding.INSTANCE, 256));
    }
}
