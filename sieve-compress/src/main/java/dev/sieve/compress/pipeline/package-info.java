/**
 * The compression pipeline behind {@code sieve compress}: a {@link dev.sieve.compress.pipeline.Recipe}
 * (YAML, or the CLI's flags) assigns methods to matrices by name pattern;
 * {@link dev.sieve.compress.pipeline.Compressor} checks the plan against the model before any
 * work, then calibrates and compresses one transformer block at a time (statistics from the
 * original block, outputs of the compressed block feed the next), folds AWQ scales
 * ({@link dev.sieve.compress.pipeline.AwqFolding}) and writes a GGUF with the recipe in its
 * metadata. Low-rank results are stored as factor pairs the engine runs as such.
 */
package dev.sieve.compress.pipeline;
