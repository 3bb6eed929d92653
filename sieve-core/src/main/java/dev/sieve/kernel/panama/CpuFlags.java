package dev.sieve.kernel.panama;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The CPU's feature flags as Linux lists them (the first {@code flags} line of {@code /proc/cpuinfo}),
 * read once, for kernel choices that need an instruction the Vector API only compiles to where the CPU
 * has it (VPEXPANDB: {@code avx512_vbmi2}). Where the file is absent or unreadable, no flag is set, and
 * the kernels keep their portable paths. Public for the vector kernels' package, which is loaded once
 * per width.
 */
public final class CpuFlags {
    private static final List<String> FLAGS = read(Path.of("/proc/cpuinfo"));

    private CpuFlags() {}

    /** Whether the CPU this JVM runs on lists {@code flag}. */
    public static boolean has(String flag) {
        return FLAGS.contains(flag);
    }

    private static List<String> read(Path cpuinfo) {
        try (Stream<String> lines = Files.lines(cpuinfo)) {
            return lines.filter(l -> l.startsWith("flags")).findFirst()
                    .map(l -> List.of(l.substring(l.indexOf(':') + 1).trim().split("\\s+")))
                    .orElse(List.of());
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }
}
