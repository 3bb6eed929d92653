package dev.sieve.core.kernel;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;

/**
 * Chooses the kernels once per JVM: the Vector API implementation when {@code
 * jdk.incubator.vector} is available and C2 is on, else the scalar reference (with a warning that
 * says how to get the fast path). {@code -Dsieve.kernels=scalar} forces the reference, {@code
 * -Dsieve.vectorBits=128|256|512} forces a vector width (as Lucene's tests do).
 */
public final class KernelProvider {
    private static final Logger LOG = System.getLogger(KernelProvider.class.getName());

    private KernelProvider() {}

    private static final class Holder { // holder idiom: no class-loading deadlock
        static final Kernels INSTANCE = lookup();
    }

    public static Kernels get() {
        return Holder.INSTANCE;
    }

    /** The Panama kernels at {@code bits}, or at the preferred width when {@code bits <= 0}. */
    public static Kernels panama(int bits) {
        return panama(bits, false);
    }

    private static Kernels panama(int bits, boolean exact) {
        try {
            Class<?> c = Class.forName("dev.sieve.kernel.panama.PanamaKernels");
            return (Kernels) c.getMethod("create", int.class, boolean.class, boolean.class).invoke(null, bits, false, exact);
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new IllegalStateException("Vector API kernels unavailable: " + e, e);
        }
    }

    /**
     * Kernels whose results do not depend on what the JIT has compiled: {@link #get()}'s choice,
     * with vector lanes summed in one fixed order (the default kernels' {@code reduceLanes} adds in
     * a different order interpreted and compiled). For work that must be bit-reproducible from run
     * to run: calibrated compression and evaluation. The scalar reference already is.
     */
    public static Kernels reproducible() {
        Kernels k = get();
        if (k == ScalarKernels.INSTANCE) {
            return k;
        }
        return ReproducibleHolder.INSTANCE;
    }

    private static final class ReproducibleHolder {
        static final Kernels INSTANCE = panama(Integer.getInteger("sieve.vectorBits", 0), true);
    }

    private static Kernels lookup() {
        if ("scalar".equals(System.getProperty("sieve.kernels"))) {
            return ScalarKernels.INSTANCE;
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            LOG.log(Level.WARNING, "Vector API not available; using slow scalar kernels. "
                    + "Pass '--add-modules jdk.incubator.vector' to the JVM.");
            return ScalarKernels.INSTANCE;
        }
        try {
            return panama(Integer.getInteger("sieve.vectorBits", 0));
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Vector API kernels failed to start (" + e.getMessage()
                    + "); using slow scalar kernels.");
            return ScalarKernels.INSTANCE;
        }
    }
}
