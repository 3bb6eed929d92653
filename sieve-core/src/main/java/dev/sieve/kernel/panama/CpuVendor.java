package dev.sieve.kernel.panama;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The CPU's vendor, for the few kernel choices that measured differently on Intel and AMD cores of
 * the same vector width (as OpenBLAS picks kernels per core type). Read once from Linux's
 * {@code /proc/cpuinfo}; elsewhere, or when unreadable, {@link #OTHER}, which keeps the defaults.
 */
enum CpuVendor {
    INTEL,
    AMD,
    OTHER;

    private static final CpuVendor THIS = read(Path.of("/proc/cpuinfo"));

    /** The vendor of the CPU this JVM runs on. */
    static CpuVendor current() {
        return THIS;
    }

    /** The vendor named by the first {@code vendor_id} line of a cpuinfo file. */
    static CpuVendor read(Path cpuinfo) {
        try (Stream<String> lines = Files.lines(cpuinfo)) {
            return lines.filter(l -> l.startsWith("vendor_id")).findFirst().map(CpuVendor::of).orElse(OTHER);
        } catch (IOException | RuntimeException e) {
            return OTHER;
        }
    }

    static CpuVendor of(String vendorLine) {
        String v = vendorLine.substring(vendorLine.indexOf(':') + 1).trim();
        return switch (v) {
            case "GenuineIntel" -> INTEL;
            case "AuthenticAMD" -> AMD;
            default -> OTHER;
        };
    }
}
