package dev.sieve.runtime.sched;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Forms one batch per step (Sarathi-style chunked prefill): first one decode token for every
 * running sequence that is decoding, then chunks of unfinished prompts, short ones (at most {@link
 * StepCostModel#SHORT_PROMPT_TOKENS} in all, running or at the head of the queue) before long ones,
 * then new sequences from the waiting queue in arrival order, all under {@code tokenBudget} tokens.
 * A long prompt therefore spreads over several steps while the running streams keep decoding, and
 * a short request arriving meanwhile starts without waiting for it.
 *
 * <p>Every scheduled chunk first gets its KV blocks. When the blocks run out, the newest running
 * sequence is preempted: its blocks are freed, its progress reset, and it goes back to the head of
 * the waiting queue, to be recomputed (prompt plus generated tokens) once blocks are free. Nothing
 * is ever dropped. A sequence admitted from the queue first adopts the blocks of its longest cached
 * prefix ({@link KvBlockManager#matchPrefix}), so only the rest of it is computed. Not thread-safe:
 * the engine thread owns it.
 *
 * <p>With a {@link StepCostModel}, the prompt tokens of a step that also decodes are further
 * limited to what keeps the step's cost within the model's target (the decodes' inter-token latency),
 * except that the short prompts the step serves go whole, together; {@code tokenBudget} stays the
 * hard cap.
 */
public final class Scheduler {
    /** Tokens {@code [off, off + n)} of {@code seq} run this step. */
    public record Chunk(SequenceState seq, int off, int n) {}

    /** One step: the chunks to run, and the sequences preempted to make room (their caches are void). */
    public record Step(List<Chunk> chunks, List<SequenceState> preempted) {
        public int tokens() {
            int t = 0;
            for (Chunk c : chunks) {
                t += c.n();
            }
            return t;
        }
    }

    private final KvBlockManager kv;
    private final int maxRunning;
    private final int tokenBudget;
    private final StepCostModel cost; // null: every step may fill tokenBudget
    private final ArrayDeque<SequenceState> waiting = new ArrayDeque<>();
    private final ArrayList<SequenceState> running = new ArrayList<>(); // oldest first
    private long preemptions;

    public Scheduler(KvBlockManager kv, int maxRunning, int tokenBudget) {
        this(kv, maxRunning, tokenBudget, null);
    }

    /** @param cost sizes prompt chunks next to decodes; null for none */
    public Scheduler(KvBlockManager kv, int maxRunning, int tokenBudget, StepCostModel cost) {
        if (maxRunning < 1 || tokenBudget < 1) {
            throw new IllegalArgumentException("need at least one running sequence and one token per step");
        }
        this.kv = kv;
        this.maxRunning = maxRunning;
        this.tokenBudget = tokenBudget;
        this.cost = cost;
    }

    /** Queues a new sequence behind the others. */
    public void add(SequenceState s) {
        waiting.addLast(s);
    }

    public Step schedule() {
        List<Chunk> chunks = new ArrayList<>();
        List<SequenceState> preempted = new ArrayList<>();
        int budget = tokenBudget;
        // Decodes first: they never wait behind a prefill. Then prompts, short before long: running
        // short prompts (at most SHORT_PROMPT_TOKENS in all), a short prompt at the head of the queue,
        // then the chunks of long running prompts, then the queue in arrival order. A short request
        // that arrives while a long prompt is prefilled therefore starts at once instead of waiting
        // for the whole prefill (seconds); the long prompt loses a few tokens of a few steps.
        budget = runningPass(RUNNING_DECODES, budget, chunks, preempted);
        if (cost != null) {
            // The decodes are in; the prompt tokens after them must keep the step's cost in bounds.
            int decodes = tokenBudget - budget;
            int whole = shortPromptTokens(preempted.isEmpty());
            budget = Math.min(budget, cost.stepTokens(decodes, tokenBudget, whole) - decodes);
        }
        budget = runningPass(RUNNING_SHORT_PROMPTS, budget, chunks, preempted);
        // Admissions never while preempting (they would be evicted next).
        if (preempted.isEmpty()) {
            budget = admit(budget, chunks, true);
        }
        budget = runningPass(RUNNING_LONG_PROMPTS, budget, chunks, preempted);
        if (preempted.isEmpty()) {
            admit(budget, chunks, false);
        }
        return new Step(chunks, preempted);
    }

    private static final int RUNNING_DECODES = 0, RUNNING_SHORT_PROMPTS = 1, RUNNING_LONG_PROMPTS = 2;

    /**
     * Whether {@code s} has something to run in this pass over the running sequences. A prompt is short
     * by its whole length, not by what is left of it: a long prompt's last tokens stay a long prompt's,
     * held to the step cost ratio.
     */
    private static boolean inPass(SequenceState s, int pass) {
        int left = s.remaining();
        boolean shortPrompt = s.length() <= StepCostModel.SHORT_PROMPT_TOKENS;
        return switch (pass) {
            case RUNNING_DECODES -> left == 1;
            case RUNNING_SHORT_PROMPTS -> left > 1 && shortPrompt;
            default -> left > 1 && !shortPrompt;
        };
    }

    /**
     * Chunks for the running sequences of one pass, oldest first, within {@code budget}; preempts the
     * newest sequences when blocks run out. Returns the budget left.
     */
    private int runningPass(int pass, int budget, List<Chunk> chunks, List<SequenceState> preempted) {
        for (int i = 0; i < running.size() && budget > 0; i++) {
            SequenceState s = running.get(i);
            if (!inPass(s, pass)) {
                continue;
            }
            int n = Math.min(s.remaining(), budget);
            boolean self = false;
            while (!kv.allocate(s.id(), s.computed() + n)) {
                SequenceState victim = running.get(running.size() - 1);
                budget += preempt(victim, chunks, preempted);
                if (victim == s) {
                    self = true;
                    break;
                }
            }
            if (self) {
                break; // s was the newest: nothing after it remains in this pass
            }
            chunks.add(new Chunk(s, s.computed(), n));
            budget -= n;
        }
        return budget;
    }

    /**
     * Admits waiting sequences in arrival order within {@code budget} (with {@code shortOnly}, only
     * while the head's prompt has at most {@link StepCostModel#SHORT_PROMPT_TOKENS} tokens); returns
     * the budget left.
     */
    private int admit(int budget, List<Chunk> chunks, boolean shortOnly) {
        while (!waiting.isEmpty() && budget > 0 && running.size() < maxRunning) {
            SequenceState s = waiting.peekFirst();
            if (shortOnly && s.remaining() > StepCostModel.SHORT_PROMPT_TOKENS) {
                break;
            }
            // A cached prefix is adopted, not recomputed; the last token always runs (its logits are needed).
            s.advance(kv.matchPrefix(s.id(), s.tokens(), s.length() - 1));
            int n = Math.min(s.remaining(), budget);
            if (!kv.allocate(s.id(), s.computed() + n)) {
                kv.free(s.id()); // adopted blocks go back too: a waiting sequence holds nothing
                s.resetComputed();
                break; // FCFS: the head waits for blocks, nobody overtakes it
            }
            waiting.pollFirst();
            s.markStarted();
            running.add(s);
            chunks.add(new Chunk(s, s.computed(), n));
            budget -= n;
        }
        return budget;
    }

    /**
     * The prompt tokens of the short prompts (sequences of at most {@link
     * StepCostModel#SHORT_PROMPT_TOKENS} tokens in all) this step would serve whole: the running ones
     * that are still prefilling, then, when admissions are allowed, the waiting ones at the head of the
     * queue for which there is a free slot. Admitted together, their step streams the weights once.
     */
    private int shortPromptTokens(boolean mayAdmit) {
        int tokens = 0;
        for (SequenceState s : running) {
            if (inPass(s, RUNNING_SHORT_PROMPTS)) {
                tokens += s.remaining();
            }
        }
        int slots = mayAdmit ? maxRunning - running.size() : 0;
        for (SequenceState s : waiting) {
            if (slots-- <= 0 || s.length() > StepCostModel.SHORT_PROMPT_TOKENS) {
                break;
            }
            tokens += s.remaining();
        }
        return tokens;
    }

    /** Frees the victim's blocks, drops its chunk if already planned; returns the tokens given back. */
    private int preempt(SequenceState victim, List<Chunk> chunks, List<SequenceState> preempted) {
        int back = 0;
        for (int j = chunks.size() - 1; j >= 0; j--) {
            if (chunks.get(j).seq() == victim) {
                back += chunks.remove(j).n();
            }
        }
        running.remove(running.size() - 1);
        kv.free(victim.id());
        victim.resetComputed();
        waiting.addFirst(victim); // preempted newest-first, so the older ones end up in front
        preempted.add(victim);
        preemptions++;
        return back;
    }

    /** Records that the step ran: every chunk's tokens are now in the cache, and its full blocks join the prefix index. */
    public void completed(Step step) {
        for (Chunk c : step.chunks()) {
            c.seq().advance(c.n());
            kv.commit(c.seq().id(), c.seq().tokens(), c.seq().computed());
        }
    }

    /** Removes a finished or cancelled sequence, wherever it is, and frees its blocks. */
    public boolean finish(SequenceState s) {
        boolean found = running.remove(s) || waiting.remove(s);
        kv.free(s.id());
        return found;
    }

    public int waitingCount() {
        return waiting.size();
    }

    public int runningCount() {
        return running.size();
    }

    public boolean idle() {
        return waiting.isEmpty() && running.isEmpty();
    }

    public long preemptions() {
        return preemptions;
    }

    public KvBlockManager kv() {
        return kv;
    }

    public List<SequenceState> running() {
        return List.copyOf(running);
    }

    public List<SequenceState> waiting() {
        return List.copyOf(waiting);
    }
}
