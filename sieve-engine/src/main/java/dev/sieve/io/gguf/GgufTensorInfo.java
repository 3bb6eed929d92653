package dev.sieve.io.gguf;

import dev.sieve.core.quant.GgmlTypes;
import java.util.Arrays;

/** A tensor's entry in the GGUF header: dimensions (ggml order), type id, offset in the data section. */
public record GgufTensorInfo(String name, long[] ne, int ggmlType, long offset) {

    public long elementCount() {
        long n = 1;
        for (long d : ne) {
            n *= d;
        }
        return n;
    }

    /** The type's name, or {@code type#N} for an id nobody knows. */
    public String typeName() {
        return GgmlTypes.byId(ggmlType).map(GgmlTypes.TypeSize::name).orElse("type#" + ggmlType);
    }

    public long byteSize() {
        return GgmlTypes.byId(ggmlType).orElseThrow().byteSize(elementCount());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t && t.name.equals(name) && Arrays.equals(t.ne, ne)
                && t.ggmlType == ggmlType && t.offset == offset;
    }

    @Override
    public int hashCode() {
        return name.hashCode();
    }
}
