package dev.sieve.runtime.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The scheduler alone, driven by a fake model that "samples" a fixed token after each completed sequence step. */
class SchedulerTest {

    static SequenceState seq(long id, int promptLen) {
        int[] p = new int[promptLen];
        Arrays.fill(p, 7);
        return new SequenceState(id, p);
    }

    /** Runs a step as the engine would: completes it and appends a token to every sequence that is caught up. */
    static Scheduler.Step run(Scheduler s) {
        Scheduler.Step step = s.schedule();
        s.completed(step);
        for (Scheduler.Chunk c : step.chunks()) {
            if (c.seq().remaining() == 0) {
                c.seq().append(1);
            }
        }
        return step;
    }

    static int tokensOf(Scheduler.Step step, SequenceState s) {
        return step.chunks().stream().filter(c -> c.seq() == s).mapToInt(Scheduler.Chunk::n).sum();
    }

    @Test
    void tokenBudgetIsRespectedEveryStep() {
        Scheduler s = new Scheduler(new KvBlockManager(1000), 8, 32);
        for (int i = 0; i < 8; i++) {
            s.add(seq(i, 10 + 7 * i));
        }
        for (int k = 0; k < 50; k++) {
            Scheduler.Step step = run(s);
            assertTrue(step.tokens() <= 32, "step " + k + " ran " + step.tokens() + " tokens");
            assertTrue(step.tokens() > 0);
        }
    }

    @Test
    void longPromptIsChunkedWhileRunningSequencesKeepDecoding() {
        Scheduler s = new Scheduler(new KvBlockManager(1000), 4, 16);
        SequenceState a = seq(1, 5);
        SequenceState b = seq(2, 6);
        s.add(a);
        s.add(b);
        run(s); // both prompts fit one step: 11 tokens
        assertEquals(1, a.generated());
        assertEquals(1, b.generated());
        SequenceState big = seq(3, 100);
        s.add(big);
        int steps = 0;
        while (big.generated() == 0) {
            Scheduler.Step step = run(s);
            steps++;
            assertEquals(1, tokensOf(step, a), "a decodes every step");
            assertEquals(1, tokensOf(step, b), "b decodes every step");
            assertTrue(tokensOf(step, big) <= 14);
            assertTrue(step.tokens() <= 16);
        }
        assertEquals((100 + 13) / 14, steps, "the 100-token prompt took ceil(100/14) chunks");
        assertEquals(1 + steps, a.generated());
    }

    @Test
    void aShortPromptArrivingDuringALongPrefillStartsAtOnce() {
        Scheduler s = new Scheduler(new KvBlockManager(1000), 4, 16);
        SequenceState a = seq(1, 5);
        s.add(a);
        run(s);
        SequenceState big = seq(2, 200);
        s.add(big);
        run(s);
        run(s);
        assertEquals(30, big.computed(), "the long prompt takes the prompt budget: 15 a step next to a's decode");
        SequenceState small = seq(3, 10);
        Scheduler.Step step = arriveAndRun(s, small);
        assertEquals(1, tokensOf(step, a), "a keeps decoding");
        assertEquals(10, tokensOf(step, small), "the 10-token prompt runs whole in the step after it arrives");
        assertEquals(5, tokensOf(step, big), "the long prompt gets what is left");
        assertEquals(1, small.generated());
        step = run(s);
        assertEquals(1, tokensOf(step, small), "then it decodes every step");
        assertEquals(14, tokensOf(step, big));
    }

    /** A scheduler with a budget of 8 tokens that has run one chunk of {@code first}'s prompt, and nothing else. */
    static Scheduler afterOneChunkOf(SequenceState first) {
        Scheduler s = new Scheduler(new KvBlockManager(1000), 4, 8);
        s.add(first);
        run(s);
        return s;
    }

    /** Queues {@code newcomer} and runs the step after its arrival. */
    static Scheduler.Step arriveAndRun(Scheduler s, SequenceState newcomer) {
        s.add(newcomer);
        return run(s);
    }

    @Test
    void aShortPromptPartlyRunGoesBeforeALongOneNextStepToo() {
        SequenceState big = seq(1, 100);
        Scheduler s = afterOneChunkOf(big);
        SequenceState small = seq(2, 12);
        Scheduler.Step step = arriveAndRun(s, small);
        assertEquals(8, tokensOf(step, small), "the short head of the queue takes the whole budget");
        assertEquals(0, tokensOf(step, big));
        step = run(s);
        assertEquals(4, tokensOf(step, small), "the rest of the short prompt, before the older long one");
        assertEquals(4, tokensOf(step, big));
        assertEquals(1, small.generated());
    }

    @Test
    void aLongPromptAtTheHeadOfTheQueueStillWaitsForTheRunningPrompt() {
        SequenceState first = seq(1, 100);
        SequenceState second = seq(2, 40);
        Scheduler.Step step = arriveAndRun(afterOneChunkOf(first), second);
        assertEquals(8, tokensOf(step, first), "a long newcomer does not overtake: arrival order among long prompts");
        assertEquals(0, tokensOf(step, second));
    }

    @Test
    void waitingSequencesAreAdmittedInArrivalOrder() {
        Scheduler s = new Scheduler(new KvBlockManager(1000), 2, 100);
        List<SequenceState> all = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            all.add(seq(i, 4));
            s.add(all.get(i));
        }
        Scheduler.Step step = run(s);
        assertEquals(List.of(all.get(0), all.get(1)), step.chunks().stream().map(Scheduler.Chunk::seq).toList());
        s.finish(all.get(1));
        step = run(s);
        assertTrue(step.chunks().stream().anyMatch(c -> c.seq() == all.get(2)));
        assertTrue(step.chunks().stream().noneMatch(c -> c.seq() == all.get(3) || c.seq() == all.get(4)));
        // a head that does not fit blocks the queue: nobody overtakes it
        Scheduler t = new Scheduler(new KvBlockManager(4), 4, 100);
        SequenceState first = seq(10, 40); // 3 blocks
        SequenceState huge = seq(11, 30); // 2 blocks: does not fit next to first
        SequenceState small = seq(12, 3); // 1 block: would fit, but arrived later
        t.add(first);
        t.add(huge);
        t.add(small);
        Scheduler.Step st = run(t);
        assertEquals(List.of(first), st.chunks().stream().map(Scheduler.Chunk::seq).toList());
    }

    @Test
    void exhaustedBlocksPreemptTheNewestWhichResumesByRecomputation() {
        KvBlockManager kv = new KvBlockManager(6); // 96 tokens
        Scheduler s = new Scheduler(kv, 4, 64);
        SequenceState old = seq(1, 30);
        SequenceState young = seq(2, 30);
        s.add(old);
        s.add(young);
        run(s);
        assertEquals(4, kv.usedBlocks());
        boolean preempted = false;
        for (int k = 0; k < 200 && !(old.generated() >= 60 && young.generated() >= 20); k++) {
            Scheduler.Step step = run(s);
            assertTrue(kv.usedBlocks() <= 6);
            if (!step.preempted().isEmpty()) {
                preempted = true;
                assertEquals(List.of(young), step.preempted(), "the newest is preempted, never the oldest");
                assertEquals(0, young.computed());
                assertEquals(0, kv.blocksOf(young.id()));
            }
            if (old.generated() >= 60) {
                s.finish(old); // frees room: young resumes
            }
        }
        assertTrue(preempted);
        assertTrue(young.generated() >= 20, "the preempted sequence resumed and went on");
        assertEquals(young.length() - 1, young.computed(), "recomputed everything but the newest token");
        assertTrue(s.preemptions() >= 1);
    }

    @Test
    void finishFreesAllBlocks() {
        KvBlockManager kv = new KvBlockManager(50);
        Scheduler s = new Scheduler(kv, 3, 20);
        List<SequenceState> all = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            all.add(seq(i, 9 + i * 5));
            s.add(all.get(i));
        }
        for (int k = 0; k < 10; k++) {
            run(s);
        }
        all.forEach(s::finish);
        assertEquals(0, kv.usedBlocks());
        assertTrue(s.idle());
    }
}
