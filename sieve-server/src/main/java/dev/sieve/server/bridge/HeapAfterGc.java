package dev.sieve.server.bridge;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;

/**
 * The Java heap in use right after the most recent garbage collection, young or full: unlike the heap
 * in use at a scrape, which counts the garbage of every request since the last collection, this is
 * what survived, so a soak can tell a leak (this line rising) from allocation churn. Filled from the
 * collectors' JMX notifications, which the JVM delivers on its own thread after each collection.
 */
final class HeapAfterGc {
    private static final AtomicLong BYTES = new AtomicLong(-1);
    private static final AtomicLong COLLECTIONS = new AtomicLong();
    private static volatile boolean watching;

    private HeapAfterGc() {}

    /** Starts listening (once per JVM; later calls do nothing). */
    static synchronized void watch() {
        if (watching) {
            return;
        }
        Set<String> heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP).map(MemoryPoolMXBean::getName).collect(Collectors.toSet());
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof NotificationEmitter emitter) {
                emitter.addNotificationListener((n, handback) -> {
                    if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
                        GarbageCollectionNotificationInfo info =
                                GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
                        BYTES.set(heapUsed(info.getGcInfo().getMemoryUsageAfterGc(), heapPools));
                        COLLECTIONS.incrementAndGet();
                    }
                }, null, null);
            }
        }
        watching = true;
    }

    private static long heapUsed(Map<String, MemoryUsage> byPool, Set<String> heapPools) {
        long used = 0;
        for (Map.Entry<String, MemoryUsage> e : byPool.entrySet()) {
            if (heapPools.contains(e.getKey())) {
                used += e.getValue().getUsed();
            }
        }
        return used;
    }

    /** Bytes in use after the latest collection since {@link #watch}, or −1 before the first. */
    static long bytes() {
        return BYTES.get();
    }

    /** Collections seen since {@link #watch}. */
    static long collections() {
        return COLLECTIONS.get();
    }
}
