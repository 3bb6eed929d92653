package dev.sieve.io.gguf;

/** GGUF metadata value types, by their on-disk id. */
public enum GgufType {
    UINT8(1), INT8(1), UINT16(2), INT16(2), UINT32(4), INT32(4), FLOAT32(4), BOOL(1),
    STRING(8), ARRAY(12), UINT64(8), INT64(8), FLOAT64(8);

    /** The fewest bytes one value of this type takes on disk (a bound for absurd lengths). */
    final int minBytes;

    GgufType(int minBytes) {
        this.minBytes = minBytes;
    }

    static GgufType ofId(int id) {
        GgufType[] v = values();
        if (id < 0 || id >= v.length) {
            throw new GgufFormatException("unknown metadata value type " + id);
        }
        return v[id];
    }
}
