package dev.sieve.core.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * Weights converted at load live in {@link LargePages} memory: exactly the size asked, zeroed,
 * writable, aligned (2 MiB where the region is mapped here), and gone when its arena closes.
 */
class LargePagesTest {
    @Test
    void aRegionIsZeroedWritableAlignedAndEndsWithItsArena() {
        for (long bytes : new long[] {100, (2L << 20) + 12345, 5L << 20}) {
            MemorySegment s;
            try (Arena arena = Arena.ofShared()) {
                s = LargePages.allocate(arena, bytes);
                assertEquals(bytes, s.byteSize());
                assertEquals(0, s.address() % 64);
                if (LargePages.available() && bytes >= 2L << 20) {
                    assertEquals(0, s.address() % (2L << 20), "a mapped region starts on a 2 MiB page");
                }
                for (long i = 0; i < bytes; i += 4093) {
                    assertEquals(0, s.get(ValueLayout.JAVA_BYTE, i));
                    s.set(ValueLayout.JAVA_BYTE, i, (byte) 7);
                }
                s.set(ValueLayout.JAVA_BYTE, bytes - 1, (byte) 9);
                assertEquals(9, s.get(ValueLayout.JAVA_BYTE, bytes - 1));
                assertTrue(s.scope().isAlive());
            }
            MemorySegment closed = s;
            assertThrows(IllegalStateException.class, () -> closed.get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void onLinuxTheRegionIsMappedHere() {
        if (System.getProperty("os.name", "").startsWith("Linux") && !Boolean.getBoolean("sieve.noLargePages")) {
            assertTrue(LargePages.available(), "mmap and madvise found through the native linker");
        }
    }
}
