/**
 * Low-rank factorization W ≈ A·B (A[out×r], B[r×in], stored as two tensors):
 * {@link dev.sieve.compress.lowrank.SvdFactorizer} (truncated SVD, optimal in Frobenius norm) and
 * {@link dev.sieve.compress.lowrank.WhitenedSvdFactorizer} (SVD-LLM, optimal in ‖(W − AB)X‖), the
 * rank chosen by a {@link dev.sieve.compress.lowrank.RankSelection}: fixed, kept energy, or
 * parameter budget. Results are {@link dev.sieve.compress.lowrank.LowRankFactors}.
 */
package dev.sieve.compress.lowrank;
