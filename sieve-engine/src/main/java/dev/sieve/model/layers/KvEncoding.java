package dev.sieve.model.layers;

import java.util.Locale;

/**
 * How a {@link KvCache} stores keys and values. Quantized encodings split each position's vector
 * into groups (32 values, or fewer when the head is not a multiple of 32) that never straddle a
 * head, so attention can read one head's slice without touching its neighbours.
 */
public enum KvEncoding {
    /** 32-bit floats, as computed (the reference; bit-identical to the pre-quantization cache). */
    F32,
    /** IEEE half precision. */
    F16,
    /** 8-bit symmetric codes with one float scale per group (like ggml's Q8_0). */
    Q8,
    /** 4-bit asymmetric codes with a float scale and minimum per group (like ggml's Q4_1). */
    Q4;

    /** Parses {@code f32|f16|q8|q4}, case-insensitively. */
    public static KvEncoding parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown KV cache type '" + s + "' (expected f32, f16, q8 or q4)");
        }
    }
}
