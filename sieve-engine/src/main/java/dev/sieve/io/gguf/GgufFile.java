package dev.sieve.io.gguf;

import dev.sieve.core.quant.GgmlTypes;
import dev.sieve.core.quant.WeightEncoding;
import dev.sieve.core.quant.WeightEncodings;
import dev.sieve.core.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A GGUF file (versions 2 and 3), memory-mapped. The header, metadata and tensor index are parsed
 * when opened; tensor data stays in the mapping and is never copied onto the heap, so a model
 * larger than the heap loads. Every malformed input raises {@link GgufFormatException} naming
 * what is wrong; every length is checked against the bytes left before anything is allocated.
 *
 * <p>Layout: magic {@code GGUF}, u32 version, u64 tensor count, u64 metadata count, the metadata
 * (string key, u32 type, value), the tensor infos (string name, u32 n_dims, u64 ne[n_dims], u32
 * type, u64 offset), padding to {@code general.alignment} (default 32), then the data section.
 */
public final class GgufFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" read little-endian
    public static final int DEFAULT_ALIGNMENT = 32;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    /** The file: a plain native segment over the mapping (see {@link #open}). */
    private final MemorySegment file;
    /** The mapping itself, for releasing pages ({@link #release}); null for a file parsed from memory. */
    private final MemorySegment mapped;
    private final int version;
    private final GgufMetadata metadata;
    private final Map<String, GgufTensorInfo> tensors;
    private final long dataOffset;
    private final int alignment;

    private GgufFile(Path path, Arena arena, MemorySegment file, MemorySegment mapped) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.mapped = mapped;
        Cursor c = new Cursor(file);
        int magic = c.i32();
        if (magic != MAGIC) {
            throw new GgufFormatException(String.format("not a GGUF file (magic 0x%08x, expected 0x%08x \"GGUF\")", magic, MAGIC));
        }
        version = c.i32();
        if (version != 2 && version != 3) {
            throw new GgufFormatException("unsupported GGUF version " + version + " (Sieve reads 2 and 3)");
        }
        long tensorCount = c.u64();
        long kvCount = c.u64();
        // Every entry takes at least 8+4 (metadata) or 8+4+4+8 (tensor) bytes: bound the counts first.
        c.checkCount(kvCount, 12, "metadata entries");
        LinkedHashMap<String, GgufValue> kv = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = c.string();
            GgufType type = GgufType.ofId(c.i32());
            kv.put(key, c.value(type, 0));
        }
        metadata = new GgufMetadata(kv);
        long align = metadata.has("general.alignment") ? metadata.getLong("general.alignment") : DEFAULT_ALIGNMENT;
        if (align <= 0 || align > (1 << 20) || Long.bitCount(align) != 1) {
            throw new GgufFormatException("general.alignment " + align + " is not a power of two");
        }
        alignment = (int) align;
        c.checkCount(tensorCount, 24, "tensor infos");
        LinkedHashMap<String, GgufTensorInfo> ts = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = c.string();
            int nDims = c.i32();
            if (nDims < 1 || nDims > 4) {
                throw new GgufFormatException("tensor '" + name + "' has " + nDims + " dimensions (1 to 4 allowed)");
            }
            long[] ne = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                ne[d] = c.u64();
                if (ne[d] <= 0 || ne[d] > (1L << 40)) {
                    throw new GgufFormatException("tensor '" + name + "' has dimension " + ne[d]);
                }
            }
            int type = c.i32();
            long offset = c.u64();
            GgufTensorInfo info = new GgufTensorInfo(name, ne, type, offset);
            if (ts.put(name, info) != null) {
                throw new GgufFormatException("duplicate tensor name '" + name + "'");
            }
        }
        tensors = Collections.unmodifiableMap(ts);
        dataOffset = alignUp(c.pos, alignment);
        for (GgufTensorInfo t : tensors.values()) {
            var size = GgmlTypes.byId(t.ggmlType());
            if (size.isEmpty()) {
                continue; // listed by inspect; refused by tensor()
            }
            long n;
            try {
                n = Math.multiplyExact(Math.multiplyExact(t.ne()[0], t.ne().length > 1 ? t.ne()[1] : 1),
                        Math.multiplyExact(t.ne().length > 2 ? t.ne()[2] : 1, t.ne().length > 3 ? t.ne()[3] : 1));
            } catch (ArithmeticException e) {
                throw new GgufFormatException("tensor '" + t.name() + "' is impossibly large");
            }
            if (t.ne()[0] % size.get().blockSize() != 0) {
                throw new GgufFormatException("tensor '" + t.name() + "': row of " + t.ne()[0]
                        + " is not a whole number of " + size.get().name() + " blocks");
            }
            long bytes = size.get().byteSize(n);
            if (t.offset() < 0 || t.offset() > file.byteSize() || dataOffset + t.offset() + bytes > file.byteSize()
                    || dataOffset + t.offset() + bytes < 0) {
                throw new GgufFormatException("tensor '" + t.name() + "' points outside the file (offset "
                        + t.offset() + ", " + bytes + " bytes, data section " + (file.byteSize() - dataOffset) + " bytes)");
            }
        }
    }

    /**
     * Opens and maps {@code path}; the mapping lives until {@link #close()}. Tensors are views of a
     * plain native segment over the mapping, not of the mapped segment itself: weights converted at
     * load live in native memory, and kernels that see one segment class compile without type
     * checks in their inner loops (docs/architecture.md).
     */
    public static GgufFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            MemorySegment plain = MemorySegment.ofAddress(seg.address()).reinterpret(seg.byteSize(), arena, null);
            return new GgufFile(path, arena, plain, seg);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Parses a GGUF image held in memory (tests, and files fetched whole). */
    public static GgufFile parse(MemorySegment bytes) {
        return new GgufFile(null, Arena.ofAuto(), bytes, null);
    }

    static long alignUp(long v, long a) {
        return (v + a - 1) / a * a;
    }

    public Path path() { return path; }
    public int version() { return version; }
    public GgufMetadata metadata() { return metadata; }
    public Map<String, GgufTensorInfo> tensorInfos() { return tensors; }
    public long dataOffset() { return dataOffset; }
    public int alignment() { return alignment; }
    public long fileSize() { return file.byteSize(); }

    public boolean hasTensor(String name) {
        return tensors.containsKey(name);
    }

    /** The named tensor as a view of the mapping. */
    public Tensor tensor(String name) {
        GgufTensorInfo t = tensors.get(name);
        if (t == null) {
            throw new GgufFormatException("tensor '" + name + "' is missing");
        }
        WeightEncoding e = WeightEncodings.byGgmlType(t.ggmlType()).orElseThrow(() -> new GgufFormatException(
                "tensor '" + name + "' has encoding " + t.typeName() + ", which Sieve cannot decode"));
        MemorySegment slice = file.asSlice(dataOffset + t.offset(), e.byteSize(t.elementCount()));
        return new Tensor(name, e, t.ne(), slice);
    }

    /**
     * The bytes of a tensor stored in a plain integer or float type Sieve has no weight encoding for
     * (I32, I16: the index arrays of sparse side tensors), checked to be of {@code ggmlType}.
     */
    public MemorySegment rawTensor(String name, int ggmlType) {
        GgufTensorInfo t = tensors.get(name);
        if (t == null) {
            throw new GgufFormatException("tensor '" + name + "' is missing");
        }
        if (t.ggmlType() != ggmlType) {
            throw new GgufFormatException("tensor '" + name + "' has type " + t.typeName() + ", expected "
                    + dev.sieve.core.quant.GgmlTypes.byId(ggmlType).map(x -> x.name()).orElse("type " + ggmlType));
        }
        return file.asSlice(dataOffset + t.offset(), t.byteSize());
    }

    /**
     * {@code bytes} of zeroed memory that lives as long as this file's mapping (for weights converted
     * at load, which replace views of the mapping); GC-managed for a file parsed from memory.
     */
    public MemorySegment allocate(long bytes) {
        return allocate(bytes, false);
    }

    /**
     * As {@link #allocate(long)}, backed by 2 MiB pages where the OS lends them and {@code largePages}
     * asks for them ({@link dev.sieve.core.tensor.LargePages}): faster to stream, slower to fault in.
     */
    public MemorySegment allocate(long bytes, boolean largePages) {
        Arena a = path != null ? arena : Arena.ofAuto();
        return largePages ? dev.sieve.core.tensor.LargePages.allocate(a, bytes) : a.allocate(bytes, 64);
    }

    /**
     * Releases the resident pages of {@code data}, a view of this file that will not be read again
     * (a tensor replaced by a converted copy); a later read would fault them back in.
     */
    public void release(MemorySegment data) {
        long off = data.address() - file.address();
        if (mapped != null && off >= 0 && off + data.byteSize() <= file.byteSize()) {
            mapped.asSlice(off, data.byteSize()).unload();
        }
    }

    @Override
    public void close() {
        if (path != null) {
            arena.close();
        }
    }

    /** A bounds-checked reader over the header. */
    private static final class Cursor {
        final MemorySegment s;
        long pos;

        Cursor(MemorySegment s) {
            this.s = s;
        }

        void need(long n, String what) {
            if (n < 0 || pos + n > s.byteSize()) {
                throw new GgufFormatException("file truncated: " + what + " at byte " + pos
                        + " needs " + n + " bytes, " + Math.max(0, s.byteSize() - pos) + " left");
            }
        }

        void checkCount(long count, long minBytesEach, String what) {
            if (count < 0 || count > (s.byteSize() - pos) / minBytesEach) {
                throw new GgufFormatException("file truncated or corrupt: absurd number of " + what + ": "
                        + Long.toUnsignedString(count) + " at byte " + pos + ", only " + (s.byteSize() - pos) + " bytes left");
            }
        }

        int u8() { need(1, "u8"); return s.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF; }
        int i8() { need(1, "i8"); return s.get(ValueLayout.JAVA_BYTE, pos++); }
        int u16() { need(2, "u16"); int v = s.get(I16, pos) & 0xFFFF; pos += 2; return v; }
        int i16() { need(2, "i16"); int v = s.get(I16, pos); pos += 2; return v; }
        int i32() { need(4, "i32"); int v = s.get(I32, pos); pos += 4; return v; }
        long u32() { return i32() & 0xFFFFFFFFL; }
        long u64() { need(8, "u64"); long v = s.get(I64, pos); pos += 8; return v; }
        float f32() { need(4, "f32"); float v = s.get(F32, pos); pos += 4; return v; }
        double f64() { need(8, "f64"); double v = s.get(F64, pos); pos += 8; return v; }

        boolean bool() {
            int b = u8();
            if (b > 1) {
                throw new GgufFormatException("bool value " + b + " at byte " + (pos - 1));
            }
            return b == 1;
        }

        String string() {
            long len = u64();
            need(len, "string");
            if (len > Integer.MAX_VALUE - 16) {
                throw new GgufFormatException("string of " + len + " bytes");
            }
            byte[] b = new byte[(int) len];
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, pos, b, 0, b.length);
            pos += len;
            // Malformed sequences become U+FFFD, as a REPLACE decoder would make them: a vocabulary's
            // 32,000-150,000 strings through one decoder each took ~0.1 s of every start-up.
            return new String(b, StandardCharsets.UTF_8);
        }

        GgufValue value(GgufType type, int depth) {
            return switch (type) {
                case UINT8 -> new GgufValue(type, null, u8());
                case INT8 -> new GgufValue(type, null, i8());
                case UINT16 -> new GgufValue(type, null, u16());
                case INT16 -> new GgufValue(type, null, i16());
                case UINT32 -> new GgufValue(type, null, u32());
                case INT32 -> new GgufValue(type, null, i32());
                case FLOAT32 -> new GgufValue(type, null, f32());
                case BOOL -> new GgufValue(type, null, bool());
                case STRING -> new GgufValue(type, null, string());
                case UINT64, INT64 -> new GgufValue(type, null, u64());
                case FLOAT64 -> new GgufValue(type, null, f64());
                case ARRAY -> array(depth);
            };
        }

        GgufValue array(int depth) {
            if (depth > 8) {
                throw new GgufFormatException("arrays nested deeper than 8 levels");
            }
            GgufType et = GgufType.ofId(i32());
            long n = u64();
            checkCount(n, et.minBytes, et + " array elements");
            int len = (int) n;
            Object v = switch (et) {
                case INT32 -> { // a vocabulary's token types: one copy
                    int[] a = new int[len];
                    need(4L * len, "i32 array");
                    MemorySegment.copy(s, I32, pos, a, 0, len);
                    pos += 4L * len;
                    yield a;
                }
                case UINT8, INT8, UINT16, INT16 -> {
                    int[] a = new int[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = switch (et) {
                            case UINT8 -> u8();
                            case INT8 -> i8();
                            case UINT16 -> u16();
                            default -> i16();
                        };
                    }
                    yield a;
                }
                case UINT32, UINT64, INT64 -> {
                    long[] a = new long[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = et == GgufType.UINT32 ? u32() : u64();
                    }
                    yield a;
                }
                case FLOAT32 -> { // a vocabulary's scores: one copy
                    float[] a = new float[len];
                    need(4L * len, "f32 array");
                    MemorySegment.copy(s, F32, pos, a, 0, len);
                    pos += 4L * len;
                    yield a;
                }
                case FLOAT64 -> {
                    double[] a = new double[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = f64();
                    }
                    yield a;
                }
                case BOOL -> {
                    boolean[] a = new boolean[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = bool();
                    }
                    yield a;
                }
                case STRING -> {
                    String[] a = new String[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = string();
                    }
                    yield a;
                }
                case ARRAY -> {
                    GgufValue[] a = new GgufValue[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = array(depth + 1);
                    }
                    yield a;
                }
            };
            return new GgufValue(GgufType.ARRAY, et, v);
        }
    }
}
