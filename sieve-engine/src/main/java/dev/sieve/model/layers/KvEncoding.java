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
    Q4,
    /**
     * KIVI / KVQuant at 8 bits: keys quantized <em>per channel</em> over groups of consecutive
     * positions (symmetric, one scale per channel and group), values per token as {@link #Q8}.
     */
    Q8C,
    /**
     * KIVI / KVQuant at 4 bits: keys quantized per channel over groups of consecutive positions
     * (asymmetric, scale and minimum per channel and group), values per token as {@link #Q4}.
     */
    Q4C,
    /**
     * Mustafar at 50%: keys and values pruned per token by magnitude, the largest half of each group
     * of 32 kept, stored as a bitmap per group and the kept values as IEEE halves in position order.
     */
    S50,
    /** Mustafar at 70%: as {@link #S50}, keeping the largest 10 of each group of 32. */
    S70;

    /** Values of each 32-value group a sparse (Mustafar) encoding keeps, or 0 for the dense ones. */
    public int sparseKeep(int group) {
        return switch (this) {
            case S50 -> group - (int) Math.round(group * 0.5);
            case S70 -> group - (int) Math.round(group * 0.7);
            default -> 0;
        };
    }

    /** Whether keys are quantized per channel over groups of positions (KIVI) rather than per token. */
    public boolean channelKeys() {
        return this == Q8C || this == Q4C;
    }

    /** The per-token encoding of the values (and, except for KIVI encodings, of the keys). */
    public KvEncoding tokenEncoding() {
        return switch (this) {
            case Q8C -> Q8;
            case Q4C -> Q4;
            default -> this;
        };
    }

    /** Parses {@code f32|f16|q8|q4|q8c|q4c|s50|s70}, case-insensitively. */
    public static KvEncoding parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "unknown KV cache type '" + s + "' (expected f32, f16, q8, q4, q8c, q4c, s50 or s70)");
        }
    }
}
