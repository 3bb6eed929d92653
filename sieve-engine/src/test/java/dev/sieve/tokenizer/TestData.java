package dev.sieve.tokenizer;

import static org.junit.jupiter.api.Assertions.fail;

import dev.sieve.io.gguf.GgufFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Assumptions;

/** Locates the shared test data; skips tests when it is absent, except on CI where that is an error. */
final class TestData {
    private static final Map<Path, Tokenizer> CACHE = new ConcurrentHashMap<>();

    private TestData() {}

    static Path root() {
        return Path.of(System.getProperty("sieve.testdata", "../shared/testdata"));
    }

    /** Returns the path, or skips (fails on CI) when it does not exist. */
    static Path require(String relative) {
        Path p = root().resolve(relative);
        if (!Files.exists(p)) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail("test data missing on CI: " + p.toAbsolutePath());
            }
            Assumptions.abort("test data not present: " + p.toAbsolutePath());
        }
        return p;
    }

    /** Tokenizer of a GGUF file, built once per test run (vocab parsing is the slow part). */
    static Tokenizer tokenizer(Path gguf) {
        return CACHE.computeIfAbsent(gguf, p -> {
            try (GgufFile f = GgufFile.open(p)) {
                return Tokenizers.fromGguf(f.metadata());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    static Tokenizer sieveTiny() {
        return tokenizer(require("models/sieve-tiny-F32.gguf"));
    }
}
