package dev.sieve.kernel.panama;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Loads a private copy of the classes in {@code dev.sieve.kernel.panama.vec} for one vector width
 * (and one choice of lane-sum order, {@link #exact()}).
 *
 * <p>Why: C2 only intrinsifies Vector API calls whose species is a compile-time constant, i.e. a
 * {@code static final}. One source written against {@code Vec.F} therefore needs one class copy
 * per width to run at 128, 256 and 512 bits in the same JVM (tests, benchmarks). Each copy reads
 * its width from {@link #bits()} in its static initializer; everything else is delegated to the
 * parent, so the copies share {@code Kernels}, {@code Tensor} and the encodings.
 */
public final class WidthLoader extends ClassLoader {
    static final String PACKAGE = "dev.sieve.kernel.panama.vec.";

    static {
        registerAsParallelCapable();
    }

    private final int bits;
    private final boolean exact;

    WidthLoader(int bits, boolean exact, ClassLoader parent) {
        super("sieve-vector-" + bits + (exact ? "-exact" : ""), parent);
        this.bits = bits;
        this.exact = exact;
    }

    /**
     * Whether the classes this loader defines sum vector lanes in one fixed order (reproducible
     * results whatever the JIT has compiled; see {@code Vec.EXACT}).
     */
    public boolean exact() {
        return exact;
    }

    /** The vector width, in bits, of the classes this loader defines. */
    public int bits() {
        return bits;
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (!name.startsWith(PACKAGE)) {
            return super.loadClass(name, resolve);
        }
        synchronized (getClassLoadingLock(name)) {
            Class<?> c = findLoadedClass(name);
            if (c == null) {
                String resource = name.replace('.', '/') + ".class";
                try (InputStream in = getParent().getResourceAsStream(resource)) {
                    if (in == null) {
                        throw new ClassNotFoundException(name);
                    }
                    byte[] bytes = in.readAllBytes();
                    c = defineClass(name, bytes, 0, bytes.length);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            if (resolve) {
                resolveClass(c);
            }
            return c;
        }
    }
}
