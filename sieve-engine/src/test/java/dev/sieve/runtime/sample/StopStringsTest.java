package dev.sieve.runtime.sample;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopStringsTest {

    @Test
    void passesTextWithoutStopThrough() {
        StopStrings s = new StopStrings(List.of("###"));
        assertEquals("Hello", s.accept("Hello"));
        assertEquals(" world", s.accept(" world"));
        assertEquals("", s.flush());
        assertFalse(s.stopped());
    }

    @Test
    void stopSplitAcrossPieces() {
        StopStrings s = new StopStrings(List.of("<|im_end|>"));
        assertEquals("Hi", s.accept("Hi<|im"));   // "<|im" could start the stop string: held
        assertEquals("", s.accept("_en"));
        assertFalse(s.stopped());
        assertEquals("", s.accept("d|>trailing"));
        assertTrue(s.stopped());
        assertEquals("<|im_end|>", s.matched());
        assertEquals("", s.accept("more"));
        assertEquals("", s.flush());
    }

    @Test
    void releaseAfterMismatch() {
        StopStrings s = new StopStrings(List.of("User:"));
        assertEquals("a ", s.accept("a Us"));
        assertEquals("", s.accept("er"));          // "User" still a prefix
        assertEquals("Users", s.accept("s"));       // "Users" is not: all released
        assertEquals("", s.accept("Use"));
        assertEquals("Use", s.flush());            // end of stream releases held text
    }

    @Test
    void textBeforeStopInSamePieceIsEmitted() {
        StopStrings s = new StopStrings(List.of("\n\n", "END"));
        assertEquals("abc", s.accept("abcEND\n\nxyz"));
        assertEquals("END", s.matched());
    }

    @Test
    void earliestStopWins() {
        StopStrings s = new StopStrings(List.of("cd", "bcde"));
        assertEquals("a", s.accept("abcdef"));
        assertEquals("bcde", s.matched());
    }

    @Test
    void overlappingPrefixHoldsLongestCandidate() {
        // "aab" must hold "aa" since the stop "aab" could still arrive after "xaa".
        StopStrings s = new StopStrings(List.of("aab"));
        assertEquals("x", s.accept("xaa"));
        assertEquals("", s.accept("b"));
        assertTrue(s.stopped());
        StopStrings t = new StopStrings(List.of("aab"));
        assertEquals("x", t.accept("xaa"));
        assertEquals("a", t.accept("a")); // "aaa": only the last "aa" can still start "aab"
        assertEquals("", t.accept("b"));
        assertTrue(t.stopped());
    }
}
