package dev.sieve.io.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.quant.F32Encoding;
import dev.sieve.core.quant.Q8_0Encoding;
import dev.sieve.core.tensor.Tensor;
import dev.sieve.testkit.TestData;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GGUF writer's files read back identically, and the reader agrees with llama.cpp's files. */
class GgufRoundTripTest {
    @TempDir Path dir;

    @Test
    void everyMetadataTypeRoundTrips() throws IOException {
        GgufWriter w = new GgufWriter();
        w.put("u8", new GgufValue(GgufType.UINT8, null, 200));
        w.put("i8", new GgufValue(GgufType.INT8, null, -5));
        w.put("u16", new GgufValue(GgufType.UINT16, null, 60000));
        w.put("i16", new GgufValue(GgufType.INT16, null, -30000));
        w.put("u32", GgufValue.ofU32(4_000_000_000L));
        w.put("i32", GgufValue.ofI32(-7));
        w.put("f32", GgufValue.ofF32(1.5f));
        w.put("bool", GgufValue.ofBool(true));
        w.put("str", GgufValue.ofString("héllo ▁world"));
        w.put("u64", GgufValue.ofU64(1L << 40));
        w.put("i64", new GgufValue(GgufType.INT64, null, -(1L << 40)));
        w.put("f64", new GgufValue(GgufType.FLOAT64, null, Math.PI));
        w.put("strs", GgufValue.ofStrings(new String[] {"a", "", "ü"}));
        w.put("f32s", GgufValue.ofF32s(new float[] {1, -2, 3.25f}));
        w.put("i32s", GgufValue.ofI32s(new int[] {1, 2, 3}));
        w.put("u8s", new GgufValue(GgufType.ARRAY, GgufType.UINT8, new int[] {0, 255}));
        w.put("nested", new GgufValue(GgufType.ARRAY, GgufType.ARRAY, new GgufValue[] {
            GgufValue.ofI32s(new int[] {1}), GgufValue.ofStrings(new String[] {"x", "y"})}));
        float[] data = {1, 2, 3, 4, 5, 6};
        w.addTensor("t", F32Encoding.INSTANCE, new long[] {3, 2}, dst -> F32Encoding.INSTANCE.quantize(data, 0, dst, 0, 6));
        Path f = dir.resolve("m.gguf");
        w.write(f);
        try (GgufFile g = GgufFile.open(f)) {
            assertEquals(3, g.version());
            GgufMetadata md = g.metadata();
            assertEquals(17, md.asMap().size());
            assertEquals(200, md.getInt("u8"));
            assertEquals(-5, md.getInt("i8"));
            assertEquals(60000, md.getInt("u16"));
            assertEquals(-30000, md.getInt("i16"));
            assertEquals(4_000_000_000L, md.getLong("u32"));
            assertEquals(1.5f, md.getFloat("f32"));
            assertTrue(md.getBool("bool", false));
            assertEquals("héllo ▁world", md.getString("str"));
            assertEquals(1L << 40, md.getLong("u64"));
            assertEquals(-(1L << 40), md.getLong("i64"));
            assertEquals(Math.PI, (Double) md.get("f64").orElseThrow().value());
            assertArrayEquals(new String[] {"a", "", "ü"}, md.getStrings("strs"));
            assertArrayEquals(new float[] {1, -2, 3.25f}, md.getFloats("f32s"));
            assertArrayEquals(new int[] {0, 255}, md.getInts("u8s"));
            GgufValue[] nested = (GgufValue[]) md.get("nested").orElseThrow().value();
            assertArrayEquals(new String[] {"x", "y"}, (String[]) nested[1].value());
            Tensor t = g.tensor("t");
            assertEquals(2, t.rows());
            assertEquals(3, t.cols());
            assertArrayEquals(data, t.toFloatArray());
            assertEquals(0, g.dataOffset() % 32);
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(1, s.count(), "no temporary file is left behind");
        }
    }

    @Test
    void failedWriteLeavesNothing() throws IOException {
        Path f = dir.resolve("bad.gguf");
        GgufWriter w = new GgufWriter();
        w.addTensor("t", Q8_0Encoding.INSTANCE, new long[] {32}, dst -> {
            throw new IOException("disk on fire");
        });
        assertThrows(IOException.class, () -> w.write(f));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(0, s.count());
        }
        assertFalse(Files.exists(f));
    }

    @Test
    void readsLlamaCppFilesAndRewritesThemIdentically() throws IOException {
        Path src = TestData.model("Q4_K_M");
        try (GgufFile g = GgufFile.open(src)) {
            assertEquals("llama", g.metadata().getString("general.architecture"));
            assertEquals(39, g.tensorInfos().size());
            assertEquals(4096, g.metadata().getStrings("tokenizer.ggml.tokens").length);
            // Copy every key and tensor through the writer: the bytes must come out the same.
            GgufWriter w = new GgufWriter().putAll(g.metadata().asMap());
            MemorySegment whole = MemorySegment.ofArray(Files.readAllBytes(src));
            for (GgufTensorInfo t : g.tensorInfos().values()) {
                long at = g.dataOffset() + t.offset();
                w.addTensor(t.name(), t.ggmlType(), t.ne(), t.byteSize(),
                        dst -> MemorySegment.copy(whole, at, dst, 0, t.byteSize()));
            }
            Path copy = dir.resolve("copy.gguf");
            w.write(copy);
            assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(copy));
        }
    }

    @Test
    void readsVersion2Files() throws IOException {
        // v2 and v3 share the layout (v3 only added big-endian files, which are marked elsewhere).
        Path f = dir.resolve("v2.gguf");
        new GgufWriter().put("general.architecture", GgufValue.ofString("llama"))
                .addTensor("t", F32Encoding.INSTANCE, new long[] {2}, d -> F32Encoding.INSTANCE.quantize(new float[] {1, 2}, 0, d, 0, 2))
                .write(f);
        byte[] b = Files.readAllBytes(f);
        b[4] = 2;
        Files.write(f, b);
        try (GgufFile g = GgufFile.open(f)) {
            assertEquals(2, g.version());
            assertArrayEquals(new float[] {1, 2}, g.tensor("t").toFloatArray());
        }
    }

    @Test
    void rejectsWrongMagicAndVersion() throws IOException {
        Path f = dir.resolve("x.gguf");
        Files.write(f, "GGML\3\0\0\0".getBytes());
        var e = assertThrows(GgufFormatException.class, () -> GgufFile.open(f));
        assertTrue(e.getMessage().contains("not a GGUF file"), e.getMessage());
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(GgufFile.MAGIC).putInt(7).putLong(0).putLong(0);
        Files.write(f, b.array());
        e = assertThrows(GgufFormatException.class, () -> GgufFile.open(f));
        assertTrue(e.getMessage().contains("version 7"), e.getMessage());
    }

    @Test
    void rejectsTruncationAndTensorsOutsideTheFile() throws IOException {
        byte[] good = Files.readAllBytes(TestData.model("Q8_0"));
        Path f = dir.resolve("t.gguf");
        Files.write(f, java.util.Arrays.copyOf(good, 1000));
        var e = assertThrows(GgufFormatException.class, () -> GgufFile.open(f));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        Files.write(f, java.util.Arrays.copyOf(good, good.length - 100));
        e = assertThrows(GgufFormatException.class, () -> GgufFile.open(f));
        assertTrue(e.getMessage().contains("points outside the file"), e.getMessage());
    }

    @Test
    void rejectsAbsurdLengthsWithoutAllocating() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(GgufFile.MAGIC).putInt(3).putLong(0).putLong(1);
        b.putLong(3).put("key".getBytes()).putInt(GgufType.ARRAY.ordinal()).putInt(GgufType.INT32.ordinal())
                .putLong(Long.MAX_VALUE / 2);
        Path f = dir.resolve("a.gguf");
        Files.write(f, b.array());
        var e = assertThrows(GgufFormatException.class, () -> GgufFile.open(f));
        assertTrue(e.getMessage().contains("absurd"), e.getMessage());
    }

    @Test
    void malformedUtf8BecomesReplacementCharactersAndShortArraysAreTruncations() throws IOException {
        // One string: "a", a byte that starts no UTF-8 sequence, "b", then a lead byte with no continuation.
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(GgufFile.MAGIC).putInt(3).putLong(0).putLong(1);
        b.putLong(1).put("s".getBytes()).putInt(GgufType.STRING.ordinal()).putLong(4).put(new byte[] {'a', (byte) 0xFF, 'b', (byte) 0xC3});
        Path f = dir.resolve("u.gguf");
        Files.write(f, java.util.Arrays.copyOf(b.array(), b.position()));
        try (GgufFile g = GgufFile.open(f)) {
            assertEquals("a\uFFFDb\uFFFD", g.metadata().getString("s"));
        }
        // An f32 and an i32 array (read in one copy each) that claim more elements than the file holds.
        for (GgufType t : new GgufType[] {GgufType.FLOAT32, GgufType.INT32}) {
            ByteBuffer a = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            a.putInt(GgufFile.MAGIC).putInt(3).putLong(0).putLong(1);
            a.putLong(1).put("a".getBytes()).putInt(GgufType.ARRAY.ordinal()).putInt(t.ordinal()).putLong(3).putFloat(1).putFloat(2);
            Files.write(f, java.util.Arrays.copyOf(a.array(), a.position()));
            var e = assertThrows(GgufFormatException.class, () -> GgufFile.open(f));
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        }
    }
}
