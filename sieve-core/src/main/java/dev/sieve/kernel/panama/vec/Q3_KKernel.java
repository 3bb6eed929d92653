package dev.sieve.kernel.panama.vec;

import static dev.sieve.kernel.panama.vec.Vec.N;

import dev.sieve.core.quant.Half;
import dev.sieve.core.quant.Q3_KEncoding;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q3_K weights (ggml {@code block_q3_K}, 110 bytes per 256: hmask[32], qs[64], 12 bytes of packed
 * 6-bit scales, f16 d). Weight e = 128h + 32j + l takes bits 2j..2j+1 of qs[32h + l] and, when bit
 * 4h + j of hmask[l] is clear, −4; value = d·(sc − 32)·q per 16-weight sub-block. Only the decoder
 * is specialized: decode goes through the tile, prompts reuse each decoded tile for many tokens,
 * which is what evaluation and calibration spend their time on.
 */
final class Q3_KKernel extends FloatPathKernel {
    private static final int QK = 256;
    private static final long BB = Q3_KEncoding.BLOCK_BYTES;

    Q3_KKernel() {
        super(Q3_KEncoding.INSTANCE);
    }

    /** The signed scale (sc − 32) of sub-block g from the 12 scale bytes at {@code s}. */
    private static int scale(MemorySegment w, long s, int g) {
        int lo = g < 8 ? Vec.u8(w, s + g) & 0xF : Vec.u8(w, s + g - 8) >>> 4;
        int hi = (Vec.u8(w, s + 8 + g % 4) >>> (2 * (g / 4))) & 3;
        return (lo | (hi << 4)) - 32;
    }

    @Override
    void decode(MemorySegment w, long rowOff, int k0, int kc, float[] dst, int dstOff) {
        int b0 = k0 / QK;
        for (int b = 0; b < kc / QK; b++) {
            long blk = rowOff + BB * (b0 + b);
            float d = Vec.scale(w, blk + 108);
            int o = dstOff + b * QK;
            for (int h = 0; h < 2; h++) {
                for (int j = 0; j < 4; j++) {
                    int g = 8 * h + 2 * j; // sub-blocks g (l < 16) and g + 1 (l ≥ 16)
                    // As the reference: (d·sc)·q, rounded the same way (no FMA).
                    float dl0 = d * scale(w, blk + 96, g);
                    float dl1 = d * scale(w, blk + 96, g + 1);
                    int bit = 4 * h + j;
                    for (int l = 0; l < 32; l += N) {
                        IntVector low = Vec.u8(w, blk + 32 + 32 * h, l).lanewise(VectorOperators.LSHR, 2 * j).and(3);
                        IntVector high = Vec.u8(w, blk, l).lanewise(VectorOperators.LSHR, bit).and(1);
                        IntVector q = low.add(high.lanewise(VectorOperators.LSHL, 2)).sub(4);
                        Vec.i2f(q).mul(l < 16 ? dl0 : dl1).intoArray(dst, o + 128 * h + 32 * j + l);
                    }
                }
            }
        }
    }
}
