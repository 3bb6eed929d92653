package dev.sieve.cli;

import java.io.PrintStream;

/** A one-line progress bar on standard error, redrawn in place; silent when stderr is not a terminal. */
final class ProgressBar {
    private final PrintStream out = System.err;
    private final String label;
    private final boolean enabled;
    private final long start = System.nanoTime();
    private long lastDraw;

    ProgressBar(String label) {
        this.label = label;
        this.enabled = System.console() != null || Boolean.getBoolean("sieve.progress");
    }

    void update(long done, long total, String detail) {
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (done < total && now - lastDraw < 100_000_000L) {
            return;
        }
        lastDraw = now;
        int width = 30;
        double f = total > 0 ? Math.min(1.0, (double) done / total) : 0;
        int fill = (int) (f * width);
        double secs = (now - start) / 1e9;
        out.printf("\r%s [%s%s] %5.1f%% %s (%.1fs)\u001b[K", label, "#".repeat(fill), ".".repeat(width - fill),
                f * 100, detail, secs);
        if (done >= total) {
            out.println();
        }
        out.flush();
    }
}
