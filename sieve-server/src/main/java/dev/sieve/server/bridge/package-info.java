/**
 * Between the wire and the engine: turns validated OpenAI request records into typed {@code
 * EngineRequest}s (chat template, tokenizer, sampling defaults, context checks) and the engine's
 * events back into OpenAI response and chunk records. No HTTP and no JSON text here.
 */
package dev.sieve.server.bridge;
