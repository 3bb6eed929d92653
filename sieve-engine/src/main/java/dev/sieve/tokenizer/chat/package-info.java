/**
 * Chat prompt formatting. {@link dev.sieve.tokenizer.chat.ChatTemplate#fromGguf} reads a model's
 * Jinja2 chat template (or picks a built-in fallback) and
 * {@link dev.sieve.tokenizer.chat.ChatTemplate#render} turns a list of
 * {@link dev.sieve.tokenizer.chat.ChatMessage}s into prompt text, rendering with Jinjava adapted
 * to HF's jinja2 environment. Template errors raise
 * {@link dev.sieve.tokenizer.chat.ChatTemplateException}.
 */
package dev.sieve.tokenizer.chat;
