/**
 * {@link dev.sieve.core.parallel.WorkerPool}: the persistent worker threads that run one
 * data-parallel loop at a time (matrix rows, attention heads), sized to the cores; no thread is
 * created and nothing is allocated per call, and chunks are claimed from a shared counter so a
 * slower core takes fewer and all threads finish together.
 */
package dev.sieve.core.parallel;
