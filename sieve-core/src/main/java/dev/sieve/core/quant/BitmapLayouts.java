package dev.sieve.core.quant;

import java.util.function.Function;

/**
 * One in-memory layout per bitmap Q8 or Q4 type (a value type and a capacity of 1..256), made on first
 * use and the same instance after, so that layouts compare by identity as the registered encodings do.
 */
final class BitmapLayouts<T extends WeightEncoding> {
    private final Object[] q8 = new Object[SparseEncoding.BITMAP_BLOCK], q4 = new Object[SparseEncoding.BITMAP_BLOCK];
    private final Function<SparseEncoding, T> make;

    BitmapLayouts(Function<SparseEncoding, T> make) {
        this.make = make;
    }

    /** The layout of {@code s}, a bitmap type with Q8 or Q4 values. */
    @SuppressWarnings("unchecked")
    T of(SparseEncoding s) {
        Object[] all = s.values() == SparseEncoding.Values.Q4 ? q4 : q8;
        synchronized (all) {
            if (all[s.capacity() - 1] == null) {
                all[s.capacity() - 1] = make.apply(s);
            }
            return (T) all[s.capacity() - 1];
        }
    }
}
