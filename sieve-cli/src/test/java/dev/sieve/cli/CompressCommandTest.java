package dev.sieve.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.model.synth.ModelShape;
import dev.sieve.model.synth.SyntheticModelWriter;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompressCommandTest {
    static final ModelShape SHAPE = new ModelShape("t-cli", "llama", 256, 1, 4, 2, 512, 320, 64, false, 10000f, 1e-5f, false, false, false);
    @TempDir static Path dir;
    static Path model;

    @BeforeAll
    static void model() throws Exception {
        model = dir.resolve("in.gguf");
        try (WorkerPool pool = new WorkerPool(2)) {
            new SyntheticModelWriter(SHAPE, SyntheticModelWriter.TypeMix.parse("F32"), 1).write(model, pool, (i, n, s) -> {});
        }
    }

    /** Exit code and standard error of one command line. */
    static String[] run(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        try {
            int rc = Sieve.execute(args);
            return new String[] {String.valueOf(rc), err.toString()};
        } finally {
            System.setErr(old);
        }
    }

    @Test
    void invalidRequestsFailBeforeWorkAndWriteNothing() throws Exception {
        Path out = dir.resolve("never.gguf");
        Path recipe = dir.resolve("bad.yaml");
        Files.writeString(recipe, "steps:\n  - {match: \"blk.*\", method: gptq, type: Q4_0, colour: red}\n");
        String[][] cases = {
            {"unknown key 'colour'", "--recipe", recipe.toString()},
            {"sparsity must be in (0, 1)", "--prune", "wanda", "--sparsity", "1"},
            {"3 bits is not supported", "--quant", "gptq", "--bits", "3"},
            {"bad pattern", "--quant", "rtn", "--type", "Q8_0", "--match", "blk/*"},
            {"give one of", "--quant", "rtn", "--prune", "wanda", "--type", "Q8_0", "--sparsity", "0.5"},
            {"give calibration text", "--quant", "gptq", "--type", "Q4_0"},
            {"matches no matrix", "--quant", "rtn", "--type", "Q8_0", "--match", "blk.7.*"},
        };
        for (String[] c : cases) {
            String[] args = new String[c.length - 1 + 4];
            args[0] = "compress";
            args[1] = "-m";
            args[2] = model.toString();
            System.arraycopy(c, 1, args, 3, c.length - 1);
            args[args.length - 1] = "-o=" + out;
            String[] r = run(args);
            assertEquals("1", r[0], String.join(" ", args) + ": " + r[1]);
            assertTrue(r[1].contains(c[0]), "expected '" + c[0] + "' in: " + r[1]);
            assertFalse(Files.exists(out), String.join(" ", args));
        }
    }

    @Test
    void lowRankFlagsWriteAModelThatEvalRuns() throws Exception {
        Path out = dir.resolve("lr.gguf");
        String[] r = run("compress", "-m", model.toString(), "-o", out.toString(), "--lowrank", "svd", "--keep", "0.5", "--type", "F16");
        assertEquals("0", r[0], r[1]);
        try (Model m = ModelLoader.load(out)) {
            assertTrue(m.weights().layers().get(0).wGate().isFactored());
            assertTrue(m.metadata().getString("sieve.compress.recipe").contains("method: \"svd\""));
        }
        Path text = dir.resolve("t.txt");
        Files.writeString(text, "the quick brown fox jumps over the lazy dog ".repeat(20));
        r = run("eval", "-m", out.toString(), "--ref", model.toString(), "--text", text.toString(), "-c", "32", "--json");
        assertEquals("0", r[0], r[1]);
    }

    /**
     * The same input, recipe and calibration text write the same file, byte for byte: the first
     * run's calibration forward pass starts interpreted, the second's is compiled, and the
     * reproducible kernels sum in one order in both (with the default kernels' reduceLanes the
     * two files differed in most GPTQ tensors).
     */
    @Test
    void calibratedCompressionIsBitReproducible() throws Exception {
        Path calib = dir.resolve("calib.txt");
        StringBuilder text = new StringBuilder();
        java.util.Random rnd = new java.util.Random(9);
        for (int i = 0; i < 3000; i++) {
            text.append((char) ('a' + rnd.nextInt(26))).append(rnd.nextInt(5) == 0 ? " " : "");
        }
        Files.writeString(calib, text.toString());
        byte[][] files = new byte[2][];
        for (int i = 0; i < 2; i++) {
            Path out = dir.resolve("gptq" + i + ".gguf");
            String[] r = run("compress", "-m", model.toString(), "-o", out.toString(), "--quant", "gptq", "--type", "Q4_K",
                    "--calib", calib.toString(), "--calib-seqs", "8", "--calib-len", "64");
            assertEquals("0", r[0], r[1]);
            files[i] = Files.readAllBytes(out);
        }
        assertTrue(java.util.Arrays.equals(files[0], files[1]), "two runs wrote different files");
    }
}
