package dev.sieve.tokenizer;

import java.util.Arrays;

/** Growable int array; avoids boxing on the encode hot path. */
final class IntList {
    private int[] a;
    private int n;

    IntList(int capacity) {
        a = new int[Math.max(4, capacity)];
    }

    void add(int v) {
        if (n == a.length) {
            a = Arrays.copyOf(a, a.length * 2);
        }
        a[n++] = v;
    }

    int size() {
        return n;
    }

    int get(int i) {
        return a[i];
    }

    void truncate(int size) {
        n = size;
    }

    int[] toArray() {
        return Arrays.copyOf(a, n);
    }
}
