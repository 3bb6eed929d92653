/**
 * Continuous-batching scheduling, free of models and threads so it can be tested alone.
 * {@link dev.sieve.runtime.sched.KvBlockManager} hands out KV blocks of 16 tokens against a fixed
 * budget and answers allocate-or-no; {@link dev.sieve.runtime.sched.Scheduler} forms each step's
 * batch, {sequence: tokens this step}, from running decodes and prompt chunks under a token budget
 * (chunked prefill), preempting the newest sequence when the blocks run out.
 */
package dev.sieve.runtime.sched;
