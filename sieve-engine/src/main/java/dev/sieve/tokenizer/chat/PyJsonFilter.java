package dev.sieve.tokenizer.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.util.Collection;
import java.util.Map;

/**
 * {@code tojson} as transformers defines it: {@code json.dumps(x, ensure_ascii=False, indent=...)}.
 * Jinjava's built-in filter writes compact JSON ({@code {"a":1}}); Python's default separators
 * are {@code ", "} and {@code ": "}, and templates such as Qwen2.5's tool block depend on them.
 */
final class PyJsonFilter implements Filter {

    @Override
    public String getName() {
        return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        return dumps(var, args.length > 0 && args[0] != null ? Integer.parseInt(args[0]) : -1);
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Object indent = kwargs.getOrDefault("indent", args.length > 0 ? args[0] : null);
        return dumps(var, indent == null ? -1 : ((Number) (indent instanceof String s ? Integer.valueOf(s) : indent)).intValue());
    }

    /** Python json.dumps: indent < 0 means None (one line, ", " and ": "). */
    static String dumps(Object v, int indent) {
        StringBuilder b = new StringBuilder();
        write(b, v, indent, 0);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v, int indent, int depth) {
        switch (v) {
            case null -> b.append("null");
            case Boolean bool -> b.append(bool ? "true" : "false");
            case Integer i -> b.append(i);
            case Long l -> b.append(l);
            case Short s -> b.append(s);
            case Byte by -> b.append(by);
            case Number n -> writeFloat(b, n.doubleValue());
            case CharSequence s -> quote(b, s.toString());
            case Map<?, ?> m -> {
                if (m.isEmpty()) {
                    b.append("{}");
                    return;
                }
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        b.append(indent < 0 ? ", " : ",");
                    }
                    first = false;
                    newline(b, indent, depth + 1);
                    quote(b, String.valueOf(e.getKey()));
                    b.append(": ");
                    write(b, e.getValue(), indent, depth + 1);
                }
                newline(b, indent, depth);
                b.append('}');
            }
            case Collection<?> c -> writeArray(b, c.toArray(), indent, depth);
            case Object[] arr -> writeArray(b, arr, indent, depth);
            default -> quote(b, v.toString());
        }
    }

    private static void writeArray(StringBuilder b, Object[] items, int indent, int depth) {
        if (items.length == 0) {
            b.append("[]");
            return;
        }
        b.append('[');
        for (int i = 0; i < items.length; i++) {
            if (i > 0) {
                b.append(indent < 0 ? ", " : ",");
            }
            newline(b, indent, depth + 1);
            write(b, items[i], indent, depth + 1);
        }
        newline(b, indent, depth);
        b.append(']');
    }

    private static void newline(StringBuilder b, int indent, int depth) {
        if (indent >= 0) {
            b.append('\n').append(" ".repeat(indent * depth));
        }
    }

    private static void writeFloat(StringBuilder b, double d) {
        if (Double.isNaN(d)) {
            b.append("NaN");
        } else if (Double.isInfinite(d)) {
            b.append(d > 0 ? "Infinity" : "-Infinity");
        } else if (d == Math.rint(d) && Math.abs(d) < 1e16) {
            b.append((long) d).append(".0"); // Python repr of an integral float
        } else {
            b.append(d);
        }
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c); // ensure_ascii=False keeps non-ASCII as is
                    }
                }
            }
        }
        b.append('"');
    }
}
