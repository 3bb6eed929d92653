/**
 * Token sampling for generation. {@link dev.sieve.runtime.sample.SamplingParams} holds the
 * settings; {@link dev.sieve.runtime.sample.Sampler} (one per sequence) applies penalties,
 * top-k, top-p, min-p, temperature and a seeded draw to a logits vector without allocating;
 * {@link dev.sieve.runtime.sample.StopStrings} cuts the streamed text at stop strings, holding
 * back partial matches.
 */
package dev.sieve.runtime.sample;
