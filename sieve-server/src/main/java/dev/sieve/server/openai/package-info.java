/**
 * The OpenAI wire format: request records parsed and validated from JSON at the edge (every
 * wrong type or value names its field), response records written as OpenAI writes them, and the
 * error shape {@code {"error": {"message", "type", "param", "code"}}}. Nothing here knows the engine.
 */
package dev.sieve.server.openai;
