/**
 * Continuous-batching scheduling, free of models and threads so it can be tested alone.
 * {@link dev.sieve.runtime.sched.KvBlockManager} holds each sequence's paged KV cache over a fixed
 * pool of 16-token blocks, answers allocate-or-no, and shares cached prompt prefixes; {@link dev.sieve.runtime.sched.Scheduler} forms each step's
 * batch, {sequence: tokens this step}, from running decodes and prompt chunks under a token budget
 * (chunked prefill), preempting the newest sequence when the blocks run out.
 */
package dev.sieve.runtime.sched;
