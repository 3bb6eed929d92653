package dev.sieve.io.gguf;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** A GGUF file's key-value metadata, in file order, with typed accessors that name the key on error. */
public final class GgufMetadata {
    private final LinkedHashMap<String, GgufValue> values;

    public GgufMetadata(Map<String, GgufValue> values) {
        this.values = new LinkedHashMap<>(values);
    }

    public Map<String, GgufValue> asMap() {
        return Collections.unmodifiableMap(values);
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    public Optional<GgufValue> get(String key) {
        return Optional.ofNullable(values.get(key));
    }

    private GgufValue require(String key) {
        GgufValue v = values.get(key);
        if (v == null) {
            throw new GgufFormatException("missing metadata key '" + key + "'");
        }
        return v;
    }

    public String getString(String key) {
        GgufValue v = require(key);
        if (v.value() instanceof String s) {
            return s;
        }
        throw new GgufFormatException("metadata '" + key + "' is " + v.type() + ", expected a string");
    }

    public Optional<String> optString(String key) {
        return has(key) ? Optional.of(getString(key)) : Optional.empty();
    }

    public long getLong(String key) {
        GgufValue v = require(key);
        if (v.value() instanceof Integer || v.value() instanceof Long) {
            return ((Number) v.value()).longValue();
        }
        throw new GgufFormatException("metadata '" + key + "' is " + v.type() + ", expected an integer");
    }

    public int getInt(String key) {
        long v = getLong(key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new GgufFormatException("metadata '" + key + "' = " + v + " is out of range");
        }
        return (int) v;
    }

    public int getInt(String key, int fallback) {
        return has(key) ? getInt(key) : fallback;
    }

    public float getFloat(String key) {
        GgufValue v = require(key);
        if (v.value() instanceof Number n) {
            return n.floatValue();
        }
        throw new GgufFormatException("metadata '" + key + "' is " + v.type() + ", expected a number");
    }

    public float getFloat(String key, float fallback) {
        return has(key) ? getFloat(key) : fallback;
    }

    public boolean getBool(String key, boolean fallback) {
        if (!has(key)) {
            return fallback;
        }
        GgufValue v = require(key);
        if (v.value() instanceof Boolean b) {
            return b;
        }
        throw new GgufFormatException("metadata '" + key + "' is " + v.type() + ", expected a bool");
    }

    public String[] getStrings(String key) {
        GgufValue v = require(key);
        if (v.value() instanceof String[] s) {
            return s;
        }
        throw new GgufFormatException("metadata '" + key + "' is not an array of strings");
    }

    public float[] getFloats(String key) {
        GgufValue v = require(key);
        return switch (v.value()) {
            case float[] f -> f;
            case double[] d -> {
                float[] f = new float[d.length];
                for (int i = 0; i < d.length; i++) {
                    f[i] = (float) d[i];
                }
                yield f;
            }
            default -> throw new GgufFormatException("metadata '" + key + "' is not an array of floats");
        };
    }

    public int[] getInts(String key) {
        GgufValue v = require(key);
        return switch (v.value()) {
            case int[] i -> i;
            case long[] l -> {
                int[] i = new int[l.length];
                for (int k = 0; k < l.length; k++) {
                    i[k] = Math.toIntExact(l[k]);
                }
                yield i;
            }
            default -> throw new GgufFormatException("metadata '" + key + "' is not an array of integers");
        };
    }
}
