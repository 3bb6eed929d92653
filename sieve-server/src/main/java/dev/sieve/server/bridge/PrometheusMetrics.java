package dev.sieve.server.bridge;

import dev.sieve.runtime.engine.Engine;
import dev.sieve.runtime.engine.EngineStats;
import dev.sieve.runtime.engine.LatencyHistogram;
import dev.sieve.runtime.sched.StepCostModel;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;

/** The engine's counters in Prometheus' text format (version 0.0.4). */
public final class PrometheusMetrics {
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private PrometheusMetrics() {}

    public static String render(OpenAiBridge bridge) {
        Engine engine = bridge.engine();
        EngineStats s = engine.stats();
        StringBuilder b = new StringBuilder(2048);
        gauge(b, "sieve_queue_length", "Requests waiting for a KV cache (new or preempted).", s.waiting());
        gauge(b, "sieve_running_sequences", "Sequences being generated.", s.running());
        gauge(b, "sieve_kv_blocks_used", "KV blocks (16 tokens each) allocated.", s.kvBlocksUsed());
        gauge(b, "sieve_kv_blocks_total", "KV blocks in the budget.", s.kvBlocksTotal());
        counter(b, "sieve_prompt_tokens_total", "Prompt tokens run through the model, recomputation included.", s.promptTokens());
        counter(b, "sieve_generated_tokens_total", "Tokens generated.", s.generatedTokens());
        counter(b, "sieve_requests_submitted_total", "Requests accepted by the engine (not refused with 4xx).",
                bridge.requestsSubmitted());
        counter(b, "sieve_requests_finished_total", "Requests that ran to their end.", s.requestsFinished());
        counter(b, "sieve_requests_cancelled_total", "Requests cancelled because the client went away.", s.requestsCancelled());
        counter(b, "sieve_preemptions_total", "Sequences preempted for lack of KV blocks (resumed by recomputation).", s.preemptions());
        counter(b, "sieve_engine_steps_total", "Forward passes of the engine.", s.steps());
        counter(b, "sieve_prefix_cache_hit_tokens_total", "Prompt tokens reused from the prefix cache instead of computed.", s.prefixCacheHitTokens());
        histogram(b, "sieve_time_to_first_token_seconds", "Time from submission to the first token.", engine.timeToFirstToken());
        histogram(b, "sieve_inter_token_latency_seconds", "Time between consecutive tokens of a sequence.", engine.interTokenLatency());
        StepCostModel.Fit fit = engine.stepCost();
        if (!Double.isNaN(fit.perTokenNanos())) {
            gaugeValue(b, "sieve_step_fixed_seconds", "Fitted cost of a step whatever its size (sizes prompt chunks).",
                    fit.fixedNanos() / 1e9);
            gaugeValue(b, "sieve_step_token_seconds", "Fitted cost of each token in a step.", fit.perTokenNanos() / 1e9);
        }
        // Memory, so that a soak can tell a leak from a flat line (Prometheus' conventional names).
        MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        gauge(b, "jvm_memory_heap_used_bytes", "Java heap in use (garbage not yet collected included).", heap.getUsed());
        gauge(b, "jvm_memory_heap_committed_bytes", "Java heap reserved from the system.", heap.getCommitted());
        long afterGc = HeapAfterGc.bytes();
        if (afterGc >= 0) {
            gauge(b, "jvm_memory_heap_after_gc_bytes",
                    "Java heap in use right after the latest garbage collection: what survived it.", afterGc);
        }
        counter(b, "jvm_gc_collections_total", "Garbage collections since the server started.", HeapAfterGc.collections());
        long rss = residentBytes();
        if (rss >= 0) {
            gauge(b, "process_resident_memory_bytes", "Resident set size of the process (Linux only).", rss);
        }
        return b.toString();
    }

    /** VmRSS from /proc/self/status, or -1 where there is none. */
    static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or /proc unreadable
        }
        return -1;
    }

    private static void head(StringBuilder b, String name, String help, String type) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, long v) {
        head(b, name, help, "gauge");
        b.append(name).append(' ').append(v).append('\n');
    }

    private static void gaugeValue(StringBuilder b, String name, String help, double v) {
        head(b, name, help, "gauge");
        b.append(name).append(' ').append(v).append('\n');
    }

    private static void counter(StringBuilder b, String name, String help, long v) {
        head(b, name, help, "counter");
        b.append(name).append(' ').append(v).append('\n');
    }

    private static void histogram(StringBuilder b, String name, String help, LatencyHistogram h) {
        head(b, name, help, "histogram");
        for (int i = 0; i < LatencyHistogram.BOUNDS.length; i++) {
            b.append(name).append("_bucket{le=\"").append(LatencyHistogram.BOUNDS[i]).append("\"} ")
                    .append(h.cumulative(i)).append('\n');
        }
        long count = h.count();
        b.append(name).append("_bucket{le=\"+Inf\"} ").append(count).append('\n');
        b.append(name).append("_sum ").append(h.sum()).append('\n');
        b.append(name).append("_count ").append(count).append('\n');
    }
}
