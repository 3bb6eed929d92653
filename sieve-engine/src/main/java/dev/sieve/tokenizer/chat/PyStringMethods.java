package dev.sieve.tokenizer.chat;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Gives Jinjava strings the Python {@code str} methods that HF chat templates call
 * ({@code strip}, {@code startswith}, {@code split}, {@code upper}, ...). Jinjava resolves
 * method calls on Java objects by reflection, so {@code s.strip()} would otherwise hit
 * {@link String#strip()} (close, but not for {@code strip(chars)}) and {@code s.startswith(x)}
 * would fail. Placed before Jinjava's own resolver; anything it does not handle falls through.
 */
final class PyStringMethods extends ELResolver {

    @Override
    public Object invoke(ELContext ctx, Object base, Object method, Class<?>[] types, Object[] params) {
        if (!(base instanceof String s) || method == null) {
            return null;
        }
        Object[] a = params == null ? new Object[0] : params;
        Object r = call(s, method.toString(), a);
        if (r != NOT_HANDLED) {
            ctx.setPropertyResolved(true);
            return r;
        }
        return null;
    }

    private static final Object NOT_HANDLED = new Object();

    static Object call(String s, String name, Object[] a) {
        return switch (name) {
            case "strip" -> rstrip(lstrip(s, arg(a, 0)), arg(a, 0));
            case "lstrip" -> lstrip(s, arg(a, 0));
            case "rstrip" -> rstrip(s, arg(a, 0));
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "startswith" -> anyMatch(a, p -> s.startsWith(p));
            case "endswith" -> anyMatch(a, p -> s.endsWith(p));
            case "split" -> split(s, arg(a, 0), a.length > 1 ? ((Number) a[1]).intValue() : -1);
            case "splitlines" -> s.lines().toList();
            case "replace" -> a.length >= 2 ? s.replace(String.valueOf(a[0]), String.valueOf(a[1])) : NOT_HANDLED;
            case "find" -> a.length >= 1 ? s.indexOf(String.valueOf(a[0])) : NOT_HANDLED;
            case "count" -> a.length >= 1 ? count(s, String.valueOf(a[0])) : NOT_HANDLED;
            case "join" -> a.length == 1 && a[0] instanceof Collection<?> c ? join(s, c) : NOT_HANDLED;
            case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(Character::isWhitespace);
            default -> NOT_HANDLED;
        };
    }

    private static String arg(Object[] a, int i) {
        return a.length > i && a[i] != null ? String.valueOf(a[i]) : null;
    }

    private static boolean anyMatch(Object[] a, java.util.function.Predicate<String> p) {
        if (a.length == 0) {
            throw new IllegalArgumentException("startswith/endswith need an argument");
        }
        if (a[0] instanceof Collection<?> c) { // Python accepts a tuple of prefixes
            return c.stream().anyMatch(x -> p.test(String.valueOf(x)));
        }
        return p.test(String.valueOf(a[0]));
    }

    /** Python's default strip set is whitespace; with chars, strips any of those characters. */
    private static boolean strippable(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) : chars.indexOf(c) >= 0;
    }

    static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && strippable(s.charAt(i), chars)) {
            i++;
        }
        return s.substring(i);
    }

    static String rstrip(String s, String chars) {
        int j = s.length();
        while (j > 0 && strippable(s.charAt(j - 1), chars)) {
            j--;
        }
        return s.substring(0, j);
    }

    private static String title(String s) {
        StringBuilder b = new StringBuilder(s.length());
        boolean prevLetter = false;
        for (char c : s.toCharArray()) {
            b.append(prevLetter ? Character.toLowerCase(c) : Character.toUpperCase(c));
            prevLetter = Character.isLetter(c);
        }
        return b.toString();
    }

    /** Python semantics: no separator splits on runs of whitespace and drops empty ends. */
    static List<String> split(String s, String sep, int maxSplit) {
        List<String> out = new ArrayList<>();
        if (sep == null) {
            int i = 0;
            int n = s.length();
            while (true) {
                while (i < n && Character.isWhitespace(s.charAt(i))) {
                    i++;
                }
                if (i >= n) {
                    break;
                }
                if (maxSplit >= 0 && out.size() == maxSplit) {
                    out.add(rstrip(s.substring(i), null));
                    break;
                }
                int j = i;
                while (j < n && !Character.isWhitespace(s.charAt(j))) {
                    j++;
                }
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int from = 0;
        while (maxSplit < 0 || out.size() < maxSplit) {
            int at = s.indexOf(sep, from);
            if (at < 0) {
                break;
            }
            out.add(s.substring(from, at));
            from = at + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) {
            return s.length() + 1;
        }
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
            n++;
        }
        return n;
    }

    private static String join(String sep, Collection<?> c) {
        StringBuilder b = new StringBuilder();
        Iterator<?> it = c.iterator();
        while (it.hasNext()) {
            b.append(it.next());
            if (it.hasNext()) {
                b.append(sep);
            }
        }
        return b.toString();
    }

    // Property access is left to Jinjava's resolver.
    @Override
    public Object getValue(ELContext ctx, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext ctx, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext ctx, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext ctx, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext ctx, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext ctx, Object base) {
        return null;
    }
}
