package dev.sieve.cli;

/** Human-readable sizes. */
final class Units {
    private Units() {}

    static String bytes(long b) {
        if (b < 1024) {
            return b + " B";
        }
        double v = b;
        String[] u = {"KiB", "MiB", "GiB", "TiB"};
        int i = -1;
        while (v >= 1024 && i < u.length - 1) {
            v /= 1024;
            i++;
        }
        return String.format("%.2f %s", v, u[i]);
    }
}
