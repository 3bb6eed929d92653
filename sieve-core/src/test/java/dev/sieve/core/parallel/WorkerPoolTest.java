package dev.sieve.core.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkerPoolTest {

    @Test
    void everyIndexIsCoveredExactlyOnceInGrainAlignedRanges() {
        try (WorkerPool pool = new WorkerPool(3)) {
            for (int n : new int[] {1, 15, 16, 17, 100, 1000, 5632, 32000}) {
                for (int grain : new int[] {1, 2, 16, 32}) {
                    AtomicIntegerArray hits = new AtomicIntegerArray(n);
                    pool.parallelFor(n, grain, (s, e) -> {
                        assertTrue(s % grain == 0, "range start " + s + " not aligned to " + grain);
                        assertTrue(s < e && e <= n, "bad range [" + s + "," + e + ")");
                        for (int i = s; i < e; i++) {
                            hits.incrementAndGet(i);
                        }
                    });
                    for (int i = 0; i < n; i++) {
                        assertEquals(1, hits.get(i), "n=" + n + " grain=" + grain + " index " + i);
                    }
                }
            }
        }
    }

    @Test
    void aSlowThreadTakesFewerChunksInsteadOfHoldingTheOthersBack() {
        try (WorkerPool pool = new WorkerPool(2)) {
            ConcurrentHashMap<Thread, Integer> rows = new ConcurrentHashMap<>();
            Thread caller = Thread.currentThread();
            pool.parallelFor(64 * 16, 16, (s, e) -> {
                if (Thread.currentThread() != caller) {
                    try {
                        Thread.sleep(20); // the worker is slow
                    } catch (InterruptedException ex) {
                        Thread.currentThread().interrupt();
                    }
                }
                rows.merge(Thread.currentThread(), e - s, Integer::sum);
            });
            int callerRows = rows.getOrDefault(caller, 0);
            assertEquals(64 * 16, rows.values().stream().mapToInt(Integer::intValue).sum());
            // A static half/half split would give the caller exactly half.
            assertTrue(callerRows > 64 * 16 / 2, "caller did " + callerRows + " rows");
        }
    }

    /**
     * Many tiny loops back to back, with a worker that is sometimes parked: workers that wake after
     * the caller took every chunk must not join, and one that joins must run its own loop's task.
     */
    @Test
    void backToBackLoopsEachRunEveryIndexOnceWithTheirOwnTask() throws Exception {
        try (WorkerPool pool = new WorkerPool(3)) {
            int[] stamp = new int[64];
            for (int loop = 1; loop <= 20_000; loop++) {
                int n = 1 + loop % 64;
                int expected = loop - 1;
                int mine = loop;
                pool.parallelFor(n, 1, (s, e) -> {
                    for (int i = s; i < e; i++) {
                        // plain array: the pool's hand-off must make the previous loop's writes visible
                        if (stamp[i] != expected && !(i >= 1 + (mine - 1) % 64 && stamp[i] < expected)) {
                            throw new AssertionError("index " + i + " of loop " + mine + " found stamp " + stamp[i]);
                        }
                        stamp[i] = mine;
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(loop, stamp[i], "loop " + loop + " index " + i);
                }
                if (loop % 500 == 0) {
                    Thread.sleep(3); // let the workers park, so the next loop starts with late wake-ups
                }
            }
        }
    }

    @Test
    void aFailureInAnyRangeReachesTheCaller() {
        try (WorkerPool pool = new WorkerPool(2)) {
            IllegalStateException boom = new IllegalStateException("boom");
            IllegalStateException got = assertThrows(IllegalStateException.class,
                    () -> pool.parallelFor(1000, 1, (s, e) -> {
                        if (s <= 999 && 999 < e) {
                            throw boom;
                        }
                    }));
            assertSame(boom, got);
            // and the pool still works afterwards
            AtomicIntegerArray hits = new AtomicIntegerArray(10);
            pool.parallelFor(10, 1, (s, e) -> {
                for (int i = s; i < e; i++) {
                    hits.incrementAndGet(i);
                }
            });
            for (int i = 0; i < 10; i++) {
                assertEquals(1, hits.get(i));
            }
        }
    }
}
