package dev.sieve.core.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Memory for weights made at load (converted layouts), backed by 2 MiB pages where the OS lends them.
 *
 * <p>Why: decoding streams every weight once per token, and on the Intel host a 5632 × 2048 Q4_0_R16
 * product read from 2 MiB pages ran 0.81–0.84 ms against 1.00–1.06 from 4 KiB pages (one thread,
 * out of DRAM; docs/performance.md, session 27). On Linux the region is mapped anonymous, aligned to
 * 2 MiB and marked {@code MADV_HUGEPAGE} before it is touched, so that transparent huge pages back it
 * even where the system enables them only on request ({@code madvise}); it is unmapped when the arena
 * closes. Elsewhere, or if a call fails, the arena allocates as usual. The memory is zeroed either way.
 */
public final class LargePages {
    private static final long HUGE = 1L << 21;
    private static final int PROT_READ_WRITE = 0x3;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x22;
    private static final int MADV_HUGEPAGE = 14;
    private static final MethodHandle MMAP;
    private static final MethodHandle MADVISE;
    private static final MethodHandle MUNMAP;

    static {
        MethodHandle mmap = null, madvise = null, munmap = null;
        if (System.getProperty("os.name", "").startsWith("Linux") && !Boolean.getBoolean("sieve.noLargePages")) {
            try {
                Linker linker = Linker.nativeLinker();
                var libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
                madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
            } catch (RuntimeException | Error unavailable) { // no native access granted, no libc symbol
                mmap = madvise = munmap = null;
            }
        }
        MMAP = mmap;
        MADVISE = madvise;
        MUNMAP = munmap;
    }

    private LargePages() {}

    /** Whether {@link #allocate} maps its own large-page regions here. */
    public static boolean available() {
        return MMAP != null;
    }

    /**
     * {@code bytes} of zeroed memory, 64-byte aligned (2 MiB where mapped here), freed when {@code arena}
     * closes; regions under 2 MiB come from the arena.
     */
    public static MemorySegment allocate(Arena arena, long bytes) {
        if (MMAP == null || bytes < HUGE) {
            return arena.allocate(bytes, 64);
        }
        long len = (bytes + HUGE - 1) & -HUGE;
        try {
            // Map one huge page more than needed, so an aligned start fits, and give back the ends.
            MemorySegment raw = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, len + HUGE, PROT_READ_WRITE,
                    MAP_PRIVATE_ANONYMOUS, -1, 0L);
            if (raw.address() == -1L) {
                return arena.allocate(bytes, 64);
            }
            long start = (raw.address() + HUGE - 1) & -HUGE;
            long head = start - raw.address(), tail = HUGE - head;
            if (head > 0) {
                int ignored = (int) MUNMAP.invokeExact(raw, head);
            }
            if (tail > 0) {
                int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(start + len), tail);
            }
            MemorySegment region = MemorySegment.ofAddress(start);
            int ignored = (int) MADVISE.invokeExact(region, len, MADV_HUGEPAGE); // a refusal leaves small pages
            return region.reinterpret(len, arena, LargePages::unmap).asSlice(0, bytes);
        } catch (Throwable t) {
            return arena.allocate(bytes, 64);
        }
    }

    private static void unmap(MemorySegment region) {
        try {
            int ignored = (int) MUNMAP.invokeExact(region, region.byteSize());
        } catch (Throwable ignored) {
            // nothing more to do at release
        }
    }
}
