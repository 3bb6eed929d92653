package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Checks every registered encoding, in the manner of llama.cpp's {@code test-quantize-fns}: round
 * trip error, the quantized dot product, the float dot product, and bit-exact decoding against an
 * independent decoder written from ggml's layouts.
 */
class WeightEncodingConformanceTest {

    /**
     * What the test knows about each encoding: where its float scales sit in a block (so random
     * blocks get finite ones), its independent decoder, and its round-trip bound (RMSE over the RMS
     * of Gaussian data; 0 where it cannot quantize).
     */
    record Spec(int[] f16At, int[] f32At, ReferenceDecoders.Decoder decoder, double rmseBound) {}

    private static final int[] NONE = {};

    // Bounds sit about 25% above the errors measured on Gaussian data (see the report).
    private static final Map<String, Spec> SPECS = withSparse(Map.ofEntries(
            Map.entry("F32", new Spec(NONE, new int[] {0}, ReferenceDecoders::f32, 1e-9)),
            Map.entry("F16", new Spec(new int[] {0}, NONE, ReferenceDecoders::f16, 3e-4)),
            Map.entry("BF16", new Spec(NONE, NONE, ReferenceDecoders::bf16, 2.4e-3)),
            Map.entry("Q8_0", new Spec(new int[] {0}, NONE, b -> ReferenceDecoders.q8(b, 2), 0.007)),
            Map.entry("Q8_1", new Spec(new int[] {0, 2}, NONE, b -> ReferenceDecoders.q8(b, 4), 0.007)),
            Map.entry("Q4_0", new Spec(new int[] {0}, NONE, ReferenceDecoders::q4_0, 0.11)),
            Map.entry("Q4_0_R", new Spec(NONE, new int[] {0, 4}, ReferenceDecoders::q4_0_R, 0.11)),
            Map.entry("Q4_1", new Spec(new int[] {0, 2}, NONE, ReferenceDecoders::q4_1, 0.1025)),
            Map.entry("Q5_0", new Spec(new int[] {0}, NONE, b -> ReferenceDecoders.q5(b, false), 0.053)),
            Map.entry("Q5_1", new Spec(new int[] {0, 2}, NONE, b -> ReferenceDecoders.q5(b, true), 0.05)),
            Map.entry("Q2_K", new Spec(new int[] {80, 82}, NONE, ReferenceDecoders::q2_K, 0)),
            Map.entry("Q3_K", new Spec(new int[] {108}, NONE, ReferenceDecoders::q3_K, 0.19)),
            Map.entry("Q4_K", new Spec(new int[] {0, 2}, NONE, ReferenceDecoders::q4_K, 0.092)),
            Map.entry("Q4_K_R", new Spec(new int[] {0, 2}, NONE, ReferenceDecoders::q4_K_R, 0.092)),
            Map.entry("Q5_K", new Spec(new int[] {0, 2}, NONE, ReferenceDecoders::q5_K, 0.047)),
            Map.entry("Q6_K", new Spec(new int[] {208}, NONE, ReferenceDecoders::q6_K, 0.0235)),
            Map.entry("Q8_K", new Spec(NONE, new int[] {0}, ReferenceDecoders::q8_K, 0.009))));

    /**
     * The sparse encodings: scales (and, for F16/BF16, every value slot) get finite f16s; bounds
     * are relative to the pruned input, about 25% above the measured errors.
     */
    private static Map<String, Spec> withSparse(Map<String, Spec> dense) {
        Map<String, Spec> all = new java.util.HashMap<>(dense);
        for (WeightEncoding w : WeightEncodings.all()) {
            if (w instanceof SparseEncoding e) {
                int[] at;
                double bound;
                switch (e.values()) {
                    case F16, BF16 -> {
                        at = java.util.stream.IntStream.range(0, e.capacity()).map(r -> e.valuesAt() + 2 * r).toArray();
                        bound = e.values() == SparseEncoding.Values.F16 ? 3e-4 : 2.4e-3;
                    }
                    default -> {
                        at = java.util.stream.IntStream.range(0, e.tiles()).map(t -> 2 * t).toArray();
                        bound = e.values() == SparseEncoding.Values.Q8 ? 0.0055 : 0.085;
                    }
                }
                all.put(e.name(), new Spec(at, NONE, SparseReferenceDecoder.of(e), bound));
            }
            if (w instanceof IndexedSparseEncoding e) {
                // The scale gets a finite f16; every index and value byte is valid as it comes.
                double bound = e.values() == SparseEncoding.Values.Q8 ? 0.0055 : 0.085;
                all.put(e.name(), new Spec(new int[] {0}, NONE, b -> indexedDecode(e, b), bound));
            }
            if (w instanceof OutlierEncoding e) {
                // The dense blocks' scales and the outlier's value get finite f16s.
                int db = e.dense().blockBytes();
                int[] at = {0, db, e.valueAt()};
                // Gaussian data: taking the largest of 64 out lowers Q4_0's worst error from 0.087 to 0.077 (Q8_0: 0.0054 to 0.0049).
                double bound = e.dense() == Q4_0Encoding.INSTANCE ? 0.09 : 0.006;
                all.put(e.name(), new Spec(at, NONE, b -> outlierDecode(e, b), bound));
            }
        }
        return Map.copyOf(all);
    }

    /**
     * Independent decoder of an indexed N:16 block, from the layout in its documentation: the f16
     * scale, N index bytes (A's column low, B's high), then Q8's A and B values or Q4's value bytes
     * (A low, B high, minus 8); each value adds to its column.
     */
    static float[] indexedDecode(IndexedSparseEncoding e, byte[] b) {
        int n = e.perGroup();
        float d = ReferenceDecoders.f16(b, 0);
        float[] y = new float[32];
        for (int k = 0; k < n; k++) {
            int idx = ReferenceDecoders.u8(b, 2 + k);
            int a, c;
            if (e.values() == SparseEncoding.Values.Q8) {
                a = b[2 + n + k];
                c = b[2 + 2 * n + k];
            } else {
                int v = ReferenceDecoders.u8(b, 2 + n + k);
                a = (v & 15) - 8;
                c = (v >> 4) - 8;
            }
            y[idx & 15] += d * a;
            y[16 + (idx >> 4)] += d * c;
        }
        return y;
    }

    /**
     * Independent decoder of a dense-and-sparse block: the two dense blocks by the ggml reference
     * decoders, then the outlier (f16 after the position byte) added at its position, taken mod 64.
     */
    static float[] outlierDecode(OutlierEncoding e, byte[] b) {
        int db = e.dense().blockBytes();
        float[] y = new float[OutlierEncoding.BLOCK];
        for (int k = 0; k < 2; k++) {
            byte[] blk = java.util.Arrays.copyOfRange(b, k * db, (k + 1) * db);
            float[] d = e.dense() == Q4_0Encoding.INSTANCE ? ReferenceDecoders.q4_0(blk) : ReferenceDecoders.q8(blk, 2);
            System.arraycopy(d, 0, y, 32 * k, 32);
        }
        y[ReferenceDecoders.u8(b, 2 * db) % 64] += ReferenceDecoders.f16(b, 2 * db + 1);
        return y;
    }

    static Stream<WeightEncoding> encodings() {
        return WeightEncodings.all().stream();
    }

    private static Spec spec(WeightEncoding e) {
        Spec s = SPECS.get(e.name());
        assertNotNull(s, e.name() + " is registered but this test has no decoder or bounds for it");
        return s;
    }

    /** Row lengths: whole blocks, from one block to a few hundred values. */
    private static int[] rowLengths(WeightEncoding e) {
        int bs = e.blockSize();
        return bs >= 256 ? new int[] {bs, 2 * bs, 4 * bs} : new int[] {bs, 3 * bs, 256, 1024};
    }

    private static float[] gaussian(Random r, int n, float sigma) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * sigma);
        }
        return x;
    }

    /** Random block bytes whose float scales are finite and of moderate size. */
    private static MemorySegment randomBlocks(WeightEncoding e, int blocks, Random r, Arena arena) {
        Spec s = spec(e);
        byte[] bytes = new byte[blocks * e.blockBytes()];
        r.nextBytes(bytes);
        MemorySegment seg = arena.allocate(bytes.length);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, seg, 0, bytes.length);
        for (int b = 0; b < blocks; b++) {
            long o = (long) b * e.blockBytes();
            for (int at : s.f16At()) {
                Half.putF16(seg, o + at, (r.nextFloat() * 2 - 1) * 0.1f);
            }
            for (int at : s.f32At()) {
                seg.set(Half.FLOAT_LE, o + at, (r.nextFloat() * 2 - 1) * 0.1f);
            }
            if (e.name().equals("BF16")) {
                seg.set(Half.SHORT_LE, o, Half.toBf16((r.nextFloat() * 2 - 1) * 4));
            }
        }
        return seg;
    }

    private static float[] decode(WeightEncoding e, MemorySegment seg, int n) {
        float[] y = new float[n];
        e.dequantize(seg, 0, y, 0, n);
        return y;
    }

    @Test
    void everyEncodingAgreesWithTheGgmlTypeTableAndTheLookups() {
        for (WeightEncoding e : WeightEncodings.all()) {
            spec(e);
            assertSame(e, WeightEncodings.byGgmlType(e.ggmlType()).orElseThrow());
            assertSame(e, WeightEncodings.byName(e.name().toLowerCase()).orElseThrow());
            GgmlTypes.TypeSize t = GgmlTypes.byId(e.ggmlType()).orElseThrow();
            assertEquals(e.name(), t.name());
            assertEquals(e.blockSize(), t.blockSize(), e.name());
            assertEquals(e.blockBytes(), t.blockBytes(), e.name());
            WeightEncoding act = e.activationEncoding();
            assertTrue(act.canQuantize(), e.name() + "'s activations must be quantizable");
            assertEquals(0, e.blockSize() % act.blockSize(), e.name() + ": activation blocks must tile weight blocks");
        }
    }

    @Test
    void roundingHelpersMatchGgml() {
        // nearest_int rounds halves to even; roundf rounds them away from zero.
        assertEquals(2, QuantMath.nearestInt(2.5f));
        assertEquals(4, QuantMath.nearestInt(3.5f));
        assertEquals(-2, QuantMath.nearestInt(-2.5f));
        assertEquals(3, QuantMath.roundAway(2.5f));
        assertEquals(-3, QuantMath.roundAway(-2.5f));
        assertEquals(0, QuantMath.roundAway(0.49999997f));
        assertEquals(-127, QuantMath.roundAway(-126.5f));
    }

    /** (a) Quantize then dequantize: the error stays under the encoding's bound. */
    @ParameterizedTest
    @MethodSource("encodings")
    void roundTripErrorIsBounded(WeightEncoding e) {
        if (!e.canQuantize()) {
            assertEquals(0, spec(e).rmseBound(), e.name() + " has a bound but cannot quantize");
            return;
        }
        double bound = spec(e).rmseBound();
        assertTrue(bound > 0, e.name() + " can quantize but has no round-trip bound");
        Random r = new Random(42);
        try (Arena arena = Arena.ofConfined()) {
            double worst = 0;
            for (int n : rowLengths(e)) {
                float[] x = gaussian(r, n, 0.05f);
                e.prune(x, 0, n); // sparse encodings store only what survives pruning
                MemorySegment q = arena.allocate(e.byteSize(n));
                e.quantize(x, 0, q, 0, n);
                float[] y = decode(e, q, n);
                double err = 0;
                double ss = 0;
                for (int i = 0; i < n; i++) {
                    err += (y[i] - x[i]) * (double) (y[i] - x[i]);
                    ss += (double) x[i] * x[i];
                }
                double rel = Math.sqrt(err / ss);
                worst = Math.max(worst, rel);
                assertTrue(rel < bound, e.name() + " n=" + n + ": relative RMSE " + rel + " >= " + bound);
            }
            System.out.printf("round trip %-5s worst relative RMSE %.5f (bound %.5f)%n", e.name(), worst, bound);

            // An all-zero row must come back as zeros (no 0/0 in the scales).
            int n = e.blockSize() * 2;
            MemorySegment q = arena.allocate(e.byteSize(n));
            e.quantize(new float[n], 0, q, 0, n);
            for (float v : decode(e, q, n)) {
                assertTrue(v == 0f, e.name() + ": zero row gave " + v); // -0.0 allowed, as in ggml
            }
        }
    }

    /** Weights to test dot products on: random valid blocks, plus quantized data where possible. */
    private static MemorySegment[] weightSamples(WeightEncoding e, int n, Random r, Arena arena) {
        MemorySegment random = randomBlocks(e, n / e.blockSize(), r, arena);
        if (!e.canQuantize()) {
            return new MemorySegment[] {random};
        }
        MemorySegment quantized = arena.allocate(e.byteSize(n));
        float[] g = gaussian(r, n, 0.05f);
        e.prune(g, 0, n);
        e.quantize(g, 0, quantized, 0, n);
        return new MemorySegment[] {random, quantized};
    }

    /** (b) The integer dot against the activation encoding equals the dot of the decoded values. */
    @ParameterizedTest
    @MethodSource("encodings")
    void quantizedDotMatchesDecodedDot(WeightEncoding e) {
        WeightEncoding act = e.activationEncoding();
        Random r = new Random(7);
        try (Arena arena = Arena.ofConfined()) {
            for (int n : rowLengths(e)) {
                for (MemorySegment w : weightSamples(e, n, r, arena)) {
                    float[] x = gaussian(r, n, 1f);
                    MemorySegment a = arena.allocate(act.byteSize(n));
                    act.quantize(x, 0, a, 0, n);
                    float[] wd = decode(e, w, n);
                    float[] ad = decode(act, a, n);
                    double expected = 0;
                    double magnitude = 0;
                    for (int i = 0; i < n; i++) {
                        expected += (double) wd[i] * ad[i];
                        magnitude += Math.abs((double) wd[i] * ad[i]);
                    }
                    if (act == Q8_1Encoding.INSTANCE && e != act) {
                        expected += q8_1MinTermCorrection(e, w, a, ad, n);
                    }
                    float got = e.dotQuantized(w, 0, a, 0, n);
                    assertEquals(expected, got, 1e-5 * magnitude + 1e-30,
                            e.name() + " x " + act.name() + " n=" + n);
                }
            }
        }
    }

    /**
     * Q4_1 and Q5_1 add their min term as m·s, where Q8_1's s is d·Σq rounded to f16 (as in ggml),
     * not the exact sum of the decoded activations. The difference per block: m·(s − Σ a).
     */
    private static double q8_1MinTermCorrection(WeightEncoding e, MemorySegment w, MemorySegment a,
            float[] ad, int n) {
        double c = 0;
        for (int b = 0; b < n / 32; b++) {
            float m = Half.f16(w, (long) b * e.blockBytes() + 2); // Q4_1, Q5_1: m follows d
            float s = Half.f16(a, (long) b * Q8_1Encoding.BLOCK_BYTES + 2);
            double exact = 0;
            for (int i = 0; i < 32; i++) {
                exact += ad[32 * b + i];
            }
            c += m * (s - exact);
        }
        return c;
    }

    /** (c) The float-activation dot equals the dot of the decoded weights. */
    @ParameterizedTest
    @MethodSource("encodings")
    void floatDotMatchesDequantize(WeightEncoding e) {
        Random r = new Random(11);
        try (Arena arena = Arena.ofConfined()) {
            for (int n : rowLengths(e)) {
                for (MemorySegment w : weightSamples(e, n, r, arena)) {
                    float[] x = gaussian(r, n + 5, 1f);
                    float[] wd = decode(e, w, n);
                    double expected = 0;
                    double magnitude = 0;
                    for (int i = 0; i < n; i++) {
                        expected += (double) wd[i] * x[5 + i];
                        magnitude += Math.abs((double) wd[i] * x[5 + i]);
                    }
                    float got = e.dot(w, 0, x, 5, n);
                    assertEquals(expected, got, 1e-5 * magnitude + 1e-30, e.name() + " n=" + n);
                }
            }
        }
    }

    /** (d) dequantize agrees bit for bit with the independent decoder, on random blocks. */
    @ParameterizedTest
    @MethodSource("encodings")
    void dequantizeMatchesIndependentDecoderBitExactly(WeightEncoding e) {
        Random r = new Random(3);
        int blocks = e.blockSize() >= 256 ? 64 : 512;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = randomBlocks(e, blocks, r, arena);
            int n = blocks * e.blockSize();
            // Decode from a nonzero offset into the middle of an array, as callers do.
            float[] got = new float[n + 3];
            e.dequantize(seg, e.blockBytes(), got, 3, n - e.blockSize());
            byte[] all = seg.toArray(ValueLayout.JAVA_BYTE);
            for (int b = 1; b < blocks; b++) {
                byte[] block = new byte[e.blockBytes()];
                System.arraycopy(all, b * e.blockBytes(), block, 0, e.blockBytes());
                float[] want = spec(e).decoder().decode(block);
                assertEquals(e.blockSize(), want.length);
                for (int i = 0; i < want.length; i++) {
                    int at = 3 + (b - 1) * e.blockSize() + i;
                    if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[at])) {
                        fail(e.name() + " block " + b + " weight " + i + ": decoder " + want[i]
                                + ", dequantize " + got[at]);
                    }
                }
            }
        }
    }

    /**
     * Q8_0's round trip without the bytes (the float path's activation rounding) gives what
     * quantizing and dequantizing give, bit for bit: Gaussian blocks, an all-zero block, a block of
     * subnormals, a block with one huge value.
     */
    @org.junit.jupiter.api.Test
    void q8_0RoundTripEqualsQuantizeThenDequantize() {
        Random r = new Random(13);
        int n = 32 * 40;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian() * (1 + i / 64);
        }
        java.util.Arrays.fill(x, 32, 64, 0f);
        for (int i = 64; i < 96; i++) {
            x[i] = Float.MIN_VALUE * (i - 80);
        }
        x[100] = 3e38f;
        MemorySegment q = MemorySegment.ofArray(new byte[(n / 32) * Q8_0Encoding.BLOCK_BYTES]);
        Q8_0Encoding.INSTANCE.quantize(x, 0, q, 0, n);
        float[] want = new float[n], got = new float[n + 5];
        Q8_0Encoding.INSTANCE.dequantize(q, 0, want, 0, n);
        Q8_0Encoding.INSTANCE.roundTrip(x, 0, got, 5, n);
        for (int i = 0; i < n; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i + 5]), "value " + i + " (" + x[i] + ")");
        }
    }

    /**
     * Q4_0_R is Q4_0 in another layout: random Q4_0 blocks (any f16 scale bits, subnormals too),
     * repacked in pairs from odd offsets, decode to the same floats bit for bit, by the encoding and
     * by the independent decoders.
     */
    @org.junit.jupiter.api.Test
    void repackingQ4_0KeepsEveryValue() {
        Random r = new Random(12);
        int blocks = 2 * 64 + 1; // an odd first block, then 64 pairs
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q4 = randomBlocks(Q4_0Encoding.INSTANCE, blocks, r, arena);
            for (int k = 1; k < blocks; k += 5) { // some subnormal scales
                q4.set(ValueLayout.JAVA_SHORT_UNALIGNED, (long) k * Q4_0Encoding.BLOCK_BYTES, (short) (r.nextInt(0x3FF) + 1));
            }
            int pairs = (blocks - 1) / 2;
            MemorySegment rp = arena.allocate((long) (pairs + 1) * Q4_0RepackedEncoding.BLOCK_BYTES);
            Q4_0RepackedEncoding.INSTANCE.repack(Q4_0Encoding.INSTANCE, q4, Q4_0Encoding.BLOCK_BYTES, rp,
                    Q4_0RepackedEncoding.BLOCK_BYTES, 64L * pairs);
            int n = pairs * 64;
            float[] want = new float[n], got = new float[n];
            Q4_0Encoding.INSTANCE.dequantize(q4, Q4_0Encoding.BLOCK_BYTES, want, 0, n);
            Q4_0RepackedEncoding.INSTANCE.dequantize(rp, Q4_0RepackedEncoding.BLOCK_BYTES, got, 0, n);
            byte[] a = q4.toArray(ValueLayout.JAVA_BYTE), b = rp.toArray(ValueLayout.JAVA_BYTE);
            for (int k = 1; k <= pairs; k++) {
                float[] g = ReferenceDecoders.q4_0_R(java.util.Arrays.copyOfRange(b, k * 40, (k + 1) * 40));
                for (int h = 0; h < 2; h++) {
                    int blk = 2 * k - 1 + h;
                    float[] w = ReferenceDecoders.q4_0(java.util.Arrays.copyOfRange(a, blk * 18, (blk + 1) * 18));
                    for (int i = 0; i < 32; i++) {
                        int at = (k - 1) * 64 + 32 * h + i;
                        assertEquals(Float.floatToRawIntBits(want[at]), Float.floatToRawIntBits(got[at]), "pair " + k + " weight " + (32 * h + i));
                        assertEquals(Float.floatToRawIntBits(w[i]), Float.floatToRawIntBits(g[32 * h + i]), "reference decoders, pair " + k);
                        assertEquals(Float.floatToRawIntBits(w[i]), Float.floatToRawIntBits(want[at]));
                    }
                }
            }
            assertThrows(IllegalArgumentException.class, () -> Q4_0RepackedEncoding.INSTANCE.repack(
                    Q4_0Encoding.INSTANCE, q4, 0, rp, 0, 32), "half a pair");
        }
    }

    /**
     * Q4_K_R is Q4_K in another layout: random Q4_K blocks (any scale and min bits), repacked, decode
     * to the same floats bit for bit, by the encoding and by the independent decoders.
     */
    @org.junit.jupiter.api.Test
    void repackingQ4_KKeepsEveryValue() {
        Random r = new Random(11);
        int blocks = 64;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q4k = randomBlocks(Q4_KEncoding.INSTANCE, blocks, r, arena);
            MemorySegment rp = arena.allocate((long) blocks * Q4_KRepackedEncoding.BLOCK_BYTES);
            // From an odd offset on both sides, as tensors inside a file are.
            Q4_KRepackedEncoding.INSTANCE.repack(Q4_KEncoding.INSTANCE, q4k, Q4_KEncoding.BLOCK_BYTES, rp,
                    Q4_KRepackedEncoding.BLOCK_BYTES, 256L * (blocks - 1));
            int n = (blocks - 1) * 256;
            float[] want = new float[n], got = new float[n];
            Q4_KEncoding.INSTANCE.dequantize(q4k, Q4_KEncoding.BLOCK_BYTES, want, 0, n);
            Q4_KRepackedEncoding.INSTANCE.dequantize(rp, Q4_KRepackedEncoding.BLOCK_BYTES, got, 0, n);
            byte[] a = q4k.toArray(ValueLayout.JAVA_BYTE), b = rp.toArray(ValueLayout.JAVA_BYTE);
            for (int k = 1; k < blocks; k++) {
                float[] w = ReferenceDecoders.q4_K(java.util.Arrays.copyOfRange(a, k * 144, (k + 1) * 144));
                float[] g = ReferenceDecoders.q4_K_R(java.util.Arrays.copyOfRange(b, k * 148, (k + 1) * 148));
                for (int i = 0; i < 256; i++) {
                    int at = (k - 1) * 256 + i;
                    assertEquals(Float.floatToRawIntBits(want[at]), Float.floatToRawIntBits(got[at]), "block " + k + " weight " + i);
                    assertEquals(Float.floatToRawIntBits(w[i]), Float.floatToRawIntBits(g[i]), "reference decoders, block " + k + " weight " + i);
                    assertEquals(Float.floatToRawIntBits(w[i]), Float.floatToRawIntBits(want[at]));
                }
            }
        }
    }
}
