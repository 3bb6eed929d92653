package dev.sieve.tokenizer;

/**
 * Max-heap of candidate merges by score; ties go to the leftmost pair (llama.cpp's order for both
 * SPM and BPE; BPE pushes -rank as the score, exact for ranks below 2^24).
 * Parallel primitive arrays rather than a PriorityQueue of objects: long texts create millions.
 */
final class BigramHeap {
    private float[] score;
    private int[] left, right, size;
    private int n;

    BigramHeap(int capacity) {
        int c = Math.max(16, capacity);
        score = new float[c];
        left = new int[c];
        right = new int[c];
        size = new int[c];
    }

    boolean isEmpty() {
        return n == 0;
    }

    int topLeft() {
        return left[0];
    }

    int topRight() {
        return right[0];
    }

    int topSize() {
        return size[0];
    }

    private boolean before(int a, int b) {
        return score[a] > score[b] || (score[a] == score[b] && left[a] < left[b]);
    }

    void push(float s, int l, int r, int sz) {
        if (n == score.length) {
            int c = n * 2;
            score = java.util.Arrays.copyOf(score, c);
            left = java.util.Arrays.copyOf(left, c);
            right = java.util.Arrays.copyOf(right, c);
            size = java.util.Arrays.copyOf(size, c);
        }
        int i = n++;
        set(i, s, l, r, sz);
        while (i > 0) {
            int p = (i - 1) >>> 1;
            if (!before(i, p)) {
                break;
            }
            swap(i, p);
            i = p;
        }
    }

    void pop() {
        n--;
        if (n == 0) {
            return;
        }
        set(0, score[n], left[n], right[n], size[n]);
        int i = 0;
        while (true) {
            int l = 2 * i + 1, r = l + 1, best = i;
            if (l < n && before(l, best)) {
                best = l;
            }
            if (r < n && before(r, best)) {
                best = r;
            }
            if (best == i) {
                return;
            }
            swap(i, best);
            i = best;
        }
    }

    private void set(int i, float s, int l, int r, int sz) {
        score[i] = s;
        left[i] = l;
        right[i] = r;
        size[i] = sz;
    }

    private void swap(int a, int b) {
        float s = score[a];
        int l = left[a], r = right[a], sz = size[a];
        set(a, score[b], left[b], right[b], size[b]);
        set(b, s, l, r, sz);
    }
}
