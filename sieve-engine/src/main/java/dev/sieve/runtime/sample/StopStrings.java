package dev.sieve.runtime.sample;

import java.util.List;

/**
 * Streams generated text while watching for stop strings. {@link #accept} returns the text that
 * is safe to show now: any tail that could still grow into a stop string is held back until the
 * next piece decides it. When a stop string appears, the text before it is returned, the stop
 * string and everything after it are dropped, and {@link #stopped()} turns true.
 */
public final class StopStrings {
    private final String[] stops;
    private final StringBuilder pending = new StringBuilder();
    private String matched;

    public StopStrings(List<String> stops) {
        this.stops = stops.stream().filter(s -> s != null && !s.isEmpty()).toArray(String[]::new);
    }

    /** Adds a decoded piece; returns the text that can be emitted now (possibly empty). */
    public String accept(String piece) {
        if (matched != null) {
            return "";
        }
        pending.append(piece);
        // Earliest match wins; at the same position the longer stop string wins.
        int best = -1;
        String bestStop = null;
        for (String s : stops) {
            int at = pending.indexOf(s);
            if (at >= 0 && (best < 0 || at < best || (at == best && s.length() > bestStop.length()))) {
                best = at;
                bestStop = s;
            }
        }
        if (best >= 0) {
            matched = bestStop;
            String out = pending.substring(0, best);
            pending.setLength(0);
            return out;
        }
        int hold = heldSuffix();
        String out = pending.substring(0, pending.length() - hold);
        pending.delete(0, pending.length() - hold);
        return out;
    }

    /** Longest suffix of the pending text that is a proper prefix of some stop string. */
    private int heldSuffix() {
        int len = pending.length();
        int best = 0;
        for (String s : stops) {
            for (int k = Math.min(len, s.length() - 1); k > best; k--) {
                if (endsWithPrefix(len, s, k)) {
                    best = k;
                    break;
                }
            }
        }
        return best;
    }

    private boolean endsWithPrefix(int len, String s, int k) {
        for (int i = 0; i < k; i++) {
            if (pending.charAt(len - k + i) != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** End of generation: returns the held-back text (empty after a stop string matched). */
    public String flush() {
        String out = pending.toString();
        pending.setLength(0);
        return matched != null ? "" : out;
    }

    public boolean stopped() {
        return matched != null;
    }

    /** The stop string that matched, or null. */
    public String matched() {
        return matched;
    }

    /** Clears state for reuse with the same stop strings. */
    public void reset() {
        pending.setLength(0);
        matched = null;
    }
}
