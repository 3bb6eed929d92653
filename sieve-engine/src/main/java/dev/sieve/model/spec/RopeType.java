package dev.sieve.model.spec;

/** How rotary position embedding pairs the dimensions of a head. */
public enum RopeType {
    /** Meta's original layout: (x[2i], x[2i+1]) rotate together (llama.cpp's LLAMA_ROPE_TYPE_NORM). */
    NORMAL,
    /** GPT-NeoX / HF "rotate half": (x[i], x[i + d/2]) rotate together (Qwen2, Qwen3, ...). */
    NEOX
}
