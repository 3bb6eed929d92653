package dev.sieve.core.quant;

/**
 * An independent decoder of one sparse block, written from docs/formats.md ("Sparse encodings"):
 * it reads a byte array position by position, recomputing each position's rank by counting the
 * mask bits before it, rather than walking the set bits as {@link SparseEncoding} does.
 */
final class SparseReferenceDecoder {
    private SparseReferenceDecoder() {}

    static ReferenceDecoders.Decoder of(SparseEncoding e) {
        return b -> decode(b, e.values(), e.blockSize(), e.tiles(), e.tileBits(), e.capacity());
    }

    static float[] decode(byte[] b, SparseEncoding.Values v, int blockSize, int tiles, int tileBits, int capacity) {
        boolean scaled = v == SparseEncoding.Values.Q8 || v == SparseEncoding.Values.Q4;
        int masksAt = scaled ? 2 * tiles : 0;
        int valuesAt = masksAt + tiles * tileBits / 8;
        float[] out = new float[blockSize];
        for (int p = 0; p < blockSize; p++) {
            if (!bit(b, masksAt, p)) {
                continue;
            }
            int rank = 0;
            for (int q = 0; q < p; q++) {
                rank += bit(b, masksAt, q) ? 1 : 0;
            }
            if (rank >= capacity) {
                continue;
            }
            float d = scaled ? ReferenceDecoders.f16(b, 2 * (p / tileBits)) : 1f;
            out[p] = switch (v) {
                case F16 -> ReferenceDecoders.f16(b, valuesAt + 2 * rank);
                case BF16 -> Float.intBitsToFloat(ReferenceDecoders.le16(b, valuesAt + 2 * rank) << 16);
                case Q8 -> b[valuesAt + rank] * d;
                case Q4 -> {
                    int half = capacity / 2;
                    int byt = ReferenceDecoders.u8(b, valuesAt + (rank < half ? rank : rank - half));
                    yield ((rank < half ? byt & 15 : byt >> 4) - 8) * d;
                }
            };
        }
        return out;
    }

    // Masks are little-endian and tiles follow each other, so the masks form one bit string.
    private static boolean bit(byte[] b, int masksAt, int p) {
        return (b[masksAt + p / 8] >> (p % 8) & 1) != 0;
    }
}
