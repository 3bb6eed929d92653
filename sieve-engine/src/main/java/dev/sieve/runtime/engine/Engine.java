package dev.sieve.runtime.engine;

import dev.sieve.core.kernel.Linear;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.KvEncoding;
import dev.sieve.model.layers.KvPool;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.layers.Transformer.BatchEntry;
import dev.sieve.model.loader.Model;
import dev.sieve.runtime.sample.Sampler;
import dev.sieve.runtime.sample.StopStrings;
import dev.sieve.runtime.sched.KvBlockManager;
import dev.sieve.runtime.sched.Scheduler;
import dev.sieve.runtime.sched.SequenceState;
import dev.sieve.runtime.sched.StepCostModel;
import dev.sieve.tokenizer.StreamingDecoder;
import dev.sieve.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

/**
 * Serves many generations at once on its own thread (continuous batching): each iteration asks the
 * {@link Scheduler} for a step, runs all its chunks in one {@link Transformer#forwardBatch} pass,
 * samples a token for every sequence whose pending tokens are all computed, and reports text to the
 * request's listener. Other threads only {@link #submit} and {@link #cancel}; both hand over through
 * concurrent queues, so the scheduler and the caches stay single-threaded.
 *
 * <p>KV memory is one {@link KvPool} of blocks of 16 tokens, sized by the KV byte budget and
 * allocated once: every sequence's cache is a block table over it ({@link KvBlockManager}), which
 * decides admission and preemption, and shares the blocks of common prompt prefixes between
 * sequences (prefix caching; the tokens reused are in {@link EngineStats#prefixCacheHitTokens()}).
 */
public final class Engine implements AutoCloseable {

    /**
     * @param contextSize  tokens per sequence (prompt + generated)
     * @param maxRunning   sequences batched together at most
     * @param batchTokens  tokens per forward pass at most (decodes + prompt chunks)
     * @param maxQueue     requests waiting for a first step at most; more are refused
     * @param kvBudgetBytes KV bytes of the block pool; 0 = enough for every running sequence's full context
     * @param cacheType    how the pool stores keys and values
     * @param cacheResidual recent positions a quantized cache also keeps in full precision, per sequence (outside the pool)
     * @param stepCostRatio a step that prefills next to decodes may cost this many times a pure-decode step,
     *                      as measured online ({@link StepCostModel}); 0 = no bound but {@code batchTokens}
     */
    public record Config(int contextSize, int maxRunning, int batchTokens, int maxQueue, long kvBudgetBytes,
            KvEncoding cacheType, int cacheResidual, double stepCostRatio) {
        public Config {
            if (contextSize < 2 || maxRunning < 1 || batchTokens < 1 || maxQueue < 0 || kvBudgetBytes < 0
                    || !(stepCostRatio == 0 || stepCostRatio > 1)) {
                throw new IllegalArgumentException("engine settings out of range: " + contextSize + " context, "
                        + maxRunning + " parallel, " + batchTokens + " batch tokens, " + maxQueue + " queue, step cost ratio "
                        + stepCostRatio + " (0 or > 1)");
            }
            java.util.Objects.requireNonNull(cacheType, "cacheType");
            if (cacheResidual < 0) {
                throw new IllegalArgumentException("the residual window must not be negative: " + cacheResidual);
            }
        }

        /** A full-precision (F32) cache; steps bounded by {@code batchTokens} alone. */
        public Config(int contextSize, int maxRunning, int batchTokens, int maxQueue, long kvBudgetBytes) {
            this(contextSize, maxRunning, batchTokens, maxQueue, kvBudgetBytes, KvEncoding.F32, 0, 0);
        }
    }

    private final Model model;
    private final Tokenizer tokenizer;
    private final Config config;
    private final Transformer transformer;
    private final Scheduler scheduler;
    private final KvBlockManager kv;
    private final float[] logits;
    private final float[] row;
    /** The vocabulary's end-of-generation ids, masked for requests that ignore them. */
    private final int[] endOfGeneration;
    private final int vocab;
    private final long bytesPerToken;
    /** Steps after which a step's measured cost weighs half: follows a change of load within seconds. */
    private static final double STEP_COST_HALF_LIFE = 64;
    private final StepCostModel stepCost; // null when steps are bounded by batchTokens alone

    private final LinkedBlockingQueue<Live> inbox = new LinkedBlockingQueue<>();
    private final ConcurrentLinkedQueue<Long> cancels = new ConcurrentLinkedQueue<>();
    private final Map<Long, Live> live = new HashMap<>(); // engine thread only
    private final AtomicInteger queued = new AtomicInteger(); // submitted, not yet started
    private final Thread thread;
    private volatile boolean stopping;

    private volatile EngineStats stats;
    private final AtomicLong generatedTotal = new AtomicLong();
    private long promptTotal, finished, cancelled, steps;
    private final LatencyHistogram ttft = new LatencyHistogram();
    private final LatencyHistogram itl = new LatencyHistogram();

    /** A request in flight: the scheduler's view plus sampling, decoding and timing. */
    private static final class Live extends SequenceState {
        final EngineRequest req;
        final Sampler sampler;
        final StreamingDecoder decoder;
        final StopStrings stopper;
        final long submitted = System.nanoTime();
        long lastToken;
        boolean leftQueue;
        float[] raw; // copy of the logits row for log-probabilities, only when asked for

        Live(EngineRequest req, Tokenizer tok, int vocab) {
            super(req.id(), req.prompt());
            this.req = req;
            this.sampler = new Sampler(req.sampling(), vocab);
            for (int t : req.prompt()) {
                sampler.accept(t); // as Session does: the prompt counts for the penalties
            }
            this.decoder = tok.streamingDecoder();
            this.stopper = new StopStrings(req.stops());
            this.raw = req.wantsLogprobs() ? new float[vocab] : null;
        }
    }

    public Engine(Model model, Tokenizer tokenizer, Linear linear, Config config) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.config = config;
        this.vocab = model.config().vocabSize();
        this.transformer = new Transformer(model.config(), model.weights(), linear, config.batchTokens());
        var mc = model.config();
        this.bytesPerToken = KvPool.bytesPerToken(mc.layers(), mc.kvDim(), mc.headDim(), config.cacheType(),
                KvBlockManager.BLOCK_TOKENS);
        long budget = config.kvBudgetBytes() > 0 ? config.kvBudgetBytes()
                : (long) config.maxRunning() * config.contextSize() * bytesPerToken;
        int blocks = (int) Math.min(Integer.MAX_VALUE, budget / (bytesPerToken * KvBlockManager.BLOCK_TOKENS));
        // A lone sequence must always fit, or preemption could never make progress.
        if (blocks < KvBlockManager.blocksFor(config.contextSize())) {
            throw new IllegalArgumentException("the KV budget of " + budget + " bytes holds " + blocks
                    + " blocks, less than one full context of " + config.contextSize() + " tokens needs ("
                    + KvBlockManager.blocksFor(config.contextSize()) + ")");
        }
        KvPool pool = new KvPool(mc.layers(), mc.kvDim(), mc.headDim(), config.cacheType(), KvBlockManager.BLOCK_TOKENS,
                blocks, linear.kernels());
        this.kv = new KvBlockManager(pool, config.contextSize(), config.cacheResidual(), true);
        this.stepCost = config.stepCostRatio() > 0
                ? new StepCostModel(config.stepCostRatio(), STEP_COST_HALF_LIFE) : null;
        this.scheduler = new Scheduler(kv, config.maxRunning(), config.batchTokens(), stepCost);
        this.logits = new float[Math.min(config.batchTokens(), config.maxRunning()) * vocab];
        this.row = new float[vocab];
        this.endOfGeneration = IntStream.range(0, vocab).filter(tokenizer::isEndOfGeneration).toArray();
        this.stats = snapshot();
        this.thread = new Thread(this::loop, "sieve-engine");
        this.thread.setDaemon(true);
    }

    public Engine start() {
        thread.start();
        return this;
    }

    public Config config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public Model model() {
        return model;
    }

    public long kvBytesPerToken() {
        return bytesPerToken;
    }

    /** Queues a request; throws {@link EngineBusyException} when {@code maxQueue} requests are already waiting. */
    public void submit(EngineRequest r) {
        if (r.prompt().length >= config.contextSize()) {
            throw new IllegalArgumentException("prompt of " + r.prompt().length + " tokens leaves no room in the context of "
                    + config.contextSize() + " tokens");
        }
        for (int q; ; ) {
            q = queued.get();
            if (q >= config.maxQueue()) {
                throw new EngineBusyException(q);
            }
            if (queued.compareAndSet(q, q + 1)) {
                break;
            }
        }
        inbox.add(new Live(r, tokenizer, vocab));
    }

    /** Stops a request and frees its cache at the next step; no further events are sent for it. */
    public void cancel(long requestId) {
        cancels.add(requestId); // an idle loop looks every 50 ms
    }

    public EngineStats stats() {
        return stats;
    }

    public LatencyHistogram timeToFirstToken() {
        return ttft;
    }

    public LatencyHistogram interTokenLatency() {
        return itl;
    }

    /** The measured step cost that sizes prompt chunks; NaNs when there is none (yet, or at all). */
    public StepCostModel.Fit stepCost() {
        return stepCost == null ? new StepCostModel.Fit(Double.NaN, Double.NaN) : stepCost.fit();
    }

    private EngineStats snapshot() {
        return new EngineStats(scheduler.waitingCount() + inbox.size(), scheduler.runningCount(), kv.heldBlocks(),
                kv.totalBlocks(), promptTotal, generatedTotal.get(), finished, cancelled, scheduler.preemptions(), steps,
                kv.prefixHitTokens(), kv.cachedBlocks());
    }

    private void loop() {
        List<BatchEntry> entries = new ArrayList<>();
        while (!stopping) {
            try {
                drain();
                if (scheduler.idle()) {
                    stats = snapshot();
                    Live l = inbox.poll(50, TimeUnit.MILLISECONDS);
                    if (l != null) {
                        admit(l);
                    }
                    continue;
                }
                step(entries);
            } catch (InterruptedException e) {
                break;
            } catch (RuntimeException | Error e) {
                failAll(e);
            }
        }
        failAll(new IllegalStateException("the engine stopped"));
    }

    private void drain() {
        for (Live l; (l = inbox.poll()) != null; ) {
            admit(l);
        }
        for (Long id; (id = cancels.poll()) != null; ) {
            Live l = live.get(id);
            if (l != null) {
                leaveQueue(l);
                remove(l);
                cancelled++;
            }
        }
    }

    private void admit(Live l) {
        live.put(l.id(), l);
        scheduler.add(l);
    }

    private void remove(Live l) {
        scheduler.finish(l); // returns its blocks
        live.remove(l.id());
    }

    private void step(List<BatchEntry> entries) {
        Scheduler.Step step = scheduler.schedule(); // preempted sequences' blocks are already back in the pool
        if (step.chunks().isEmpty()) {
            stats = snapshot();
            Thread.onSpinWait();
            return;
        }
        entries.clear();
        for (Scheduler.Chunk c : step.chunks()) {
            Live l = (Live) c.seq();
            leaveQueue(l);
            KvCache cache = kv.cache(l.id());
            if (cache.length() != c.off()) {
                throw new IllegalStateException("sequence " + l.id() + " has " + cache.length() + " positions cached, its chunk starts at " + c.off());
            }
            entries.add(new BatchEntry(cache, l.tokens(), c.off(), c.n()));
        }
        long t0 = System.nanoTime();
        transformer.forwardBatch(entries, logits);
        scheduler.completed(step);
        steps++;
        // Published before the step's tokens go out, as before a Done: a client that has its first token
        // sees its sequence running (with the end-of-step snapshot alone it could still read the idle one).
        stats = snapshot();
        long now = System.nanoTime();
        List<Scheduler.Chunk> chunks = step.chunks();
        for (int i = 0; i < chunks.size(); i++) {
            Live l = (Live) chunks.get(i).seq();
            if (l.generated() == 0 || chunks.get(i).n() > 1) {
                promptTotal += chunks.get(i).n();
            }
            if (l.remaining() == 0) {
                System.arraycopy(logits, i * vocab, row, 0, vocab);
                next(l, now);
            }
        }
        if (stepCost != null) { // the forward pass and the sampling: what the streams wait for
            stepCost.record(step.tokens(), System.nanoTime() - t0);
        }
        stats = snapshot();
    }

    /** The first time a sequence gets a cache (or ends) it stops counting against the queue bound. */
    private void leaveQueue(Live l) {
        if (!l.leftQueue) {
            l.leftQueue = true;
            queued.decrementAndGet();
        }
    }

    /** Samples the next token of {@code l} from {@link #row} and reports it. */
    private void next(Live l, long now) {
        List<EngineEvent.TokenLogprob> lp = null;
        if (l.req.ignoreEos()) {
            for (int id : endOfGeneration) {
                row[id] = Float.NEGATIVE_INFINITY;
            }
        }
        if (l.raw != null) {
            System.arraycopy(row, 0, l.raw, 0, vocab);
        }
        int token = l.sampler.sample(row);
        l.sampler.accept(token);
        l.append(token);
        generatedTotal.incrementAndGet();
        if (l.generated() == 1) {
            ttft.record(now - l.submitted);
        } else {
            itl.record(now - l.lastToken);
        }
        l.lastToken = now;
        if (l.raw != null) {
            lp = List.of(logprob(l.raw, token, l.req.topLogprobs()));
        }
        StopReason reason = null;
        String text;
        if (tokenizer.isEndOfGeneration(token)) {
            reason = StopReason.END_OF_GENERATION;
            text = "";
        } else {
            text = l.stopper.accept(l.decoder.accept(token));
            if (l.stopper.stopped()) {
                reason = StopReason.STOP_STRING;
            } else if (l.generated() >= l.req.maxTokens()) {
                reason = StopReason.MAX_TOKENS;
            } else if (l.length() > config.contextSize()) {
                reason = StopReason.CONTEXT_FULL;
            }
        }
        if (reason != null && reason != StopReason.STOP_STRING) {
            String rest = l.stopper.accept(l.decoder.flush());
            text += l.stopper.stopped() ? rest : rest + l.stopper.flush();
        }
        var listener = l.req.listener();
        // One event per generated token, even when its text is not final yet (half a UTF-8
        // character, a possible stop string): a stream then paces at the engine's step, and a
        // client timing its chunks measures inter-token latency rather than tokenizer holdback
        // (before, the ~5% of a synthetic model's tokens that held text back showed as doubled gaps,
        // which alone made the p99 twice the median). Only a last token with nothing to add is
        // left to the Done that follows.
        if (!text.isEmpty() || lp != null || reason == null) {
            listener.accept(new EngineEvent.Delta(l.id(), text, lp == null ? List.of() : lp));
        }
        if (reason != null) {
            remove(l);
            finished++;
            stats = snapshot(); // published before the Done: whoever reads the stats after it sees the blocks back
            listener.accept(new EngineEvent.Done(l.id(), reason, l.promptLength(), l.generated()));
        }
    }

    /** Log-softmax of the raw logits at {@code token}, and the {@code top} most likely tokens. */
    static EngineEvent.TokenLogprob logprob(float[] raw, int token, int top) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : raw) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : raw) {
            sum += Math.exp(v - max);
        }
        float lse = (float) (max + Math.log(sum));
        int[] ids = new int[top];
        float[] lps = new float[top];
        int n = 0;
        for (int i = 0; i < raw.length; i++) { // insertion into a small sorted array: top ≤ 20
            float v = raw[i];
            if (n < top || top > 0 && v > raw[ids[n - 1]]) { // top 0: the sampled token's alone
                int j = Math.min(n, top - 1);
                while (j > 0 && raw[ids[j - 1]] < v) {
                    ids[j] = ids[j - 1];
                    j--;
                }
                ids[j] = i;
                n = Math.min(n + 1, top);
            }
        }
        for (int i = 0; i < top; i++) {
            lps[i] = raw[ids[i]] - lse;
        }
        return new EngineEvent.TokenLogprob(token, raw[token] - lse, ids, lps);
    }

    private void failAll(Throwable e) {
        String msg = "generation failed: " + e;
        List<Live> failed = List.copyOf(live.values());
        for (Live l : failed) {
            leaveQueue(l);
            remove(l);
        }
        stats = snapshot(); // before the events, as for Done
        for (Live l : failed) {
            l.req.listener().accept(new EngineEvent.Failed(l.id(), msg));
        }
    }

    @Override
    public void close() {
        stopping = true;
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
