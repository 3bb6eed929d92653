package dev.sieve.testkit;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * The shared conformance data ({@code ../shared/testdata}), located by the {@code sieve.testdata}
 * system property the build sets. Locally a missing folder skips the test; under CI ({@code
 * CI=true}) it fails it, so conformance is never silently skipped there.
 */
public final class TestData {
    private TestData() {}

    public static Path root() {
        Path p = Path.of(System.getProperty("sieve.testdata", "../shared/testdata"));
        if (!Files.isDirectory(p)) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail("test data folder " + p.toAbsolutePath() + " is missing (required under CI)");
            }
            Assumptions.abort("test data folder " + p.toAbsolutePath() + " is missing");
        }
        return p;
    }

    /** A file under the test data root, which must exist. */
    public static Path file(String relative) {
        Path f = root().resolve(relative);
        if (!Files.exists(f)) {
            fail("test data file " + f.toAbsolutePath() + " is missing");
        }
        return f;
    }

    public static Path model(String encoding) {
        return file("models/sieve-tiny-" + encoding + ".gguf");
    }
}
