package dev.sieve.kernel.panama;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sieve.core.quant.F16Encoding;
import dev.sieve.core.quant.Q4_0Encoding;
import dev.sieve.core.quant.Q4_0RepackedEncoding;
import dev.sieve.core.quant.Q4_0SlicedEncoding;
import dev.sieve.core.quant.Q4_KEncoding;
import dev.sieve.core.quant.Q4_KRepackedEncoding;
import dev.sieve.core.quant.Q6_KEncoding;
import dev.sieve.core.quant.Q8_0Encoding;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which layouts the loader converts to, per width and CPU vendor (the measured choices of PanamaKernels). */
class PreferredLayoutTest {
    @Test
    void belowFiveTwelveBitsBothFourBitEncodingsAreRepackedOnAnyVendor() {
        for (CpuVendor v : CpuVendor.values()) {
            for (int bits : new int[] {128, 256}) {
                assertEquals(Q4_KRepackedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_KEncoding.INSTANCE, bits, v));
                assertEquals(Q4_0RepackedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_0Encoding.INSTANCE, bits, v));
            }
        }
    }

    @Test
    void atFiveTwelveBitsOnlyIntelRepacksQ4_KAndQ4_0IsInterleavedBy16Rows() {
        assertEquals(dev.sieve.core.quant.Q4_KSlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_KEncoding.INSTANCE, 512, CpuVendor.INTEL));
        assertEquals(Q4_KEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_KEncoding.INSTANCE, 512, CpuVendor.AMD));
        assertEquals(Q4_KEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_KEncoding.INSTANCE, 512, CpuVendor.OTHER));
        for (CpuVendor v : CpuVendor.values()) {
            assertEquals(Q4_0SlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(Q4_0Encoding.INSTANCE, 512, v));
        }
    }

    @Test
    void q8_0AndQ6_KAreInterleavedAtFiveTwelveBitsAndOthersKeepTheirLayout() {
        for (CpuVendor v : CpuVendor.values()) {
            for (int bits : new int[] {128, 256, 512}) {
                assertEquals(bits == 512 ? dev.sieve.core.quant.Q8_0SlicedEncoding.INSTANCE : Q8_0Encoding.INSTANCE,
                        PanamaKernels.preferredLayout(Q8_0Encoding.INSTANCE, bits, v));
                assertEquals(bits == 512 ? dev.sieve.core.quant.Q6_KSlicedEncoding.INSTANCE : Q6_KEncoding.INSTANCE,
                        PanamaKernels.preferredLayout(Q6_KEncoding.INSTANCE, bits, v));
                assertEquals(F16Encoding.INSTANCE, PanamaKernels.preferredLayout(F16Encoding.INSTANCE, bits, v));
            }
        }
    }

    /** Bitmap Q4 from 50% on decodes as Q4_0 at 512 bits (its own layout's decode is slower); sparser keeps it. */
    @Test
    void denseBitmapQ4IsQ4_0AtFiveTwelveBits() {
        for (CpuVendor v : CpuVendor.values()) {
            for (boolean vbmi2 : new boolean[] {false, true}) {
                for (int c : new int[] {128, 160, 256}) {
                    assertEquals(Q4_0SlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(
                            dev.sieve.core.quant.SparseEncoding.bitmap(dev.sieve.core.quant.SparseEncoding.Values.Q4, c), 512, v, vbmi2));
                }
                dev.sieve.core.quant.SparseEncoding sparse = dev.sieve.core.quant.SparseEncoding.bitmap(dev.sieve.core.quant.SparseEncoding.Values.Q4, 127);
                org.junit.jupiter.api.Assertions.assertNotEquals(Q4_0SlicedEncoding.INSTANCE, PanamaKernels.preferredLayout(sparse, 512, v, vbmi2));
                assertEquals(sparse, PanamaKernels.preferredLayout(sparse, 256, v, vbmi2));
            }
        }
    }

    @Test
    void vendorIsReadFromTheFirstVendorLineOfCpuinfo(@TempDir Path dir) throws IOException {
        Path intel = Files.writeString(dir.resolve("intel"),
                "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nprocessor\t: 1\nvendor_id\t: GenuineIntel\n");
        Path amd = Files.writeString(dir.resolve("amd"), "processor\t: 0\nvendor_id\t: AuthenticAMD\n");
        Path arm = Files.writeString(dir.resolve("arm"), "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n");
        assertEquals(CpuVendor.INTEL, CpuVendor.read(intel));
        assertEquals(CpuVendor.AMD, CpuVendor.read(amd));
        assertEquals(CpuVendor.OTHER, CpuVendor.read(arm));
        assertEquals(CpuVendor.OTHER, CpuVendor.read(dir.resolve("missing")));
    }
}
