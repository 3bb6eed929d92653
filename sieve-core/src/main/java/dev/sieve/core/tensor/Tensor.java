package dev.sieve.core.tensor;

import dev.sieve.core.quant.WeightEncoding;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A weight tensor: a name, an encoding, ggml-ordered dimensions ({@code ne[0]} is the contiguous
 * one, so a matrix {@code W[out][in]} has {@code ne = [in, out]}), and the bytes, usually a slice
 * of a memory-mapped file. No math lives here.
 */
public record Tensor(String name, WeightEncoding encoding, long[] ne, MemorySegment data) {

    public Tensor {
        long n = 1;
        for (long d : ne) {
            if (d <= 0) {
                throw new IllegalArgumentException(name + ": non-positive dimension in " + Arrays.toString(ne));
            }
            n = Math.multiplyExact(n, d);
        }
        if (ne[0] % encoding.blockSize() != 0) {
            throw new IllegalArgumentException(name + ": row length " + ne[0] + " is not a multiple of "
                    + encoding.name() + "'s block size " + encoding.blockSize());
        }
        long need = encoding.byteSize(n);
        if (data.byteSize() < need) {
            throw new IllegalArgumentException(name + ": needs " + need + " bytes, has " + data.byteSize());
        }
        ne = ne.clone();
    }

    /** Allocates a zeroed tensor in {@code arena}. */
    public static Tensor allocate(String name, WeightEncoding encoding, Arena arena, long... ne) {
        long n = 1;
        for (long d : ne) {
            n *= d;
        }
        return new Tensor(name, encoding, ne, arena.allocate(encoding.byteSize(n), 64));
    }

    /** Length of a row (the contiguous dimension). */
    public int cols() {
        return Math.toIntExact(ne[0]);
    }

    /** Number of rows: the product of all but the first dimension. */
    public int rows() {
        long r = 1;
        for (int i = 1; i < ne.length; i++) {
            r *= ne[i];
        }
        return Math.toIntExact(r);
    }

    public long elementCount() {
        return (long) cols() * rows();
    }

    public long rowBytes() {
        return encoding.byteSize(ne[0]);
    }

    public long byteSize() {
        return encoding.byteSize(elementCount());
    }

    /** Bytes of {@link #data} that hold the weights, what a product reads ({@link WeightEncoding#heldBytes}). */
    public long heldBytes() {
        return encoding.heldBytes(data, rows(), cols());
    }

    /** Decodes row {@code row} into {@code dst[off .. off + cols)} with the reference codec. */
    public void dequantizeRow(int row, float[] dst, int off) {
        encoding.dequantizeRow(data, rowBytes(), row, dst, off, cols());
    }

    /** Decodes the whole tensor onto the heap (for tests, tools and small tensors such as norms). */
    public float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(elementCount())];
        if (encoding.rowGroup() > 1) {
            for (int r = 0; r < rows(); r++) {
                dequantizeRow(r, out, r * cols());
            }
            return out;
        }
        encoding.dequantize(data, 0, out, 0, out.length);
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tensor t && t.name.equals(name) && t.encoding == encoding
                && Arrays.equals(t.ne, ne) && t.data.equals(data);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(ne);
    }

    @Override
    public String toString() {
        return name + " " + encoding.name() + " " + Arrays.toString(ne);
    }
}
