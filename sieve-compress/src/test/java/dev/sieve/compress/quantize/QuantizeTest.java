package dev.sieve.compress.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.compress.Fixtures;
import dev.sieve.compress.calib.LayerStatistics;
import dev.sieve.compress.linalg.Matrices;
import dev.sieve.core.quant.BlockGrid;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q4_KEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** RTN, GPTQ, AWQ and the outlier split on a random layer with correlated inputs. */
class QuantizeTest {
    static final int ROWS = 24;
    static final int COLS = 256; // one Q4_K super-block per row
    static final int TOKENS = 384;

    record Layer(float[] w, float[] x, LayerStatistics stats) {}

    static Layer layer(long seed) {
        Random r = new Random(seed);
        float[] w = Fixtures.gaussian(r, ROWS * COLS, 0.05);
        float[] x = Fixtures.correlatedInputs(r, TOKENS, COLS);
        return new Layer(w, x, Fixtures.statistics(x, TOKENS, COLS));
    }

    static double err(Layer l, float[] wHat) {
        return Fixtures.outputError(l.w, wHat, ROWS, COLS, l.x, TOKENS);
    }

    static BlockGrid grid(String encoding) {
        return WeightEncodings.byName(encoding).orElseThrow().grid().orElseThrow();
    }

    @Test
    void rtnThroughTheGridEqualsTheEncodingsOwnQuantizer() {
        Layer l = layer(1);
        for (String name : new String[] {"Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q6_K"}) {
            WeightEncoding e = WeightEncodings.byName(name).orElseThrow();
            float[] viaGrid = RtnQuantizer.quantize(l.w, ROWS, COLS, e.grid().orElseThrow()).values();
            float[] viaCodec = RtnQuantizer.roundTrip(l.w, e);
            for (int i = 0; i < viaGrid.length; i++) {
                assertTrue(viaGrid[i] == viaCodec[i], name + " at " + i);
            }
        }
    }

    /** Decoding GPTQ's encoded tensor gives back exactly its values: the file holds what GPTQ chose. */
    static void assertEncodesExactly(QuantizedWeights q, WeightEncoding e) {
        MemorySegment bytes = q.encode();
        assertEquals(e.byteSize((long) ROWS * COLS), bytes.byteSize());
        float[] back = new float[ROWS * COLS];
        e.dequantize(bytes, 0, back, 0, back.length);
        for (int i = 0; i < back.length; i++) {
            assertTrue(back[i] == q.values()[i], e.name() + " at " + i + ": " + back[i] + " vs " + q.values()[i]);
        }
    }

    @Test
    void gptqBeatsRtnOnQ4_0AndEncodesToQ4_0() {
        Layer l = layer(2);
        BlockGrid g = Q4_0Encoding.INSTANCE.grid().orElseThrow();
        double rtn = err(l, RtnQuantizer.quantize(l.w, ROWS, COLS, g).values());
        QuantizedWeights q = new GptqQuantizer().quantize(l.w, ROWS, COLS, l.stats.hessian(), g);
        double gptq = err(l, q.values());
        assertTrue(gptq < 0.8 * rtn, "GPTQ " + gptq + " vs RTN " + rtn);
        assertEncodesExactly(q, Q4_0Encoding.INSTANCE);
        // The Hessian form of the error is the same quantity.
        assertEquals(gptq, Matrices.outputError(l.w, q.values(), ROWS, COLS, l.stats.hessian()), 1e-6 * gptq);
    }

    @Test
    void deadInputChannelsAreHandled() {
        // A channel that never fires makes H singular; GPTQ must still factor and win.
        Random r = new Random(8);
        float[] w = Fixtures.gaussian(r, ROWS * COLS, 0.05);
        float[] x = Fixtures.correlatedInputs(r, TOKENS, COLS);
        for (int t = 0; t < TOKENS; t++) {
            x[t * COLS + 40] = 0;
        }
        Layer l = new Layer(w, x, Fixtures.statistics(x, TOKENS, COLS));
        BlockGrid g = grid("Q4_0");
        double rtn = err(l, RtnQuantizer.quantize(w, ROWS, COLS, g).values());
        double gptq = err(l, new GptqQuantizer().quantize(w, ROWS, COLS, l.stats.hessian(), g).values());
        assertTrue(gptq < rtn, "GPTQ " + gptq + " vs RTN " + rtn);
    }

    @Test
    void lazyBatchWidthDoesNotChangeTheResult() {
        // Lazy batching only reorders the same updates: results agree up to rare rounding flips.
        Layer l = layer(7);
        BlockGrid g = grid("Q4_0");
        float[] a = new GptqQuantizer(new GptqQuantizer.Options(0.01, 16, false)).quantize(l.w, ROWS, COLS, l.stats.hessian(), g).values();
        float[] b = new GptqQuantizer(new GptqQuantizer.Options(0.01, 256, false)).quantize(l.w, ROWS, COLS, l.stats.hessian(), g).values();
        int same = 0;
        for (int i = 0; i < a.length; i++) {
            same += a[i] == b[i] ? 1 : 0;
        }
        assertTrue(same >= 0.995 * a.length, same + " of " + a.length + " equal");
    }

    @Test
    void gptqBeatsRtnOnQ4_KWithSmallBlocksAndActOrder() {
        Layer l = layer(3);
        BlockGrid g = Q4_KEncoding.INSTANCE.grid().orElseThrow();
        double rtn = err(l, RtnQuantizer.quantize(l.w, ROWS, COLS, g).values());
        // A lazy-batch width of 64 exercises the cross-block update inside one 256-block.
        GptqQuantizer.Options small = new GptqQuantizer.Options(0.01, 64, false);
        QuantizedWeights plain = new GptqQuantizer(small).quantize(l.w, ROWS, COLS, l.stats.hessian(), g);
        QuantizedWeights act = new GptqQuantizer(small.withActOrder(true)).quantize(l.w, ROWS, COLS, l.stats.hessian(), g);
        assertTrue(err(l, plain.values()) < 0.8 * rtn, "GPTQ " + err(l, plain.values()) + " vs RTN " + rtn);
        assertTrue(err(l, act.values()) < 0.8 * rtn, "GPTQ act-order " + err(l, act.values()) + " vs RTN " + rtn);
        assertEncodesExactly(plain, Q4_KEncoding.INSTANCE);
        assertEncodesExactly(act, Q4_KEncoding.INSTANCE);
    }

    /**
     * GPTQ's own objective, ‖WX − ŴX‖², on every encoding grid it writes: it must beat RTN on the
     * same grid, with plain and with importance-weighted block fits, and the file must hold
     * exactly its values.
     */
    @Test
    void gptqBeatsRtnOnEveryEncodingGridWithAndWithoutImportance() {
        Layer l = layer(9);
        for (String name : new String[] {"Q4_0", "Q4_K", "Q5_K", "Q3_K", "Q6_K", "Q8_0"}) {
            BlockGrid g = grid(name);
            double rtn = err(l, RtnQuantizer.quantize(l.w, ROWS, COLS, g).values());
            for (int imp = 0; imp < 3; imp++) {
                boolean importance = imp > 0;
                for (int variant = 0; variant < 3; variant++) {
                    boolean actOrder = variant == 1;
                    boolean lazy = variant == 2;
                    GptqQuantizer.Options o = new GptqQuantizer.Options(0.01, 128, actOrder, importance, lazy, imp == 2);
                    QuantizedWeights q = new GptqQuantizer(o).quantize(l.w, ROWS, COLS, l.stats.hessian(), g);
                    double gptq = err(l, q.values());
                    assertTrue(gptq < 0.8 * rtn, name + " importance=" + importance + " conditional=" + (imp == 2) + " act-order=" + actOrder
                            + " lazy sub-blocks=" + lazy + ": GPTQ " + gptq + " vs RTN " + rtn);
                    assertEncodesExactly(q, WeightEncodings.byName(name).orElseThrow());
                    System.out.printf("%s imp=%d act=%b lazy=%b  gptq/rtn=%.4f%n", name, imp, actOrder, lazy, gptq / rtn);
                }
            }
        }
    }

    /**
     * Conditional importance (1/U_jj², U = chol(H⁻¹)) is diag H's importance when H is diagonal:
     * nothing can compensate an error then, so the two give the same values bit for bit; on the
     * correlated inputs of {@link #layer} the weights differ, and so does the result.
     */
    @Test
    void conditionalImportanceEqualsDiagonalImportanceForADiagonalHessian() {
        Layer l = layer(12);
        double[] full = l.stats.hessian();
        double[] diag = new double[COLS * COLS];
        for (int j = 0; j < COLS; j++) {
            diag[j * COLS + j] = full[j * COLS + j];
        }
        for (String name : new String[] {"Q4_K", "Q5_K", "Q3_K", "Q6_K", "Q4_0"}) {
            BlockGrid g = grid(name);
            GptqQuantizer.Options o = new GptqQuantizer.Options(0.01, 128, false, true, true, false);
            GptqQuantizer.Options c = o.withConditionalImportance(true);
            assertArrayEquals(new GptqQuantizer(o).quantize(l.w, ROWS, COLS, diag, g).values(),
                    new GptqQuantizer(c).quantize(l.w, ROWS, COLS, diag, g).values(), name);
            assertFalse(Arrays.equals(new GptqQuantizer(o).quantize(l.w, ROWS, COLS, full, g).values(),
                    new GptqQuantizer(c).quantize(l.w, ROWS, COLS, full, g).values()), name);
        }
        assertThrows(IllegalArgumentException.class, () -> new GptqQuantizer.Options(0.01, 128, false, false, false, true));
    }

    /**
     * The importance-weighted fit (llama.cpp's imatrix rule) against the plain fit, both rounded to
     * nearest: over the layer, its error weighted by the channels' mean square is lower. The
     * inputs have ×8 channels, so the weights are far from uniform.
     */
    @Test
    void importanceWeightedFitLowersTheWeightedError() {
        Layer l = layer(10);
        double[] h = l.stats.squaredNorms();
        float[] imp = new float[COLS];
        for (int j = 0; j < COLS; j++) {
            imp[j] = (float) h[j];
        }
        for (String name : new String[] {"Q4_0", "Q4_K", "Q5_K", "Q3_K", "Q6_K"}) {
            BlockGrid g = grid(name);
            int bs = g.blockSize();
            double plain = 0, weighted = 0;
            for (int r = 0; r < ROWS; r++) {
                for (int b = 0; b < COLS / bs; b++) {
                    int off = r * COLS + b * bs;
                    BlockGrid.Block p = g.newBlock();
                    p.fit(l.w, off);
                    BlockGrid.Block w = g.newBlock();
                    w.fit(l.w, off, imp, b * bs);
                    for (int i = 0; i < bs; i++) {
                        double v = l.w[off + i];
                        plain += h[b * bs + i] * sq(v - p.round(i, l.w[off + i]));
                        weighted += h[b * bs + i] * sq(v - w.round(i, l.w[off + i]));
                    }
                }
            }
            assertTrue(weighted < 0.97 * plain, name + ": weighted fit " + weighted + " vs plain " + plain);
        }
        // Uniform importance keeps every grid usable (and zero importance falls back to the plain fit).
        BlockGrid.Block z = grid("Q4_K").newBlock();
        z.fit(l.w, 0, new float[COLS], 0);
        BlockGrid.Block p = grid("Q4_K").newBlock();
        p.fit(l.w, 0);
        for (int i = 0; i < 256; i++) {
            assertEquals(p.round(i, l.w[i]), z.round(i, l.w[i]));
        }
    }

    private static double sq(double v) {
        return v * v;
    }

    @Test
    void gptqBeatsRtnAtThreeBitsAndTwoBits() {
        Layer l = layer(4);
        for (int bits : new int[] {3, 2}) {
            for (boolean sym : new boolean[] {false, true}) {
                UniformGrid g = new UniformGrid(bits, 64, sym);
                double rtn = err(l, RtnQuantizer.quantize(l.w, ROWS, COLS, g).values());
                double gptq = err(l, new GptqQuantizer().quantize(l.w, ROWS, COLS, l.stats.hessian(), g).values());
                assertTrue(gptq < 0.8 * rtn, bits + "-bit sym=" + sym + ": GPTQ " + gptq + " vs RTN " + rtn);
            }
        }
    }

    @Test
    void uniformGridHasTheRightNumberOfLevelsAndNoFileForm() {
        UniformGrid g = new UniformGrid(3, 8, false);
        BlockGrid.Block b = g.newBlock();
        // Range [−1, 6] over 7 steps: scale 1, zero point 1, levels −1..6.
        float[] v = {-1, 0, 1, 2, 3, 4, 5, 6};
        b.fit(v, 0);
        java.util.Set<Float> levels = new java.util.TreeSet<>();
        for (float t = -9; t <= 9; t += 0.01f) {
            levels.add(b.round(0, t));
        }
        assertEquals(8, levels.size(), levels.toString());
        assertEquals(-1f, b.round(0, -7));
        assertEquals(6f, b.round(0, 10));
        assertEquals(2f, b.round(3, 2.4f));
        assertTrue(g.encoding().isEmpty());
        assertThrows(UnsupportedOperationException.class, () -> b.encode(v, 0, MemorySegment.ofArray(new byte[64]), 0));
    }

    @Test
    void awqIsNeverWorseThanRtnAndAlphaZeroIsRtn() {
        Layer l = layer(5);
        for (BlockGrid g : new BlockGrid[] {grid("Q4_0"), new UniformGrid(3, 32, false)}) {
            double rtnH = Matrices.outputError(l.w, RtnQuantizer.quantize(l.w, ROWS, COLS, g).values(),
                    ROWS, COLS, l.stats.hessian());
            AwqScaler.Result awq = AwqScaler.search(l.w, ROWS, COLS, l.stats, g, 20);
            assertEquals(21, awq.errors().length);
            assertEquals(rtnH, awq.errors()[0], 1e-9 * rtnH, "α = 0 is RTN");
            assertTrue(awq.error() <= rtnH);
            double direct = err(l, awq.effectiveWeights());
            assertEquals(awq.error(), direct, 1e-6 * direct);
            // The stored tensor is Q(W·diag(s)): on the grid, and s·(1/s) folds back.
            assertEquals(COLS, awq.scales().length);
        }
        // With ×8 outlier channels, a positive α should help on Q4_0.
        AwqScaler.Result awq = AwqScaler.search(l.w, ROWS, COLS, l.stats, grid("Q4_0"), 20);
        assertTrue(awq.alpha() > 0 && awq.error() < awq.errors()[0], "α " + awq.alpha());
    }

    @Test
    void outlierSplitReconstructsAndPicksTheTopFraction() {
        Layer l = layer(6);
        float[] w = l.w.clone();
        w[5 * COLS + 17] = 3f; // a planted outlier must be chosen
        BlockGrid g = grid("Q4_0");
        for (OutlierSplitter.Saliency kind : OutlierSplitter.Saliency.values()) {
            for (GptqQuantizer gptq : new GptqQuantizer[] {null, new GptqQuantizer()}) {
                OutlierSplitter.Split split = OutlierSplitter.split(w, ROWS, COLS, l.stats, 0.01, kind, g, gptq);
                int k = (int) Math.round(0.01 * w.length);
                assertEquals(k, split.sparse().nonZeros());
                double[] sal = OutlierSplitter.saliency(w, ROWS, COLS, l.stats, kind);
                double minChosen = Double.MAX_VALUE, maxOther = 0;
                for (int i = 0; i < w.length; i++) {
                    if (split.outliers()[i]) {
                        minChosen = Math.min(minChosen, sal[i]);
                    } else {
                        maxOther = Math.max(maxOther, sal[i]);
                    }
                }
                assertTrue(minChosen >= maxOther, "top fraction by saliency");
                assertTrue(split.outliers()[5 * COLS + 17]);
                float[] rec = split.reconstruct();
                for (int i = 0; i < w.length; i++) {
                    if (!split.outliers()[i]) {
                        assertTrue(rec[i] == split.dense().values()[i]);
                    } else if (gptq == null) {
                        // RTN: dense + f16 residual gives the weight back up to the residual's f16 rounding.
                        assertEquals(w[i], rec[i], Math.abs(w[i] - split.dense().values()[i]) * 1e-3 + 1e-7);
                    }
                }
                double plain = err(l(w, l), gptq == null
                        ? RtnQuantizer.quantize(w, ROWS, COLS, g).values()
                        : gptq.quantize(w, ROWS, COLS, l.stats.hessian(), g).values());
                double withOutliers = err(l(w, l), rec);
                assertTrue(withOutliers < plain, kind + " gptq=" + (gptq != null) + ": " + withOutliers + " vs " + plain);
                assertEncodesExactly(split.dense(), Q4_0Encoding.INSTANCE);
            }
        }
    }

    private static Layer l(float[] w, Layer base) {
        return new Layer(w, base.x, base.stats);
    }
}
