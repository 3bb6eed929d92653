/**
 * Model download from a Hugging Face-compatible hub ({@code sieve pull REPO[:FILE]}).
 * {@link dev.sieve.io.hub.HubClient} lists a repository's files, picks its GGUF, and downloads
 * into a cache folder with resume ({@code .part} + HTTP Range), SHA-256 verification from the
 * hub's ETag, an atomic final move and a {@link dev.sieve.io.hub.HubClient.Progress} callback.
 * Failures are {@link dev.sieve.io.hub.HubException}s with actionable messages.
 */
package dev.sieve.io.hub;
