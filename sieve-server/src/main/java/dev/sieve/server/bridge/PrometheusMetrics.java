package dev.sieve.server.bridge;

import dev.sieve.runtime.engine.Engine;
import dev.sieve.runtime.engine.EngineStats;
import dev.sieve.runtime.engine.LatencyHistogram;

/** The engine's counters in Prometheus' text format (version 0.0.4). */
public final class PrometheusMetrics {
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private PrometheusMetrics() {}

    public static String render(Engine engine) {
        EngineStats s = engine.stats();
        StringBuilder b = new StringBuilder(2048);
        gauge(b, "sieve_queue_length", "Requests waiting for a KV cache (new or preempted).", s.waiting());
        gauge(b, "sieve_running_sequences", "Sequences being generated.", s.running());
        gauge(b, "sieve_kv_blocks_used", "KV blocks (16 tokens each) allocated.", s.kvBlocksUsed());
        gauge(b, "sieve_kv_blocks_total", "KV blocks in the budget.", s.kvBlocksTotal());
        counter(b, "sieve_prompt_tokens_total", "Prompt tokens run through the model, recomputation included.", s.promptTokens());
        counter(b, "sieve_generated_tokens_total", "Tokens generated.", s.generatedTokens());
        counter(b, "sieve_requests_finished_total", "Requests that ran to their end.", s.requestsFinished());
        counter(b, "sieve_requests_cancelled_total", "Requests cancelled because the client went away.", s.requestsCancelled());
        counter(b, "sieve_preemptions_total", "Sequences preempted for lack of KV blocks (resumed by recomputation).", s.preemptions());
        counter(b, "sieve_engine_steps_total", "Forward passes of the engine.", s.steps());
        counter(b, "sieve_prefix_cache_hit_tokens_total", "Prompt tokens reused from the prefix cache instead of computed.", s.prefixCacheHitTokens());
        histogram(b, "sieve_time_to_first_token_seconds", "Time from submission to the first token.", engine.timeToFirstToken());
        histogram(b, "sieve_inter_token_latency_seconds", "Time between consecutive tokens of a sequence.", engine.interTokenLatency());
        return b.toString();
    }

    private static void head(StringBuilder b, String name, String help, String type) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, long v) {
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
