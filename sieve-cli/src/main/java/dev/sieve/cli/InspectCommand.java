package dev.sieve.cli;

import dev.sieve.io.gguf.GgufFile;
import dev.sieve.io.gguf.GgufTensorInfo;
import dev.sieve.io.gguf.GgufValue;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Shows a GGUF file's metadata, tensors, encodings, sizes and bits per weight.",
        footer = {"%nExample:", "  sieve inspect model.gguf --tensors"})
final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file")
    Path model;

    @Option(names = "--tensors", description = "list every tensor")
    boolean tensors;

    @Option(names = "--all-metadata", description = "print long arrays' first values too")
    boolean allMetadata;

    @Override
    public Integer call() throws Exception {
        try (GgufFile g = GgufFile.open(model)) {
            System.out.printf("file      %s (%s)%n", model, Units.bytes(g.fileSize()));
            System.out.printf("format    GGUF v%d, %d metadata keys, %d tensors, alignment %d%n", g.version(),
                    g.metadata().asMap().size(), g.tensorInfos().size(), g.alignment());
            System.out.println();
            System.out.println("metadata:");
            for (Map.Entry<String, GgufValue> e : g.metadata().asMap().entrySet()) {
                String v = e.getValue().toString();
                if (e.getValue().isArray() && allMetadata) {
                    v += " " + preview(e.getValue());
                }
                if (v.length() > 100) {
                    v = v.substring(0, 97) + "...";
                }
                System.out.printf("  %-45s %s%n", e.getKey(), v.replace("\n", "\\n"));
            }
            long params = 0;
            long bytes = 0;
            Map<String, long[]> byType = new TreeMap<>();
            for (GgufTensorInfo t : g.tensorInfos().values()) {
                long b = knownSize(t);
                params += t.elementCount();
                bytes += b;
                byType.computeIfAbsent(t.typeName(), k -> new long[3]);
                long[] acc = byType.get(t.typeName());
                acc[0]++;
                acc[1] += t.elementCount();
                acc[2] += b;
            }
            System.out.println();
            System.out.printf("tensors   %,d parameters, %s of tensor data, %.2f bits per weight%n", params,
                    Units.bytes(bytes), params == 0 ? 0 : bytes * 8.0 / params);
            for (var e : byType.entrySet()) {
                long[] a = e.getValue();
                System.out.printf("  %-8s %4d tensors %,15d params %10s  %.2f bpw%n", e.getKey(), a[0], a[1],
                        Units.bytes(a[2]), a[2] * 8.0 / a[1]);
            }
            if (tensors) {
                System.out.println();
                System.out.printf("  %-32s %-8s %-22s %12s%n", "name", "type", "shape (ne)", "bytes");
                for (GgufTensorInfo t : g.tensorInfos().values()) {
                    System.out.printf("  %-32s %-8s %-22s %12s%n", t.name(), t.typeName(),
                            java.util.Arrays.toString(t.ne()), Units.bytes(knownSize(t)));
                }
            }
        }
        return 0;
    }

    private static long knownSize(GgufTensorInfo t) {
        return dev.sieve.core.quant.GgmlTypes.byId(t.ggmlType()).map(s -> s.byteSize(t.elementCount())).orElse(0L);
    }

    private static String preview(GgufValue v) {
        StringBuilder sb = new StringBuilder("[");
        int n = Math.min(5, v.length());
        for (int i = 0; i < n; i++) {
            sb.append(i > 0 ? ", " : "").append(java.lang.reflect.Array.get(v.value(), i));
        }
        return sb.append(v.length() > n ? ", ...]" : "]").toString();
    }
}
