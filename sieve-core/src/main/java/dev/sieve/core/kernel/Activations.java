package dev.sieve.core.kernel;

import dev.sieve.core.quant.WeightEncoding;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The input of a matrix product: {@code tokens} rows of {@code cols} floats, and, once {@link
 * Kernels#prepare} has run, the same rows in the activation encoding the weights ask for (ggml's
 * {@code vec_dot_type}). Buffers grow on demand and are then reused, so steady-state decoding
 * allocates nothing.
 */
public final class Activations {
    private final Arena arena = Arena.ofAuto();
    private MemorySegment encoded = MemorySegment.NULL;
    private MemorySegment offHeap = MemorySegment.NULL;
    private float[] heap = new float[0];
    private MemorySegment heapView = MemorySegment.ofArray(heap);
    private WeightEncoding encoding;
    float[] x;
    int tokens;
    int cols;

    /** Points this buffer at {@code tokens} rows of {@code cols} floats in {@code x}; clears the encoded form. */
    public Activations set(float[] x, int tokens, int cols) {
        this.x = x;
        this.tokens = tokens;
        this.cols = cols;
        this.encoding = null;
        return this;
    }

    public float[] floats() {
        return x;
    }

    public int tokens() {
        return tokens;
    }

    public int cols() {
        return cols;
    }

    /** The encoding of {@link #encoded()}, or null when not prepared. */
    public WeightEncoding encoding() {
        return encoding;
    }

    /** The rows in {@link #encoding()}, row t at byte {@code t * encoding.byteSize(cols)}. */
    public MemorySegment encoded() {
        return encoded;
    }

    /** Makes room for the encoded rows and records which encoding they are in. */
    public MemorySegment reserve(WeightEncoding e) {
        return reserve(e, e.byteSize((long) tokens * cols));
    }

    /**
     * As {@link #reserve(WeightEncoding)}, for a kernel that lays the rows of {@code e} out its own
     * way (e.g. widened for its arithmetic) in {@code need} bytes.
     */
    public MemorySegment reserve(WeightEncoding e, long need) {
        if (offHeap.byteSize() < need) {
            offHeap = arena.allocate(Math.max(need, offHeap.byteSize() * 2), 64);
        }
        encoding = e;
        encoded = offHeap;
        return encoded;
    }

    /**
     * As {@link #reserve(WeightEncoding, long)} for {@code need} floats kept on the heap, for a kernel
     * that reads single activations (broadcasts) from an array rather than vectors from a segment:
     * {@link #encoded()} is then a view of the array {@link #heapFloats()} returns, so every worker
     * thread reads the rows {@code prepare} wrote without copying them.
     */
    public float[] reserveFloats(WeightEncoding e, int need) {
        side(need);
        encoding = e;
        encoded = heapView;
        return heap;
    }

    /**
     * A heap array of at least {@code need} floats beside the encoded rows, which stay where {@link
     * #reserve} put them: for a kernel that also keeps the rows in a layout of its own (e.g. transposed
     * for a prompt kernel). It is the array {@link #reserveFloats} uses, so it holds what the last
     * {@link Kernels#prepare} wrote.
     */
    public float[] side(int need) {
        if (heap.length < need) {
            heap = new float[Math.max(need, heap.length * 2)];
            heapView = MemorySegment.ofArray(heap);
        }
        return heap;
    }

    /** The array {@link #side(int)} returned last. */
    public float[] side() {
        return heap;
    }

    /** The array behind {@link #encoded()} after {@link #reserveFloats}; null after {@link #reserve}. */
    public float[] heapFloats() {
        return encoded == heapView ? heap : null;
    }
}
