package dev.sieve.core.quant;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** The table of encodings Sieve knows: one row per encoding, looked up by GGUF id or by name. */
public final class WeightEncodings {
    private static final List<WeightEncoding> ALL = List.of(
            F32Encoding.INSTANCE,
            F16Encoding.INSTANCE,
            BF16Encoding.INSTANCE,
            Q8_0Encoding.INSTANCE,
            Q4_0Encoding.INSTANCE,
            Q4_1Encoding.INSTANCE,
            Q5_0Encoding.INSTANCE,
            Q5_1Encoding.INSTANCE,
            Q8_1Encoding.INSTANCE,
            Q2_KEncoding.INSTANCE,
            Q3_KEncoding.INSTANCE,
            Q4_KEncoding.INSTANCE,
            Q5_KEncoding.INSTANCE,
            Q6_KEncoding.INSTANCE,
            Q8_KEncoding.INSTANCE,
            // Q4_K's values in the layout of Sieve's 16-bit decode kernel (made from Q4_K at load).
            Q4_KRepackedEncoding.INSTANCE,
            // Q4_0's values with a pair of blocks' nibbles in one 32-byte load (made from Q4_0 at load).
            Q4_0RepackedEncoding.INSTANCE,
            // Sparse encodings: every N:M one, and bitmap at 50% (and 70% for Q8 and Q4); the other
            // bitmap capacities are found by id or name but not listed, so tests stay small.
            SparseEncoding.nm(2, 4, SparseEncoding.Values.F16),
            SparseEncoding.nm(2, 4, SparseEncoding.Values.BF16),
            SparseEncoding.nm(2, 4, SparseEncoding.Values.Q8),
            SparseEncoding.nm(2, 4, SparseEncoding.Values.Q4),
            SparseEncoding.nm(4, 8, SparseEncoding.Values.F16),
            SparseEncoding.nm(4, 8, SparseEncoding.Values.BF16),
            SparseEncoding.nm(4, 8, SparseEncoding.Values.Q8),
            SparseEncoding.nm(4, 8, SparseEncoding.Values.Q4),
            SparseEncoding.bitmap(SparseEncoding.Values.F16, 128),
            SparseEncoding.bitmap(SparseEncoding.Values.BF16, 128),
            SparseEncoding.bitmap(SparseEncoding.Values.Q8, 128),
            SparseEncoding.bitmap(SparseEncoding.Values.Q8, 77),
            SparseEncoding.bitmap(SparseEncoding.Values.Q4, 128),
            SparseEncoding.bitmap(SparseEncoding.Values.Q4, 77),
            // Indexed N:16 (each stored value with its 4-bit column): 50% and 69% for Q8 and Q4; the
            // other N are found by id or name.
            IndexedSparseEncoding.of(8, SparseEncoding.Values.Q8),
            IndexedSparseEncoding.of(5, SparseEncoding.Values.Q8),
            IndexedSparseEncoding.of(8, SparseEncoding.Values.Q4),
            IndexedSparseEncoding.of(5, SparseEncoding.Values.Q4),
            // Dense-and-sparse: Q4_0 or Q8_0 plus one f16 outlier per 64 weights.
            OutlierEncoding.Q4_0_O,
            OutlierEncoding.Q8_0_O);

    private WeightEncodings() {}

    public static List<WeightEncoding> all() {
        return ALL;
    }

    public static Optional<WeightEncoding> byGgmlType(int id) {
        for (WeightEncoding e : ALL) {
            if (e.ggmlType() == id) {
                return Optional.of(e);
            }
        }
        return SparseEncoding.byGgmlType(id).or(() -> OutlierEncoding.byGgmlType(id))
                .or(() -> IndexedSparseEncoding.byGgmlType(id));
    }

    public static Optional<WeightEncoding> byName(String name) {
        String n = name.toUpperCase(Locale.ROOT);
        for (WeightEncoding e : ALL) {
            if (e.name().equals(n)) {
                return Optional.of(e);
            }
        }
        return SparseEncoding.byName(n).or(() -> OutlierEncoding.byName(n)).or(() -> IndexedSparseEncoding.byName(n));
    }
}
