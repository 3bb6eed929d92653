package dev.sieve.model.synth;

import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.IndexedSparseEncoding;
import dev.sieve.core.quant.SparseEncoding;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.io.gguf.GgufValue;
import dev.sieve.io.gguf.GgufWriter;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes a random-weight model of a {@link ModelShape}: matrices drawn from N(0, 0.02), norms 1,
 * in a chosen encoding, with a usable {@link SyntheticVocabulary}. The same shape, type and seed
 * always give the same bytes (each row has its own seeded generator, so the work splits across
 * threads deterministically).
 *
 * <p>Type names follow llama-quantize: a plain encoding name puts every matrix in it, except that
 * {@code Q4_0}/{@code Q4_1}/{@code Q5_*} keep {@code output.weight} in Q6_K as llama.cpp does;
 * {@code Q4_K_M} mixes Q4_K with Q6_K for the output and part of {@code attn_v}/{@code ffn_down}.
 * {@link TypeMix#sparse} prunes every matrix but the embedding to a sparse encoding's pattern.
 */
public final class SyntheticModelWriter {

    /** Chooses each matrix's encoding for a file type. */
    public record TypeMix(String name, WeightEncoding base, WeightEncoding output, WeightEncoding moreBits,
            WeightEncoding embedding) {
        WeightEncoding forTensor(String tensor, int layer, int layers) {
            if (tensor.equals("output.weight")) {
                return output;
            }
            if (moreBits != null && (tensor.endsWith("attn_v.weight") || tensor.endsWith("ffn_down.weight"))
                    && useMoreBits(layer, layers)) {
                return moreBits;
            }
            return base;
        }

        // llama.cpp's rule: the first and last eighth of the layers, and every third in between.
        static boolean useMoreBits(int i, int n) {
            return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
        }

        public static TypeMix parse(String type) {
            String t = type.toUpperCase(java.util.Locale.ROOT);
            if (t.equals("Q4_K_M") || t.equals("Q5_K_M")) {
                WeightEncoding base = enc(t.substring(0, 4));
                WeightEncoding q6 = enc("Q6_K");
                return new TypeMix(t, base, q6, q6, base);
            }
            WeightEncoding e = enc(t);
            if (!e.canQuantize()) {
                throw new IllegalArgumentException("Sieve cannot write " + e.name() + " weights yet");
            }
            boolean legacy4or5 = t.startsWith("Q4_") || t.startsWith("Q5_");
            return new TypeMix(t, e, legacy4or5 ? enc("Q6_K") : e, null, e);
        }

        /**
         * Pruned matrices (every one, the output included) in a sparse encoding; the embedding stays
         * dense in the value type's dense twin (F16, BF16, Q8_0, Q4_0), as a lookup gains nothing.
         */
        public static TypeMix sparse(String pattern, double sparsity, String values) {
            if (IndexedSparseEncoding.isPattern(pattern)) {
                IndexedSparseEncoding e = IndexedSparseEncoding.forPattern(pattern, sparsity, values);
                return new TypeMix(e.name(), e, e, null, enc(SparseEncoding.denseTwin(e.values())));
            }
            SparseEncoding e = SparseEncoding.forPattern(pattern, sparsity, values);
            return new TypeMix(e.name(), e, e, null, enc(SparseEncoding.denseTwin(e.values())));
        }

        /**
         * The same mix with {@code output.weight} in {@code type}: e.g. a Q4_0 file whose LM head is
         * Q4_0 too (not llama.cpp's Q6_K), the dense twin of a model pruned everywhere.
         */
        public TypeMix withOutput(String type) {
            WeightEncoding o = enc(type.toUpperCase(java.util.Locale.ROOT));
            return new TypeMix(name + "+output-" + o.name(), base, o, moreBits, embedding);
        }

        private static WeightEncoding enc(String name) {
            return WeightEncodings.byName(name).orElseThrow(() -> new IllegalArgumentException(
                    "unknown encoding '" + name + "' (known: " + String.join(", ",
                            WeightEncodings.all().stream().filter(WeightEncoding::canQuantize).map(WeightEncoding::name).toList())
                            + ", Q4_K_M)"));
        }
    }

    private final ModelShape shape;
    private final TypeMix mix;
    private final long seed;

    public SyntheticModelWriter(ModelShape shape, TypeMix mix, long seed) {
        this.shape = shape;
        this.mix = mix;
        this.seed = seed;
    }

    public void write(Path out, WorkerPool pool, GgufWriter.Progress progress) throws IOException {
        ModelShape s = shape;
        String a = s.architecture();
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", GgufValue.ofString(a));
        w.put("general.name", GgufValue.ofString("sieve-synth-" + s.name() + "-" + mix.name()));
        w.put("general.description", GgufValue.ofString("random weights N(0, 0.02) made by sieve synth, seed " + seed));
        w.put(a + ".context_length", GgufValue.ofU32(s.context()));
        w.put(a + ".embedding_length", GgufValue.ofU32(s.dim()));
        w.put(a + ".block_count", GgufValue.ofU32(s.layers()));
        w.put(a + ".feed_forward_length", GgufValue.ofU32(s.ffnDim()));
        w.put(a + ".attention.head_count", GgufValue.ofU32(s.heads()));
        w.put(a + ".attention.head_count_kv", GgufValue.ofU32(s.kvHeads()));
        w.put(a + ".attention.layer_norm_rms_epsilon", GgufValue.ofF32(s.rmsEps()));
        w.put(a + ".rope.freq_base", GgufValue.ofF32(s.ropeTheta()));
        w.put(a + ".rope.dimension_count", GgufValue.ofU32(s.headDim()));
        w.put(a + ".vocab_size", GgufValue.ofU32(s.vocab()));
        SyntheticVocabulary v = new SyntheticVocabulary(s.vocab());
        w.put("tokenizer.ggml.model", GgufValue.ofString("llama"));
        w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(v.tokens));
        w.put("tokenizer.ggml.scores", GgufValue.ofF32s(v.scores));
        w.put("tokenizer.ggml.token_type", GgufValue.ofI32s(v.types));
        w.put("tokenizer.ggml.unknown_token_id", GgufValue.ofU32(0));
        w.put("tokenizer.ggml.bos_token_id", GgufValue.ofU32(1));
        w.put("tokenizer.ggml.eos_token_id", GgufValue.ofU32(2));
        w.put("tokenizer.ggml.add_bos_token", GgufValue.ofBool(true));
        w.put("tokenizer.ggml.add_eos_token", GgufValue.ofBool(false));

        int kv = s.kvHeads() * s.headDim();
        int tensorId = 0;
        matrix(w, pool, "token_embd.weight", mix.embedding(), s.dim(), s.vocab(), tensorId++);
        for (int l = 0; l < s.layers(); l++) {
            String p = "blk." + l + ".";
            norm(w, p + "attn_norm.weight", s.dim());
            matrix(w, pool, p + "attn_q.weight", mix.forTensor("attn_q.weight", l, s.layers()), s.dim(), s.dim(), tensorId++);
            matrix(w, pool, p + "attn_k.weight", mix.forTensor("attn_k.weight", l, s.layers()), s.dim(), kv, tensorId++);
            matrix(w, pool, p + "attn_v.weight", mix.forTensor("attn_v.weight", l, s.layers()), s.dim(), kv, tensorId++);
            if (s.qkvBias()) {
                bias(w, p + "attn_q.bias", s.dim(), tensorId++);
                bias(w, p + "attn_k.bias", kv, tensorId++);
                bias(w, p + "attn_v.bias", kv, tensorId++);
            }
            if (s.qkNorm()) {
                norm(w, p + "attn_q_norm.weight", s.headDim());
                norm(w, p + "attn_k_norm.weight", s.headDim());
            }
            matrix(w, pool, p + "attn_output.weight", mix.forTensor("attn_output.weight", l, s.layers()), s.dim(), s.dim(), tensorId++);
            norm(w, p + "ffn_norm.weight", s.dim());
            matrix(w, pool, p + "ffn_gate.weight", mix.forTensor("ffn_gate.weight", l, s.layers()), s.dim(), s.ffnDim(), tensorId++);
            matrix(w, pool, p + "ffn_up.weight", mix.forTensor("ffn_up.weight", l, s.layers()), s.dim(), s.ffnDim(), tensorId++);
            matrix(w, pool, p + "ffn_down.weight", mix.forTensor("ffn_down.weight", l, s.layers()), s.ffnDim(), s.dim(), tensorId++);
        }
        norm(w, "output_norm.weight", s.dim());
        if (!s.tiedOutput()) {
            matrix(w, pool, "output.weight", mix.forTensor("output.weight", 0, s.layers()), s.dim(), s.vocab(), tensorId++);
        }
        if (s.llama3RopeScaling()) {
            float[] f = llama3FreqFactors(s.headDim(), s.ropeTheta());
            w.addTensor("rope_freqs.weight", F32Encoding.INSTANCE, new long[] {f.length},
                    dst -> F32Encoding.INSTANCE.quantize(f, 0, dst, 0, f.length));
        }
        w.write(out, progress);
    }

    /**
     * Llama 3.1/3.2's frequency divisors (factor 32, low 1, high 4, original context 8192), as
     * llama.cpp's converter stores them in {@code rope_freqs.weight}.
     */
    static float[] llama3FreqFactors(int headDim, float base) {
        double factor = 32, low = 1, high = 4, oldCtx = 8192;
        double lowWavelen = oldCtx / low, highWavelen = oldCtx / high;
        float[] f = new float[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            double freq = 1.0 / Math.pow(base, 2.0 * i / headDim);
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) {
                f[i] = 1f;
            } else if (wavelen > lowWavelen) {
                f[i] = (float) factor;
            } else {
                double smooth = (oldCtx / wavelen - low) / (high - low);
                f[i] = (float) (1.0 / ((1 - smooth) / factor + smooth));
            }
        }
        return f;
    }

    private void norm(GgufWriter w, String name, int n) {
        w.addTensor(name, F32Encoding.INSTANCE, new long[] {n}, dst -> {
            float[] ones = new float[n];
            java.util.Arrays.fill(ones, 1f);
            F32Encoding.INSTANCE.quantize(ones, 0, dst, 0, n);
        });
    }

    private void bias(GgufWriter w, String name, int n, int tensorId) {
        w.addTensor(name, F32Encoding.INSTANCE, new long[] {n}, dst -> {
            float[] b = new float[n];
            SplittableRandom r = new SplittableRandom(seed * 1_000_003L + tensorId);
            for (int i = 0; i < n; i++) {
                b[i] = (float) (r.nextGaussian() * 0.02);
            }
            F32Encoding.INSTANCE.quantize(b, 0, dst, 0, n);
        });
    }

    /**
     * llama-quantize's fallback when a row is not a whole number of 256-blocks: Q4_K → Q5_0,
     * Q5_K → Q5_1, Q6_K and others → Q8_0 (or Q8_0 whenever Sieve cannot write the fallback).
     */
    static WeightEncoding fitRow(WeightEncoding e, int in) {
        if (in % e.blockSize() == 0) {
            return e;
        }
        String fb = switch (e.name()) {
            case "Q4_K" -> "Q5_0";
            case "Q5_K" -> "Q5_1";
            default -> "Q8_0";
        };
        WeightEncoding f = WeightEncodings.byName(fb).filter(WeightEncoding::canQuantize)
                .orElse(WeightEncodings.byName("Q8_0").orElseThrow());
        return in % f.blockSize() == 0 ? f : F32Encoding.INSTANCE;
    }

    private void matrix(GgufWriter w, WorkerPool pool, String name, WeightEncoding requested, int in, int out, int tensorId) {
        WeightEncoding e = fitRow(requested, in);
        long rowBytes = e.byteSize(in);
        w.addTensor(name, e, new long[] {in, out}, dst -> fill(dst, pool, e, in, out, rowBytes, tensorId));
    }

    private void fill(MemorySegment dst, WorkerPool pool, WeightEncoding e, int in, int out, long rowBytes, int tensorId) {
        pool.parallelFor(out, 64, (r0, r1) -> {
            float[] row = new float[in];
            for (int r = r0; r < r1; r++) {
                SplittableRandom rng = new SplittableRandom((seed * 1_000_003L + tensorId) * 0x9E3779B97F4A7C15L + r);
                for (int i = 0; i < in; i++) {
                    row[i] = (float) (rng.nextGaussian() * 0.02);
                }
                e.prune(row, 0, in); // smallest magnitudes to zero; dense encodings keep all
                e.quantize(row, 0, dst, r * rowBytes, in);
            }
        });
    }
}
