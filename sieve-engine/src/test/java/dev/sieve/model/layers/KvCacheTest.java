package dev.sieve.model.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Kernels;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Quantized KV storage: round-trip bounds, on-the-fly reads, attention against a scalar reference. */
class KvCacheTest {
    static final int LAYERS = 2;
    static final int HEAD = 64;
    static final int KV_HEADS = 2;
    static final int KV_DIM = HEAD * KV_HEADS;
    static final int GROUP = 32;
    /** Reproducible: tests compare the cache's dots with {@code K.dot} exactly, possibly across a C2 compile. */
    static final Kernels K = KernelProvider.reproducible();

    /** Gaussian vectors with a per-channel offset and a few outlier channels, as real keys have. */
    static float[][] data(int positions, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] offset = new float[KV_DIM];
        for (int i = 0; i < KV_DIM; i++) {
            offset[i] = (float) (r.nextGaussian() * (i % 17 == 0 ? 4 : 0.5));
        }
        float[][] x = new float[positions][KV_DIM];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < KV_DIM; i++) {
                x[p][i] = offset[i] + (float) r.nextGaussian();
            }
        }
        return x;
    }

    @ParameterizedTest
    @EnumSource(value = KvEncoding.class, names = {"S50", "S70"}, mode = EnumSource.Mode.EXCLUDE) // see sparseKeeps…
    void roundTripWithinTheEncodingsBound(KvEncoding e) {
        float[][] x = data(50, 1);
        KvStore s = KvStore.create(e, LAYERS, 50, KV_DIM, GROUP, K);
        float[] back = new float[KV_DIM];
        for (int p = 0; p < 50; p++) {
            s.put(1, p, x[p], 0);
        }
        for (int p = 0; p < 50; p++) {
            s.get(1, p, back, 0);
            for (int g = 0; g < KV_DIM; g += GROUP) {
                float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY, amax = 0;
                for (int i = g; i < g + GROUP; i++) {
                    lo = Math.min(lo, x[p][i]);
                    hi = Math.max(hi, x[p][i]);
                    amax = Math.max(amax, Math.abs(x[p][i]));
                }
                for (int i = g; i < g + GROUP; i++) {
                    double err = Math.abs(back[i] - x[p][i]);
                    // Half a quantization step (plus float rounding of the scale arithmetic).
                    double bound = switch (e) {
                        case F32 -> 0;
                        case F16 -> Math.abs(x[p][i]) * 0x1p-11 + 0x1p-25;
                        case Q8, Q8C -> amax / 127.0 / 2 * (1 + 1e-5) + 1e-6; // the value store
                        case Q4, Q4C -> (hi - lo) / 15.0 / 2 * (1 + 1e-5) + 1e-6;
                        case S50, S70 -> throw new AssertionError("excluded");
                    };
                    assertTrue(err <= bound, e + " pos " + p + " [" + i + "]: " + x[p][i] + " → " + back[i] + ", bound " + bound);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(KvEncoding.class)
    void fusedReadsEqualDequantizeThenCompute(KvEncoding e) {
        float[][] x = data(20, 2);
        float[] q = data(1, 3)[0];
        KvStore s = KvStore.create(e, LAYERS, 20, KV_DIM, GROUP, K);
        float[] deq = new float[KV_DIM];
        for (int p = 0; p < 20; p++) {
            s.put(0, p, x[p], 0);
            s.get(0, p, deq, 0);
            for (int h = 0; h < KV_HEADS; h++) {
                double ref = 0;
                for (int i = 0; i < HEAD; i++) {
                    ref += (double) q[h * HEAD + i] * deq[h * HEAD + i];
                }
                float got = s.dot(q, h * HEAD, 0, p, h * HEAD, HEAD);
                assertEquals(ref, got, 1e-5 * (1 + Math.abs(ref)), e + " dot at " + p + " head " + h);
                float[] y = new float[HEAD];
                float[] yRef = new float[HEAD];
                for (int i = 0; i < HEAD; i++) {
                    y[i] = yRef[i] = q[i];
                    yRef[i] += 0.37f * deq[h * HEAD + i];
                }
                s.axpy(0.37f, 0, p, h * HEAD, HEAD, y, 0);
                for (int i = 0; i < HEAD; i++) {
                    assertEquals(yRef[i], y[i], 1e-5f * (1 + Math.abs(yRef[i])), e + " axpy at " + p);
                }
            }
        }
    }

    /** Softmax attention of one query head over positions 0..last, in double, from exact keys and values. */
    static double[] reference(float[] q, int qOff, float[][] keys, float[][] vals, int off, int last) {
        double[] s = new double[last + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int p = 0; p <= last; p++) {
            for (int i = 0; i < HEAD; i++) {
                s[p] += (double) q[qOff + i] * keys[p][off + i];
            }
            s[p] /= Math.sqrt(HEAD);
            max = Math.max(max, s[p]);
        }
        double sum = 0;
        double[] out = new double[HEAD];
        for (int p = 0; p <= last; p++) {
            double e = Math.exp(s[p] - max);
            sum += e;
            for (int i = 0; i < HEAD; i++) {
                out[i] += e * vals[p][off + i];
            }
        }
        for (int i = 0; i < HEAD; i++) {
            out[i] /= sum;
        }
        return out;
    }

    /** The loop of Transformer's attention: one-pass online softmax through the cache's read API. */
    static float[] attend(KvCache c, int layer, float[] q, int qOff, int off, int last) {
        float[] acc = new float[HEAD];
        float scale = (float) (1.0 / Math.sqrt(HEAD));
        float max = Float.NEGATIVE_INFINITY;
        float sum = 0f;
        for (int p = 0; p <= last; p++) {
            float s = c.dotKey(q, qOff, layer, p, off, HEAD) * scale;
            if (s > max) {
                float r = (float) Math.exp(max - s);
                sum *= r;
                for (int i = 0; i < HEAD; i++) {
                    acc[i] *= r;
                }
                max = s;
            }
            float e = (float) Math.exp(s - max);
            sum += e;
            c.axpyValue(e, layer, p, off, HEAD, acc, 0);
        }
        for (int i = 0; i < HEAD; i++) {
            acc[i] /= sum;
        }
        return acc;
    }

    @ParameterizedTest
    @EnumSource(KvEncoding.class)
    void attentionMatchesTheExactReference(KvEncoding e) {
        int n = 200;
        float[][] keys = data(n, 4);
        float[][] vals = data(n, 5);
        float[][] qs = data(8, 6);
        // Relative L2 error of the attention output: F16 is all but exact; 8 and 4 bits add noise
        // proportional to their step. No residual window here, so every position is quantized.
        double tol = switch (e) {
            case F32 -> 1e-5;
            case F16 -> 2e-3;
            case Q8, Q8C -> 1e-2;
            case Q4, Q4C -> 1.2e-1;
            // Pruning half or 70% of every key and value is far coarser than quantization.
            case S50 -> 0.35;
            case S70 -> 0.6;
        };
        KvCache c = new KvCache(LAYERS, n, KV_DIM, HEAD, e, 0, K);
        for (int p = 0; p < n; p++) {
            c.put(1, p, keys[p], 0, vals[p], 0);
        }
        double worst = 0;
        for (float[] q : qs) {
            for (int h = 0; h < KV_HEADS; h++) {
                for (int last : new int[] {0, 31, 199}) {
                    double[] ref = reference(q, h * HEAD, keys, vals, h * HEAD, last);
                    float[] got = attend(c, 1, q, h * HEAD, h * HEAD, last);
                    double num = 0, den = 0;
                    for (int i = 0; i < HEAD; i++) {
                        num += (got[i] - ref[i]) * (got[i] - ref[i]);
                        den += ref[i] * ref[i];
                    }
                    worst = Math.max(worst, Math.sqrt(num / den));
                }
            }
        }
        assertTrue(worst <= tol, e + ": relative error " + worst + " > " + tol);
        if (e != KvEncoding.F32) {
            // The tolerance is not vacuous: quantization does perturb the output.
            assertTrue(worst > 0, e + " reproduced F32 exactly");
        }
    }

    /** Chunked reads (what attention uses) decode exactly what the per-position reads see, window included, paged or not. */
    @ParameterizedTest
    @EnumSource(KvEncoding.class)
    void chunkReadsEqualPerPositionReads(KvEncoding e) {
        int n = 45;
        float[][] keys = data(n, 21);
        float[][] vals = data(n, 22);
        for (KvCache c : flatAndPaged(e, 1, keys, vals, 16, 8)) {
            KvCache.Rows rk = new KvCache.Rows();
            KvCache.Rows rv = new KvCache.Rows();
            float[] k = new float[KV_DIM];
            float[] v = new float[KV_DIM];
            for (int h = 0; h < KV_HEADS; h++) {
                for (int p = 0; p < n; ) {
                    int count = Math.min(Math.min(13, n - p), c.contiguous(p));
                    c.readKeys(1, p, count, h * HEAD, HEAD, rk);
                    c.readValues(1, p, count, h * HEAD, HEAD, rv);
                    for (int r = 0; r < count; r++) {
                        c.get(1, p + r, k, v);
                        for (int i = 0; i < HEAD; i++) {
                            assertEquals(k[h * HEAD + i], rk.data()[rk.offset() + r * rk.stride() + i], 1e-6,
                                    e + " key at " + (p + r));
                            assertEquals(v[h * HEAD + i], rv.data()[rv.offset() + r * rv.stride() + i], 1e-6,
                                    e + " value at " + (p + r));
                        }
                    }
                    p += count;
                }
            }
        }
    }

    @Test
    void residualWindowServesRecentPositionsExactlyAndSurvivesRewind() {
        int n = 40, r = 8;
        float[][] keys = data(n, 7);
        float[][] vals = data(n, 8);
        float[] q = data(1, 9)[0];
        KvCache c = new KvCache(LAYERS, n, KV_DIM, HEAD, KvEncoding.Q4, r, K);
        for (int p = 0; p < n; p++) {
            c.put(0, p, keys[p], 0, vals[p], 0);
        }
        c.extendTo(n);
        for (int p = 0; p < n; p++) {
            float exact = K.dot(q, 0, keys[p], 0, HEAD);
            float got = c.dotKey(q, 0, 0, p, 0, HEAD);
            if (p >= n - r) {
                assertEquals(exact, got, 0f, "recent position " + p + " must be exact");
            } else {
                assertTrue(exact != got, "old position " + p + " must come from the 4-bit store");
            }
        }
        // Rewind into the window, rewrite one position with other data: the window serves the new
        // value, and rewound positions that were not rewritten fall back to their quantized copy.
        c.truncate(n - 4);
        float[] other = data(1, 10)[0];
        c.put(0, n - 4, other, 0, other, 0);
        assertEquals(K.dot(q, 0, other, 0, HEAD), c.dotKey(q, 0, 0, n - 4, 0, HEAD), 0f);
        assertEquals(K.dot(q, 0, keys[n - 5], 0, HEAD), c.dotKey(q, 0, 0, n - 5, 0, HEAD), 0f);
        assertTrue(K.dot(q, 0, keys[n - 3], 0, HEAD) != c.dotKey(q, 0, 0, n - 3, 0, HEAD));
    }

    @Test
    void bytesPerTokenAndByteSize() {
        long f32 = new KvCache(LAYERS, 100, KV_DIM, HEAD, KvEncoding.F32, 32, K).bytesPerToken();
        assertEquals(2L * LAYERS * KV_DIM * Float.BYTES, f32);
        KvCache f16 = new KvCache(LAYERS, 100, KV_DIM, HEAD, KvEncoding.F16, 32, K);
        assertEquals(f32 / 2, f16.bytesPerToken());
        KvCache q8 = new KvCache(LAYERS, 100, KV_DIM, HEAD, KvEncoding.Q8, 32, K);
        assertEquals(2L * LAYERS * (KV_DIM + KV_DIM / GROUP * 4), q8.bytesPerToken());
        KvCache q4 = new KvCache(LAYERS, 100, KV_DIM, HEAD, KvEncoding.Q4, 0, K);
        assertEquals(2L * LAYERS * (KV_DIM / 2 + KV_DIM / GROUP * 8), q4.bytesPerToken());
        assertTrue(f32 >= 3.5 * q4.bytesPerToken(), "4-bit must be ≥ 3.5× smaller");
        assertEquals(100 * q4.bytesPerToken(), q4.byteSize());
        // The residual window is a fixed cost on top of the store.
        assertEquals(100 * q8.bytesPerToken() + 2L * LAYERS * 32 * KV_DIM * 4 + LAYERS * 32 * 4, q8.byteSize());
    }

    @Test
    void parsesCacheTypes() {
        assertEquals(KvEncoding.Q4, KvEncoding.parse("q4"));
        assertEquals(KvEncoding.F16, KvEncoding.parse(" F16 "));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> KvEncoding.parse("q5"));
    }

    /** Per-channel (KIVI) keys: every channel of a finished group within half its own step; the window exact. */
    @ParameterizedTest
    @EnumSource(value = KvEncoding.class, names = {"Q8C", "Q4C"})
    void channelKeysRoundTripWithinEachChannelsStep(KvEncoding e) {
        int n = 100;
        int span = KvCache.KEY_SPAN;
        float[][] keys = data(n, 31);
        float[][] vals = data(n, 32);
        KvCache c = new KvCache(LAYERS, n, KV_DIM, HEAD, e, 0, K);
        assertEquals(span, c.residual(), "the window is raised to one key group");
        for (int p = 0; p < n; p++) {
            c.put(1, p, keys[p], 0, vals[p], 0);
        }
        c.extendTo(n);
        float[] k = new float[KV_DIM];
        float[] v = new float[KV_DIM];
        int quantized = 0;
        for (int p = 0; p < n; p++) {
            c.get(1, p, k, v);
            int g0 = p / span * span;
            for (int i = 0; i < KV_DIM; i++) {
                if (p >= n - span) {
                    assertEquals(keys[p][i], k[i], 0f, e + ": position " + p + " is in the window");
                    continue;
                }
                float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY, amax = 0;
                for (int r = g0; r < g0 + span; r++) {
                    lo = Math.min(lo, keys[r][i]);
                    hi = Math.max(hi, keys[r][i]);
                    amax = Math.max(amax, Math.abs(keys[r][i]));
                }
                double bound = (e == KvEncoding.Q8C ? amax / 127.0 : (hi - lo) / 15.0) / 2 * (1 + 1e-5) + 1e-6;
                double err = Math.abs(k[i] - keys[p][i]);
                assertTrue(err <= bound, e + " pos " + p + " channel " + i + ": error " + err + " > " + bound);
                quantized++;
            }
        }
        assertEquals((n - span) * KV_DIM, quantized);
    }

    /**
     * The attention's score read ({@link KvCache#keyScores}, which scores per-channel groups from
     * their codes with the scales folded into the queries) against dequantize-then-dot, for every
     * encoding, contiguous and paged, across group, block and window boundaries.
     */
    @ParameterizedTest
    @EnumSource(KvEncoding.class)
    void keyScoresEqualDequantizeThenDot(KvEncoding e) {
        int n = 150;
        int heads = 5;
        float[][] keys = data(n, 41);
        float[][] vals = data(n, 42);
        float[] q = new float[heads * HEAD];
        float[][] qs = data(heads * HEAD / KV_DIM + 1, 43);
        for (int i = 0; i < q.length; i++) {
            q[i] = qs[i / KV_DIM][i % KV_DIM];
        }
        for (KvCache c : flatAndPaged(e, 0, keys, vals, 32, 0)) {
            KvCache.Rows rows = new KvCache.Rows();
            float[] s = new float[heads * n];
            float[] k = new float[KV_DIM];
            float[] v = new float[KV_DIM];
            for (int h = 0; h < KV_HEADS; h++) {
                for (int p = 0; p < n; ) {
                    int count = Math.min(Math.min(64, n - p), c.contiguous(p));
                    c.keyScores(0, p, count, h * HEAD, HEAD, q, 0, heads, s, p, n, rows);
                    p += count;
                }
                double worstDiff = 0;
                for (int p = 0; p < n; p++) {
                    c.get(0, p, k, v);
                    for (int g = 0; g < heads; g++) {
                        double ref = 0;
                        for (int i = 0; i < HEAD; i++) {
                            ref += (double) q[g * HEAD + i] * k[h * HEAD + i];
                        }
                        assertEquals(ref, s[g * n + p], 2e-5 * (1 + Math.abs(ref)),
                                e + (c.paged() ? " paged" : "") + " score of query " + g + " at " + p);
                        double exact = 0;
                        for (int i = 0; i < HEAD; i++) {
                            exact += (double) q[g * HEAD + i] * keys[p][h * HEAD + i];
                        }
                        worstDiff = Math.max(worstDiff, Math.abs(exact - s[g * n + p]));
                    }
                }
                if (e != KvEncoding.F32) {
                    assertTrue(worstDiff > 0, e + ": the scores are read from the quantized store");
                }
            }
        }
    }

    /** KIVI's point: keys have per-channel offsets and outlier channels, which per-token groups share. */
    @Test
    void perChannelKeysAttendMoreAccuratelyThanPerTokenKeys() {
        int n = 256;
        float[][] keys = data(n, 51);
        float[][] vals = data(n, 52);
        float[][] qs = data(8, 53);
        double[] err = new double[2];
        KvEncoding[] es = {KvEncoding.Q4, KvEncoding.Q4C};
        for (int j = 0; j < 2; j++) {
            KvCache c = new KvCache(LAYERS, n, KV_DIM, HEAD, es[j], 32, K);
            for (int p = 0; p < n; p++) {
                c.put(0, p, keys[p], 0, vals[p], 0);
            }
            for (float[] q : qs) {
                for (int h = 0; h < KV_HEADS; h++) {
                    double[] ref = reference(q, h * HEAD, keys, vals, h * HEAD, n - 1);
                    float[] got = attend(c, 0, q, h * HEAD, h * HEAD, n - 1);
                    for (int i = 0; i < HEAD; i++) {
                        err[j] += (got[i] - ref[i]) * (got[i] - ref[i]);
                    }
                }
            }
        }
        assertTrue(err[1] < err[0], "per-channel keys " + err[1] + " vs per-token " + err[0]);
    }

    /**
     * Rewinding into a finished key group and writing other data: positions before the rewind keep
     * (requantized) their old keys, the new ones are exact while in the window, and once the group
     * is finished again and has left the window, every position is within a step of what was written.
     */
    @ParameterizedTest
    @EnumSource(value = KvEncoding.class, names = {"Q8C", "Q4C"})
    void rewindIntoAFinishedKeyGroupKeepsEveryPosition(KvEncoding e) {
        int n = 100;
        float[][] first = data(n, 61);
        float[][] second = data(n, 62);
        KvCache c = new KvCache(LAYERS, n, KV_DIM, HEAD, e, 32, K);
        for (int p = 0; p < n; p++) {
            c.put(0, p, first[p], 0, first[p], 0);
        }
        c.extendTo(n);
        c.truncate(40); // inside the finished group [32, 64); the window held 68..99
        for (int p = 40; p < 96; p++) {
            c.put(0, p, second[p], 0, second[p], 0);
        }
        c.extendTo(96);
        float[][] written = new float[96][];
        for (int p = 0; p < 96; p++) {
            written[p] = p < 40 ? first[p] : second[p];
        }
        float[] k = new float[KV_DIM];
        float[] v = new float[KV_DIM];
        for (int p = 0; p < 96; p++) {
            c.get(0, p, k, v);
            for (int i = 0; i < KV_DIM; i++) {
                // 0..31: quantized once; 32..39: twice (old group, then the mixed one); 40..63: once,
                // in the mixed group; 64..95: in the window.
                // The mixed group quantizes 32..39 as decoded, which may widen its range by an old step.
                double half = halfStep(e, written, p / 32 * 32, i);
                double old = halfStep(e, first, 32, i);
                double tol = p >= 64 ? 0 : p < 32 ? half : p < 40 ? 2.5 * Math.max(half, old) : half + old / 7;
                assertEquals(written[p][i], k[i], tol, e + " key at " + p + " channel " + i);
            }
            float[] vq = new float[KV_DIM];
            float[] ve = new float[KV_DIM];
            KvStore ref = KvStore.create(e.tokenEncoding(), 1, 1, KV_DIM, GROUP, K);
            ref.put(0, 0, written[p], 0);
            ref.get(0, 0, vq, 0);
            System.arraycopy(p >= 64 ? written[p] : vq, 0, ve, 0, KV_DIM);
            org.junit.jupiter.api.Assertions.assertArrayEquals(ve, v, 1e-5f, e + " value at " + p);
        }
    }

    /** Half the quantization step of channel {@code c} in the per-channel key group of rows {@code [g0, g0 + 32)}. */
    static double halfStep(KvEncoding e, float[][] x, int g0, int c) {
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY, amax = 0;
        for (int r = g0; r < g0 + KvCache.KEY_SPAN; r++) {
            lo = Math.min(lo, x[r][c]);
            hi = Math.max(hi, x[r][c]);
            amax = Math.max(amax, Math.abs(x[r][c]));
        }
        return (e == KvEncoding.Q8C ? amax / 127.0 : (hi - lo) / 15.0) / 2 * (1 + 1e-5) + 1e-6;
    }

    /** Mustafar: each group of 32 keeps exactly its largest magnitudes (ties: the lower index), as halves; the rest read 0. */
    @ParameterizedTest
    @EnumSource(value = KvEncoding.class, names = {"S50", "S70"})
    void sparseKeepsTheLargestMagnitudesOfEachGroup(KvEncoding e) {
        int n = 30;
        float[][] x = data(n, 71);
        for (int p = 0; p < n; p += 3) {
            x[p][5] = x[p][6]; // ties
        }
        KvStore s = KvStore.create(e, LAYERS, n, KV_DIM, GROUP, K);
        int keep = e.sparseKeep(GROUP);
        assertEquals(e == KvEncoding.S50 ? 16 : 10, keep);
        float[] back = new float[KV_DIM];
        for (int p = 0; p < n; p++) {
            s.put(1, p, x[p], 0);
        }
        for (int p = 0; p < n; p++) {
            s.get(1, p, back, 0);
            for (int g = 0; g < KV_DIM; g += GROUP) {
                for (int i = g; i < g + GROUP; i++) {
                    int rank = 0; // how many of the group beat element i
                    for (int j = g; j < g + GROUP; j++) {
                        float a = Math.abs(x[p][j]), b = Math.abs(x[p][i]);
                        if (a > b || a == b && j < i) {
                            rank++;
                        }
                    }
                    float want = rank < keep ? Float.float16ToFloat(Float.floatToFloat16(x[p][i])) : 0f;
                    assertEquals(want, back[i], 0f, e + " pos " + p + " [" + i + "] rank " + rank);
                }
            }
        }
        assertEquals(KV_DIM / GROUP * (4 + 2 * keep), s.bytesPerPosition());
    }

    /** A contiguous and a paged cache (blocks of {@code block}) holding {@code keys}/{@code vals} in {@code layer}. */
    static KvCache[] flatAndPaged(KvEncoding e, int layer, float[][] keys, float[][] vals, int block, int residual) {
        int n = keys.length;
        KvPool pool = new KvPool(LAYERS, KV_DIM, HEAD, e, block, (n + block - 1) / block, K);
        KvCache paged = pool.newSequence(n, residual);
        assertTrue(paged.reserve(n));
        KvCache flat = new KvCache(LAYERS, n, KV_DIM, HEAD, e, residual, K);
        for (KvCache c : new KvCache[] {flat, paged}) {
            for (int p = 0; p < n; p++) {
                c.put(layer, p, keys[p], 0, vals[p], 0);
            }
            c.extendTo(n);
        }
        return new KvCache[] {flat, paged};
    }
}
