package dev.sieve.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.quant.F32Encoding;
import dev.sieve.io.gguf.GgufValue;
import dev.sieve.io.gguf.GgufWriter;
import dev.sieve.testkit.TestData;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/** The commands end to end, as a user runs them: output, exit codes, and one-line errors for bad input. */
class CliTest {
    @TempDir static Path dir;
    static Path tiny;

    record Result(int code, String out, String err) {}

    static synchronized Result sieve(String stdin, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        InputStream oldIn = System.in;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
            int code = Sieve.execute(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
            System.setIn(oldIn);
        }
    }

    @BeforeAll
    static void synthesize() {
        tiny = dir.resolve("tiny.gguf");
        Result r = sieve("", "synth", "--shape", "tiny", "--type", "Q8_0", "-o", tiny.toString());
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void runGeneratesAndReportsSpeed() {
        Result r = sieve("", "run", "-m", tiny.toString(), "-p", "the quick brown fox", "-n", "12", "--temp", "0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("the quick brown fox"), r.out());
        assertTrue(r.err().contains("generated: 12 tokens"), r.err());
        var startup = java.util.regex.Pattern.compile("model ready ([0-9.]+) s and first token ([0-9.]+) s after the JVM started")
                .matcher(r.err());
        assertTrue(startup.find(), r.err());
        double ready = Double.parseDouble(startup.group(1)), first = Double.parseDouble(startup.group(2));
        assertTrue(ready > 0 && first >= ready, r.err()); // the prompt comes after the model is ready
    }

    @Test
    void greedyRunIsDeterministicAndSeededRunsRepeat() {
        String a = sieve("", "run", "-m", tiny.toString(), "-p", "hello", "-n", "10", "--temp", "0").out();
        String b = sieve("", "run", "-m", tiny.toString(), "-p", "hello", "-n", "10", "--temp", "0").out();
        assertEquals(a, b);
        String c = sieve("", "run", "-m", tiny.toString(), "-p", "hello", "-n", "10", "--seed", "5").out();
        String d = sieve("", "run", "-m", tiny.toString(), "-p", "hello", "-n", "10", "--seed", "5").out();
        assertEquals(c, d);
    }

    @Test
    void tokenizeMatchesTheReferenceIds() {
        Path m = TestData.model("F32");
        Result r = sieve("", "tokenize", "-m", m.toString(), "-p", "The Python interpreter", "--ids");
        assertEquals(0, r.code(), r.err());
        assertEquals("[1, 394, 437, 1221]", r.out().strip());
        r = sieve("The Python interpreter", "tokenize", "-m", m.toString(), "--ids", "--no-bos");
        assertEquals("[394, 437, 1221]", r.out().strip());
        r = sieve("", "tokenize", "-m", m.toString(), "-p", "import os");
        assertTrue(r.out().contains("615 -> '▁import'"), r.out());
    }

    @Test
    void inspectShowsMetadataAndBitsPerWeight() {
        Result r = sieve("", "inspect", TestData.model("Q4_0").toString(), "--tensors");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("general.architecture"), r.out());
        assertTrue(r.out().contains("Q4_0") && r.out().contains("Q6_K"), r.out());
        assertTrue(r.out().contains("blk.3.ffn_down.weight"), r.out());
    }

    @Test
    void chatKeepsTheCacheBetweenTurns() {
        Result r = sieve("hello there\nand again\n/exit\n", "chat", "-m", tiny.toString(), "-n", "5", "--temp", "0");
        assertEquals(0, r.code(), r.err());
        var turns = r.err().lines().filter(l -> l.contains(" reused)")).toList();
        assertEquals(2, turns.size(), r.err());
        assertTrue(turns.get(0).contains("(0 reused)"), turns.get(0));
        assertFalse(turns.get(1).contains("(0 reused)"), "the second turn reuses the first turn's cache: " + turns.get(1));
    }

    @Test
    void benchPrintsALlamaBenchTable() {
        Result r = sieve("", "bench", "-m", tiny.toString(), "-p", "16", "-n", "8", "-r", "1", "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"n_prompt\": 16") && r.out().contains("\"n_gen\": 8"), r.out());
        assertTrue(r.out().contains("\"avg_ts\"") && r.out().contains("\"eff_gbps\"") && r.out().contains("\"peak_rss\""), r.out());
        assertTrue(r.out().contains("\"layouts\": {"), r.out());
    }

    /**
     * Q4_K and Q4_0 models run with their matrices converted at load (Q4_K_R, Q4_0_R, where the
     * kernels prefer them) and with {@code --keep-layout}; bench reports the file's size and bits per
     * weight either way.
     */
    @ParameterizedTest
    @ValueSource(strings = {"Q4_K_M", "Q4_0"})
    void repackableModelsRunConvertedOrInTheFileLayout(String model) {
        String m = TestData.model(model).toString();
        // run converts only from -n 32 on (ModelOptions.CONVERT_FROM_TOKENS): 40 does, 6 does not.
        for (String[] opts : new String[][] {{"-n", "40", "--keep-layout"}, {"-n", "40"}, {"-n", "6"}}) {
            String[] run = java.util.stream.Stream.concat(java.util.stream.Stream.of("run", "-m", m, "-p", "hello", "--temp", "0"),
                    java.util.Arrays.stream(opts)).toArray(String[]::new);
            Result r = sieve("", run);
            assertEquals(0, r.code(), r.err());
            assertTrue(r.err().contains("generated: " + opts[1] + " tokens"), r.err());
        }
        Result converted = sieve("", "bench", "-m", m, "-p", "8", "-n", "4", "-r", "1", "--json");
        Result kept = sieve("", "bench", "-m", m, "-p", "8", "-n", "4", "-r", "1", "--json", "--keep-layout");
        assertEquals(0, converted.code(), converted.err());
        assertEquals(0, kept.code(), kept.err());
        var bpw = java.util.regex.Pattern.compile("\"bpw\": ([0-9.]+)");
        var a = bpw.matcher(converted.out());
        var b = bpw.matcher(kept.out());
        assertTrue(a.find() && b.find(), converted.out());
        assertEquals(b.group(1), a.group(1), "bits per weight of the file");
        // The layouts the matrices took at load: the file's own with --keep-layout, else the faster decoders'.
        assertTrue(kept.out().contains("\"layouts\": {}"), kept.out());
        assertTrue(java.util.regex.Pattern.compile("\"layouts\": \\{\"" + model.substring(0, 4) + "[^\"]*\": \\{\"Q4_").matcher(converted.out()).find(),
                converted.out());
        Result table = sieve("", "bench", "-m", m, "-p", "0", "-n", "2", "-r", "1");
        assertEquals(0, table.code(), table.err());
        assertTrue(table.out().lines().anyMatch(l -> l.startsWith("in memory: " + model.substring(0, 4)) && l.contains(" as Q4_")), table.out());
    }

    @Test
    void benchParallelMeasuresBatchedDecodeOncePerSequenceCount() {
        Result r = sieve("", "bench", "-m", tiny.toString(), "-p", "0", "-n", "4", "-r", "1", "--parallel", "1,3", "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"n_parallel\": 1, \"test\": \"tg4\""), "the plain tg row: " + r.out());
        assertTrue(r.out().contains("\"n_parallel\": 1, \"test\": \"tg4 x1\""), r.out());
        assertTrue(r.out().contains("\"n_parallel\": 3, \"test\": \"tg4 x3\""), r.out());
        assertEquals(3, r.out().lines().filter(l -> l.contains("\"test\"")).count(), r.out());
    }

    @Test
    void benchWarmsUpAsToldAndRejectsANegativeCount() {
        Result r = sieve("", "bench", "-m", tiny.toString(), "-p", "0", "-n", "4", "-r", "2", "--warmup", "0", "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s).*\"samples_ts\": \\[[0-9.]+, [0-9.]+\\].*"), r.out());
        assertCleanError(sieve("", "bench", "-m", tiny.toString(), "-p", "0", "-n", "4", "--warmup", "-1"),
                "--warmup takes 0 to 100 runs, not -1");
    }

    @Test
    void benchParallelRejectsAZeroCount() {
        assertCleanError(sieve("", "bench", "-m", tiny.toString(), "-p", "0", "-n", "4", "--parallel", "0"),
                "--parallel takes sequence counts from 1 to 256, not 0");
    }

    // ---- bad input: one clear line, exit code 1, no stack trace ----

    static void assertCleanError(Result r, String expected) {
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    @Test
    void missingFile() {
        assertCleanError(sieve("", "run", "-m", dir.resolve("nope.gguf").toString(), "-p", "x"), "file not found");
    }

    @Test
    void wrongMagic() throws Exception {
        Path f = dir.resolve("magic.gguf");
        Files.writeString(f, "this is not a model at all, just some text");
        assertCleanError(sieve("", "run", "-m", f.toString(), "-p", "x"), "not a GGUF file");
    }

    @Test
    void truncatedFile() throws Exception {
        Path f = dir.resolve("trunc.gguf");
        byte[] b = Files.readAllBytes(tiny);
        Files.write(f, java.util.Arrays.copyOf(b, b.length / 2));
        assertCleanError(sieve("", "run", "-m", f.toString(), "-p", "x"), "points outside the file");
        Files.write(f, java.util.Arrays.copyOf(b, 5000));
        assertCleanError(sieve("", "inspect", f.toString()), "truncated");
    }

    @Test
    void unknownArchitectureAndEncoding() throws Exception {
        Path f = dir.resolve("arch.gguf");
        new GgufWriter().put("general.architecture", GgufValue.ofString("gpt-j"))
                .addTensor("token_embd.weight", F32Encoding.INSTANCE, new long[] {4, 4}, d -> {}).write(f);
        assertCleanError(sieve("", "run", "-m", f.toString(), "-p", "x"), "unknown architecture 'gpt-j'");
        Path g = dir.resolve("enc.gguf");
        new GgufWriter().put("general.architecture", GgufValue.ofString("llama"))
                .addTensor("token_embd.weight", 16, new long[] {256, 4}, 66 * 4, d -> {}).write(g);
        assertCleanError(sieve("", "run", "-m", g.toString(), "-p", "x"), "IQ2_XXS, which Sieve cannot decode");
    }

    @Test
    void promptLongerThanTheContext() {
        assertCleanError(sieve("", "run", "-m", tiny.toString(), "-c", "8", "-p", "a b c d e f g h i j k l m n o p"),
                "exceeds the context of 8 tokens");
    }

    @Test
    void badFlagValues() {
        assertCleanError(sieve("", "run", "-m", tiny.toString(), "-p", "x", "--top-p", "1.5"), "out of range");
        assertEquals(2, sieve("", "run", "-m", tiny.toString()).code(), "missing prompt is a usage error");
        assertCleanError(sieve("", "synth", "--shape", "huge", "-o", dir.resolve("x.gguf").toString()), "unknown shape 'huge'");
    }

    @Test
    void everyCommandHasHelpWithAnExample() {
        for (String c : new String[] {"run", "chat", "inspect", "tokenize", "synth", "pull", "bench", "eval"}) {
            Result r = sieve("", c, "--help");
            assertEquals(0, r.code(), c);
            assertTrue(r.out().contains("Example"), c + " --help has an example: " + r.out());
            // A bare '%' in a description (picocli formats them) printed a warning and the raw text.
            assertFalse((r.out() + r.err()).contains("[picocli WARN]"), c + " --help formats cleanly: " + r.err());
        }
    }

    /**
     * A command line that names a command builds only that one (start-up); any other first word gets them
     * all: the top-level usage lists every command, {@code help run} prints run's usage, and an unknown
     * command is an error that names it.
     */
    @Test
    void topLevelHelpListsEveryCommandAndHelpFindsOne() {
        Result top = sieve("", "--help");
        assertEquals(0, top.code());
        for (String c : new String[] {"run", "chat", "serve", "loadtest", "inspect", "tokenize", "synth", "pull", "bench", "eval",
                "compress", "help"}) {
            assertTrue(top.out().contains("  " + c + " "), c + " listed: " + top.out());
        }
        Result help = sieve("", "help", "run");
        assertEquals(0, help.code(), help.err());
        assertTrue(help.out().contains("Usage: sieve run"), help.out());
        Result unknown = sieve("", "rnu");
        assertTrue(unknown.code() != 0);
        assertTrue(unknown.err().contains("rnu"), unknown.err());
    }
}
