package dev.sieve.io.gguf;

import dev.sieve.core.quant.WeightEncoding;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF v3 file that Sieve and llama.cpp both read. The file is written to a temporary
 * file beside the target and moved into place only when complete, so a failure never leaves a
 * half-written model. Tensor bytes are produced by a {@link TensorSource} straight into the mapped
 * output, so a model larger than the heap can be written.
 */
public final class GgufWriter {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Fills a tensor's bytes: {@code dst} is exactly the tensor's size. */
    @FunctionalInterface
    public interface TensorSource {
        void fill(MemorySegment dst) throws IOException;
    }

    /** Called after each tensor is written, for progress bars. */
    @FunctionalInterface
    public interface Progress {
        void tensorWritten(int index, int count, String name);
    }

    private record Entry(String name, int ggmlType, long[] ne, long bytes, TensorSource source) {}

    private final LinkedHashMap<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<Entry> tensors = new ArrayList<>();
    private int alignment = GgufFile.DEFAULT_ALIGNMENT;

    public GgufWriter put(String key, GgufValue value) {
        metadata.put(key, value);
        if (key.equals("general.alignment")) {
            alignment = Math.toIntExact(((Number) value.value()).longValue());
        }
        return this;
    }

    public GgufWriter putAll(Map<String, GgufValue> values) {
        values.forEach(this::put);
        return this;
    }

    public GgufWriter addTensor(String name, WeightEncoding encoding, long[] ne, TensorSource source) {
        long n = 1;
        for (long d : ne) {
            n *= d;
        }
        return addTensor(name, encoding.ggmlType(), ne, encoding.byteSize(n), source);
    }

    /** Adds a tensor of a raw ggml type id and byte size (used to copy tensors unchanged). */
    public GgufWriter addTensor(String name, int ggmlType, long[] ne, long bytes, TensorSource source) {
        tensors.add(new Entry(name, ggmlType, ne.clone(), bytes, source));
        return this;
    }

    /** Writes atomically to {@code out}. */
    public void write(Path out) throws IOException {
        write(out, (i, n, name) -> {});
    }

    public void write(Path out, Progress progress) throws IOException {
        Path abs = out.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
        boolean ok = false;
        try {
            byte[] header = header();
            long dataStart = GgufFile.alignUp(header.length, alignment);
            long[] offsets = new long[tensors.size()];
            long pos = 0;
            for (int i = 0; i < tensors.size(); i++) {
                offsets[i] = pos;
                pos = GgufFile.alignUp(pos + tensors.get(i).bytes, alignment);
            }
            // Rewrite the header now that the offsets are known (same length: offsets are fixed-width).
            header = header(offsets);
            long total = dataStart + (tensors.isEmpty() ? 0 : offsets[offsets.length - 1] + tensors.getLast().bytes);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING); Arena arena = Arena.ofShared()) {
                MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, Math.max(total, 1), arena);
                MemorySegment.copy(MemorySegment.ofArray(header), 0, seg, 0, header.length);
                for (int i = 0; i < tensors.size(); i++) {
                    Entry e = tensors.get(i);
                    tensors.get(i).source.fill(seg.asSlice(dataStart + offsets[i], e.bytes));
                    progress.tensorWritten(i + 1, tensors.size(), e.name);
                }
                seg.force();
            }
            if (total == 0) {
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                    ch.truncate(0);
                }
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            ok = true;
        } finally {
            if (!ok) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private byte[] header() {
        return header(new long[tensors.size()]);
    }

    private byte[] header(long[] offsets) {
        Buf b = new Buf();
        b.i32(GgufFile.MAGIC);
        b.i32(3);
        b.i64(tensors.size());
        b.i64(metadata.size());
        metadata.forEach((k, v) -> {
            b.string(k);
            b.i32(v.type().ordinal());
            b.value(v);
        });
        for (int i = 0; i < tensors.size(); i++) {
            Entry e = tensors.get(i);
            b.string(e.name);
            b.i32(e.ne.length);
            for (long d : e.ne) {
                b.i64(d);
            }
            b.i32(e.ggmlType);
            b.i64(offsets[i]);
        }
        return b.bytes();
    }

    private static final class Buf {
        MemorySegment seg = MemorySegment.ofArray(new byte[1 << 16]);
        long pos;

        void ensure(long n) {
            if (pos + n > seg.byteSize()) {
                long cap = Math.max(seg.byteSize() * 2, pos + n);
                MemorySegment bigger = MemorySegment.ofArray(new byte[Math.toIntExact(cap)]);
                MemorySegment.copy(seg, 0, bigger, 0, pos);
                seg = bigger;
            }
        }

        void u8(int v) { ensure(1); seg.set(ValueLayout.JAVA_BYTE, pos++, (byte) v); }
        void i16(int v) { ensure(2); seg.set(I16, pos, (short) v); pos += 2; }
        void i32(int v) { ensure(4); seg.set(I32, pos, v); pos += 4; }
        void i64(long v) { ensure(8); seg.set(I64, pos, v); pos += 8; }
        void f32(float v) { ensure(4); seg.set(F32, pos, v); pos += 4; }
        void f64(double v) { ensure(8); seg.set(F64, pos, v); pos += 8; }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            ensure(b.length);
            MemorySegment.copy(MemorySegment.ofArray(b), 0, seg, pos, b.length);
            pos += b.length;
        }

        void scalar(GgufType t, Object v) {
            switch (t) {
                case UINT8, INT8 -> u8(((Number) v).intValue());
                case UINT16, INT16 -> i16(((Number) v).intValue());
                case UINT32, INT32 -> i32(((Number) v).intValue());
                case UINT64, INT64 -> i64(((Number) v).longValue());
                case FLOAT32 -> f32(((Number) v).floatValue());
                case FLOAT64 -> f64(((Number) v).doubleValue());
                case BOOL -> u8((Boolean) v ? 1 : 0);
                case STRING -> string((String) v);
                case ARRAY -> throw new IllegalArgumentException("nested array as scalar");
            }
        }

        void value(GgufValue v) {
            if (!v.isArray()) {
                scalar(v.type(), v.value());
                return;
            }
            i32(v.elementType().ordinal());
            int n = v.length();
            i64(n);
            for (int i = 0; i < n; i++) {
                Object e = java.lang.reflect.Array.get(v.value(), i);
                if (v.elementType() == GgufType.ARRAY) {
                    value((GgufValue) e);
                } else {
                    scalar(v.elementType(), e);
                }
            }
        }

        byte[] bytes() {
            return seg.asSlice(0, pos).toArray(ValueLayout.JAVA_BYTE);
        }
    }
}
