package dev.sieve.io.gguf;

import java.util.Arrays;

/**
 * One metadata value with its GGUF type. Scalars hold a boxed Java value: {@code Integer} for
 * (u)int8/16 and int32, {@code Long} for uint32 and (u)int64, {@code Float}, {@code Double},
 * {@code Boolean}, {@code String}. Arrays hold a primitive array by element type: {@code int[]}
 * for (u)int8/16 and int32, {@code long[]} for uint32 and (u)int64, {@code float[]}, {@code
 * double[]}, {@code boolean[]}, {@code String[]}, and {@code GgufValue[]} for nested arrays.
 */
public record GgufValue(GgufType type, GgufType elementType, Object value) {

    public static GgufValue ofString(String s) { return new GgufValue(GgufType.STRING, null, s); }
    public static GgufValue ofU32(long v) { return new GgufValue(GgufType.UINT32, null, v); }
    public static GgufValue ofI32(int v) { return new GgufValue(GgufType.INT32, null, v); }
    public static GgufValue ofU64(long v) { return new GgufValue(GgufType.UINT64, null, v); }
    public static GgufValue ofF32(float v) { return new GgufValue(GgufType.FLOAT32, null, v); }
    public static GgufValue ofBool(boolean v) { return new GgufValue(GgufType.BOOL, null, v); }
    public static GgufValue ofStrings(String[] v) { return new GgufValue(GgufType.ARRAY, GgufType.STRING, v); }
    public static GgufValue ofF32s(float[] v) { return new GgufValue(GgufType.ARRAY, GgufType.FLOAT32, v); }
    public static GgufValue ofI32s(int[] v) { return new GgufValue(GgufType.ARRAY, GgufType.INT32, v); }

    public boolean isArray() {
        return type == GgufType.ARRAY;
    }

    /** Number of elements of an array value. */
    public int length() {
        return java.lang.reflect.Array.getLength(value);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufValue g && g.type == type && g.elementType == elementType
                && Arrays.deepEquals(new Object[] {value}, new Object[] {g.value});
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(new Object[] {type, elementType, value});
    }

    /** A short human rendering: scalars as is, arrays as their type and length. */
    @Override
    public String toString() {
        if (!isArray()) {
            return type == GgufType.STRING ? '"' + value.toString() + '"' : String.valueOf(value);
        }
        return "[" + elementType.name().toLowerCase() + " × " + length() + "]";
    }
}
