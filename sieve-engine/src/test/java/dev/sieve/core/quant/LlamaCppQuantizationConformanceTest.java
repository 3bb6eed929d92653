package dev.sieve.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sieve.core.tensor.Tensor;
import dev.sieve.io.gguf.GgufFile;
import dev.sieve.io.gguf.GgufTensorInfo;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * llama.cpp as the oracle: {@code llama-quantize} (no importance matrix, so ggml's reference
 * quantizers) made sieve-tiny's Q8_0, Q4_0 and Q4_K_M files from the F32 file. Quantizing the F32
 * tensors with Sieve's encodings must give the same bytes, block for block.
 */
class LlamaCppQuantizationConformanceTest {
    private static Path models;

    @BeforeAll
    static void locateTestData() {
        Path root = Path.of(System.getProperty("sieve.testdata", "../shared/testdata"));
        models = root.resolve("models");
        if (!Files.isRegularFile(models.resolve("sieve-tiny-F32.gguf"))) {
            if ("true".equals(System.getenv("CI"))) {
                fail("test data missing at " + models.toAbsolutePath());
            }
            Assumptions.abort("test data missing at " + models.toAbsolutePath());
        }
    }

    /** Blocks compared and blocks that differ, per encoding. */
    private record Tally(long blocks, long differing, String firstDifference) {}

    @ParameterizedTest
    @ValueSource(strings = {"Q8_0", "Q4_0", "Q4_K_M"})
    void quantizingTheF32ModelReproducesLlamaQuantize(String fileType) throws IOException {
        Map<String, long[]> tally = new TreeMap<>();
        Map<String, String> firstDiff = new TreeMap<>();
        int quantizedTensors = 0;
        try (GgufFile f32 = GgufFile.open(models.resolve("sieve-tiny-F32.gguf"));
                GgufFile q = GgufFile.open(models.resolve("sieve-tiny-" + fileType + ".gguf"));
                Arena arena = Arena.ofConfined()) {
            assertEquals(f32.tensorInfos().keySet(), q.tensorInfos().keySet());
            for (GgufTensorInfo info : q.tensorInfos().values()) {
                Tensor expected = q.tensor(info.name());
                WeightEncoding e = expected.encoding();
                if (e == F32Encoding.INSTANCE) {
                    continue; // norm vectors stay F32; nothing was quantized
                }
                assertTrue(e.canQuantize(), "llama-quantize wrote " + e.name() + ", which Sieve cannot quantize");
                quantizedTensors++;
                float[] x = f32.tensor(info.name()).toFloatArray();
                MemorySegment mine = arena.allocate(e.byteSize(x.length));
                e.quantize(x, 0, mine, 0, x.length);
                long[] t = tally.computeIfAbsent(e.name(), k -> new long[2]);
                long blocks = x.length / e.blockSize();
                for (long b = 0; b < blocks; b++) {
                    long off = b * e.blockBytes();
                    if (MemorySegment.mismatch(mine, off, off + e.blockBytes(),
                            expected.data(), off, off + e.blockBytes()) >= 0) {
                        if (t[1] == 0) {
                            firstDiff.putIfAbsent(e.name(), info.name() + " block " + b);
                        }
                        t[1]++;
                    }
                }
                t[0] += blocks;
            }
        }
        assertTrue(quantizedTensors > 0, "no quantized tensors in " + fileType);
        StringBuilder report = new StringBuilder("sieve-tiny-" + fileType + ":");
        long differing = 0;
        for (var en : tally.entrySet()) {
            report.append(String.format(" %s %d/%d blocks differ", en.getKey(), en.getValue()[1], en.getValue()[0]));
            if (en.getValue()[1] > 0) {
                report.append(" (first: ").append(firstDiff.get(en.getKey())).append(')');
            }
            differing += en.getValue()[1];
        }
        System.out.println(report);
        assertEquals(0, differing, report.toString());
    }
}
