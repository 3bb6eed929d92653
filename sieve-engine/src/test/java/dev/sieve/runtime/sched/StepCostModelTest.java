package dev.sieve.runtime.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The step cost model against steps whose cost is an exact linear function of their tokens (the fit
 * must recover it), and the scheduler it steers against a simulated clock with that cost: while a long
 * prompt is prefilled next to decoding streams, no step costs more than the target times a pure-decode step.
 */
class StepCostModelTest {
    static final double FIXED = 40e6; // 40 ms a step
    static final double PER_TOKEN = 6e6; // 6 ms a token (no chunk below lands exactly on an integer)

    static long cost(int tokens) {
        return Math.round(FIXED + PER_TOKEN * tokens);
    }

    /**
     * A scheduler with the ratio 1.1 (one prompt token a step beside the decodes: 0.1 · 64 / 6 = 1.07),
     * 8 slots, 256 tokens a step, and four 8-token streams already past their prompts (nothing decoded
     * yet when they were admitted, so no limit then).
     */
    static Scheduler fourStreams() {
        Scheduler s = new Scheduler(new KvBlockManager(10_000), 8, 256, fitted(1.1));
        for (int i = 0; i < 4; i++) {
            s.add(SchedulerTest.seq(i, 8));
        }
        SchedulerTest.run(s);
        return s;
    }

    /** A model with the given target that has seen steps of several sizes at exactly {@link #cost}. */
    static StepCostModel fitted(double ratio) {
        StepCostModel m = new StepCostModel(ratio, 64);
        for (int t : new int[] {1, 2, 3, 8, 16, 64}) {
            m.record(t, cost(t));
        }
        return m;
    }

    @Test
    void leastSquaresRecoverALinearCost() {
        StepCostModel m = new StepCostModel(1.5, 64);
        assertFalse(m.ready());
        assertEquals(100, m.stepTokens(4, 100, 0), "no fit yet: the hard cap");
        for (int i = 0; i < 20; i++) {
            m.record(4, cost(4)); // one size alone leaves the slope open
        }
        assertFalse(m.ready());
        for (int t : new int[] {1, 4, 4, 8, 36, 4, 132, 5}) {
            m.record(t, cost(t));
        }
        assertTrue(m.ready());
        assertEquals(FIXED, m.fixedNanos(), 1e-3 * FIXED);
        assertEquals(PER_TOKEN, m.perTokenNanos(), 1e-3 * PER_TOKEN);
    }

    @Test
    void stepTokensKeepTheStepWithinTheTargetRatio() {
        StepCostModel m = fitted(1.5);
        for (int d = 1; d <= 8; d++) {
            int tokens = m.stepTokens(d, 1000, 0); // a long prompt: the ratio alone
            // (1.5 - 1)(40 + 6d) / 6 prompt tokens, rounded down
            int chunk = (int) Math.floor(0.5 * (FIXED + PER_TOKEN * d) / PER_TOKEN + 1e-9);
            assertEquals(d + chunk, tokens, d + " decodes");
            assertTrue(cost(tokens) <= 1.5 * cost(d) + 1, "within 1.5x");
            assertTrue(cost(tokens + 1) > 1.5 * cost(d), "and as large as that allows");
        }
        assertEquals(1000, m.stepTokens(0, 1000, 0), "no decodes: nothing to protect");
        assertEquals(8, m.stepTokens(4, 8, 0), "never past the hard cap (9 otherwise)");
    }

    @Test
    void aShortPromptGoesWholeALongOneKeepsToTheRatioDownToOneToken() {
        StepCostModel m = new StepCostModel(1.1, 64);
        for (int t : new int[] {1, 2, 30}) {
            m.record(t, Math.round(1e9 * t)); // no fixed cost: 0.1 × d tokens would round to nothing
        }
        int s = StepCostModel.SHORT_PROMPT_TOKENS;
        assertEquals(2 + s, m.stepTokens(2, 100, s), "a short prompt: all of it");
        assertEquals(2 + 5, m.stepTokens(2, 100, 5), "and no more than it has");
        assertEquals(20, m.stepTokens(2, 20, s), "never past the hard cap");
        assertEquals(2 + 1, m.stepTokens(2, 100, 0), "a long prompt keeps to the ratio, but always advances");
        assertEquals(30 + 3, m.stepTokens(30, 100, 0), "where the ratio allows more, the floor does not matter");
    }

    @Test
    void theFitFollowsAChangeOfLoad() {
        StepCostModel m = new StepCostModel(1.5, 16);
        Random rnd = new Random(1);
        for (int i = 0; i < 200; i++) {
            int t = 1 + rnd.nextInt(64);
            m.record(t, cost(t));
        }
        for (int i = 0; i < 300; i++) { // the machine gets three times slower
            int t = 1 + rnd.nextInt(64);
            m.record(t, 3 * cost(t));
        }
        assertEquals(3 * PER_TOKEN, m.perTokenNanos(), 0.01 * 3 * PER_TOKEN);
        assertEquals(3 * FIXED, m.fixedNanos(), 0.01 * 3 * FIXED);
    }

    @Test
    void settingsOutOfRangeAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new StepCostModel(1.0, 64));
        assertThrows(IllegalArgumentException.class, () -> new StepCostModel(2, 0));
    }

    /**
     * Four streams decode, then a 1024-token prompt arrives. Each step "takes" the linear cost of its
     * tokens, with noise of ±10%, and the model learns from those times as the engine's would.
     */
    @Test
    void prefillNextToDecodesStaysWithinTheTargetOnASimulatedClock() {
        StepCostModel m = new StepCostModel(1.5, 64);
        Scheduler s = new Scheduler(new KvBlockManager(10_000), 8, 256, m);
        Random noise = new Random(7);
        SequenceState[] streams = new SequenceState[4];
        for (int i = 0; i < streams.length; i++) {
            streams[i] = SchedulerTest.seq(i, 16 + 8 * i);
            s.add(streams[i]);
        }
        double[] pureDecode = new double[400];
        int nPure = 0;
        double worstPrefillStep = 0;
        int prefillSteps = 0;
        SequenceState big = null;
        for (int step = 0; step < 2000 && (big == null || big.generated() == 0); step++) {
            if (step == 100) {
                big = SchedulerTest.seq(99, 1024);
                s.add(big);
            }
            Scheduler.Step st = SchedulerTest.run(s);
            double ns = cost(st.tokens()) * (0.9 + 0.2 * noise.nextDouble());
            m.record(st.tokens(), Math.round(ns));
            boolean prefills = st.chunks().stream().anyMatch(c -> c.n() > 1);
            int decodes = (int) st.chunks().stream().filter(c -> c.n() == 1).count();
            if (step >= 20 && !prefills && decodes == 4 && nPure < pureDecode.length) {
                pureDecode[nPure++] = ns;
            }
            if (big != null && prefills) {
                prefillSteps++;
                worstPrefillStep = Math.max(worstPrefillStep, cost(st.tokens()));
                assertEquals(4, decodes, "every stream decodes in every step of the prefill");
            }
        }
        assertTrue(big != null && big.generated() == 1, "the long prompt was prefilled and sampled");
        double median = median(Arrays.copyOf(pureDecode, nPure));
        // noise-free cost of the largest prefill step vs the measured median of pure-decode steps
        assertTrue(worstPrefillStep <= 1.5 * cost(4) + 1, worstPrefillStep / 1e6 + " ms vs " + cost(4) / 1e6);
        assertTrue(worstPrefillStep < 2 * median, "worst prefill step " + worstPrefillStep / median + "x the median");
        // and the prompt still moved: (1.5 - 1)(40 + 24)/6 = 5.3 tokens a step, one less when the noisy fit says so
        assertTrue(prefillSteps <= 1024 / 4 + 1, prefillSteps + " prefill steps");
    }

    /**
     * Where the ratio allows one prompt token a step (1.1: 0.1 · 64 / 6 = 1.07), a long prompt takes one
     * a step, and short prompts arriving together start in one step, each whole, as far as free slots go.
     */
    @Test
    void theSchedulerHoldsALongPromptToTheRatioAndStartsShortOnesWholeTogether() {
        Scheduler s = fourStreams();
        SequenceState p = SchedulerTest.seq(99, 1024);
        s.add(p);
        for (int i = 0; i < 5; i++) {
            Scheduler.Step st = SchedulerTest.run(s);
            assertEquals(1, SchedulerTest.tokensOf(st, p), "the long prompt, step " + i);
            assertEquals(4 + 1, st.tokens(), "next to the 4 decodes");
        }
        // Five slots are running (4 streams + the long prompt), 8 allowed: three short prompts get in, the fourth waits.
        SequenceState[] shorts = new SequenceState[4];
        int together = 0;
        for (int i = 0; i < shorts.length; i++) {
            shorts[i] = SchedulerTest.seq(100 + i, StepCostModel.SHORT_PROMPT_TOKENS - i);
            s.add(shorts[i]);
            together += i < 3 ? StepCostModel.SHORT_PROMPT_TOKENS - i : 0;
        }
        Scheduler.Step st = SchedulerTest.run(s);
        for (int i = 0; i < 3; i++) {
            assertEquals(StepCostModel.SHORT_PROMPT_TOKENS - i, SchedulerTest.tokensOf(st, shorts[i]), "short prompt " + i + " whole");
        }
        assertEquals(0, SchedulerTest.tokensOf(st, shorts[3]), "no slot for the fourth");
        assertEquals(0, SchedulerTest.tokensOf(st, p), "the long prompt yields to them");
        assertEquals(4 + together, st.tokens(), "next to the 4 decodes");
        st = SchedulerTest.run(s);
        assertEquals(4 + 3 + 1, st.tokens(), "then every stream decodes and the long prompt takes its token again");
    }

    /**
     * A long prompt's last tokens are still a long prompt's: when it has 20 left and a 20-token request
     * arrives, the request goes whole and the long prompt keeps to the ratio (one token a step here),
     * rather than taking the allowance the short prompt brought.
     */
    @Test
    void aLongPromptsTailKeepsToTheRatioBesideAShortPrompt() {
        Scheduler s = fourStreams();
        SequenceState p = SchedulerTest.seq(99, 40);
        s.add(p);
        while (p.remaining() > 20) {
            assertEquals(1, SchedulerTest.tokensOf(SchedulerTest.run(s), p), "the long prompt, a token a step");
        }
        SequenceState q = SchedulerTest.seq(100, 20);
        s.add(q);
        Scheduler.Step st = SchedulerTest.run(s);
        assertEquals(20, SchedulerTest.tokensOf(st, q), "the short prompt whole");
        assertTrue(SchedulerTest.tokensOf(st, p) <= 1, "the long prompt's tail within the ratio");
        for (int i = 0; i < 3; i++) {
            assertEquals(1, SchedulerTest.tokensOf(SchedulerTest.run(s), p), "and after it, a token a step");
        }
    }

    @Test
    void aShortPromptCutByTheHardCapGoesOnWholeInTheNextStep() {
        StepCostModel m = fitted(1.1);
        Scheduler s = new Scheduler(new KvBlockManager(10_000), 8, 24, m);
        s.add(SchedulerTest.seq(0, 8));
        SchedulerTest.run(s);
        SequenceState a = SchedulerTest.seq(1, 20), b = SchedulerTest.seq(2, 20);
        s.add(a);
        s.add(b);
        Scheduler.Step st = SchedulerTest.run(s);
        assertEquals(1 + 20 + 3, st.tokens(), "the hard cap of 24: a whole, b cut after 3");
        assertEquals(3, SchedulerTest.tokensOf(st, b));
        st = SchedulerTest.run(s);
        assertEquals(17, SchedulerTest.tokensOf(st, b), "b's rest whole next to the 2 decodes");
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
