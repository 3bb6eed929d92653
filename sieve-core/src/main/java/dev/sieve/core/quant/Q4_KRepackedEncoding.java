package dev.sieve.core.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q4_K_R: Q4_K's values in a layout the 16-bit integer decode kernel reads with fewer operations
 * (Sieve's own; made from Q4_K at load by {@link #repack}, losslessly). Per 256 weights, 148 bytes:
 *
 * <pre>
 *   d      f16       as Q4_K
 *   dmin   f16       as Q4_K
 *   sc[8]  u8        the 6-bit scale of sub-block j, unpacked (Q4_K packs it with the mins in 12 bytes)
 *   m[8]   u8        the 6-bit min of sub-block j, unpacked
 *   qs[128]          byte 16j + i: weight 32j + i in the low nibble, 32j + 16 + i in the high one
 * </pre>
 *
 * value = d·sc_j·q − dmin·m_j, exactly Q4_K's. Why: in Q4_K a byte's two nibbles belong to two
 * sub-blocks with different scales, so a kernel that multiplies whole bytes in 16-bit lanes (the
 * Vector API has no byte dot product) must split them; here both nibbles share one scale, as in
 * Q4_0, and the scales are single bytes. Four more bytes per block (4.625 bits per weight against
 * 4.5). Activations: Q8_0 (a 32-block per sub-block).
 */
public final class Q4_KRepackedEncoding extends RepackedEncoding {
    public static final Q4_KRepackedEncoding INSTANCE = new Q4_KRepackedEncoding();
    public static final int QK = 256;
    public static final int BLOCK_BYTES = 2 + 2 + 8 + 8 + QK / 2;
    public static final int DMIN = 2;
    public static final int SC = 4;
    public static final int M = 12;
    public static final int QS = 20;
    /** Sieve's id, after the dense-and-sparse encodings' 2304 and 2305. */
    private static final int ID = 2306;

    private Q4_KRepackedEncoding() {
        super(Q4_KEncoding.INSTANCE);
    }

    @Override public String name() { return "Q4_K_R"; }
    @Override public int ggmlType() { return ID; }
    @Override public int blockSize() { return QK; }
    @Override public int blockBytes() { return BLOCK_BYTES; }
    @Override public WeightEncoding activationEncoding() { return Q8_0Encoding.INSTANCE; }

    /** The 4-bit level of weight e (0..255) of the block at {@code o}. */
    private static int level(MemorySegment s, long o, int e) {
        int j = e / 32;
        int i = e % 32;
        return (Half.u8(s, o + QS + 16 * j + i % 16) >>> (4 * (i / 16))) & 0xF;
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / QK; b++) {
            long o = srcOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(src, o);
            float min = Half.f16(src, o + DMIN);
            for (int j = 0; j < 8; j++) {
                float dl = d * Half.u8(src, o + SC + j);
                float ml = min * Half.u8(src, o + M + j);
                for (int i = 0; i < 32; i++) {
                    dst[dstOffset + b * QK + 32 * j + i] = dl * level(src, o, 32 * j + i) - ml;
                }
            }
        }
    }

    /**
     * Rewrites {@code blocks} Q4_K blocks at {@code src[srcOffset..]} as Q4_K_R blocks at {@code
     * dst[dstOffset..]}: the same values, bit for bit.
     */
    @Override
    void repackBlocks(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long blocks) {
        // Eight bytes at a time (a model's worth of blocks is converted at load, often before C2
        // has compiled this): a byte of the 12 packed scale bytes per scale and min, and the
        // nibbles regrouped with long masks and shifts.
        final long lo = 0x0F0F0F0F0F0F0F0FL;
        for (long b = 0; b < blocks; b++) {
            long s = srcOffset + b * Q4_KEncoding.BLOCK_BYTES;
            long o = dstOffset + b * BLOCK_BYTES;
            dst.set(Half.INT_LE, o, src.get(Half.INT_LE, s)); // d, dmin
            // ggml's get_scale_min_k4 for four sub-blocks per int: scales j < 4 are the low six bits
            // of bytes 0-3, mins j < 4 of bytes 4-7; j ≥ 4 take four bits from bytes 8-11 and the
            // top two bits of bytes 0-3 (scales) or 4-7 (mins).
            int u0 = src.get(Half.INT_LE, s + 4), u1 = src.get(Half.INT_LE, s + 8), u2 = src.get(Half.INT_LE, s + 12);
            dst.set(Half.INT_LE, o + SC, u0 & 0x3F3F3F3F);
            dst.set(Half.INT_LE, o + SC + 4, (u2 & 0x0F0F0F0F) | ((u0 >>> 6) & 0x03030303) << 4);
            dst.set(Half.INT_LE, o + M, u1 & 0x3F3F3F3F);
            dst.set(Half.INT_LE, o + M + 4, ((u2 >>> 4) & 0x0F0F0F0F) | ((u1 >>> 6) & 0x03030303) << 4);
            // Q4_K: byte 32c + l holds weight 64c + l (low nibble) and 64c + 32 + l (high). Sub-block
            // 2c is the low nibbles of bytes 32c.., 2c + 1 the high ones; each becomes 16 bytes whose
            // byte i holds its weights i (low) and 16 + i (high).
            for (int c = 0; c < 4; c++) {
                for (int h = 0; h < 16; h += 8) {
                    long x = src.get(Half.LONG_LE, s + 16 + 32 * c + h); // weights h.. of both sub-blocks
                    long y = src.get(Half.LONG_LE, s + 16 + 32 * c + 16 + h); // weights 16 + h..
                    dst.set(Half.LONG_LE, o + QS + 32L * c + h, (x & lo) | (y & lo) << 4);
                    dst.set(Half.LONG_LE, o + QS + 32L * c + 16 + h, (x >>> 4) & lo | (y & ~lo));
                }
            }
        }
    }

    /**
     * Against Q8_0 activations (one 32-block per sub-block): per sub-block j, d·sc_j·a_d·Σq·a −
     * dmin·m_j·a_d·Σa, in integers inside the sub-block as the 16-bit kernel computes them.
     */
    @Override
    public float dotQuantized(MemorySegment w, long wOffset, MemorySegment a, long aOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            long wo = wOffset + (long) b * BLOCK_BYTES;
            float d = Half.f16(w, wo), dmin = Half.f16(w, wo + DMIN);
            for (int j = 0; j < 8; j++) {
                long ao = aOffset + (long) (8 * b + j) * Q8_0Encoding.BLOCK_BYTES;
                int qa = 0;
                int sa = 0;
                for (int i = 0; i < 32; i++) {
                    int q = a.get(ValueLayout.JAVA_BYTE, ao + 2 + i);
                    qa += level(w, wo, 32 * j + i) * q;
                    sa += q;
                }
                float ad = Half.f16(a, ao);
                sum += d * Half.u8(w, wo + SC + j) * ad * qa - dmin * Half.u8(w, wo + M + j) * (ad * sa);
            }
        }
        return sum;
    }
}
