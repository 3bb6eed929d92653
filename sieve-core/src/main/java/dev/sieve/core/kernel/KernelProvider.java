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
        try {
            Class<?> c = Class.forName("dev.sieve.kernel.panama.PanamaKernels");
            return (Kernels) c.getMethod("create", int.class).invoke(null, bits);
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new IllegalStateException("Vector API kernels unavailable: " + e, e);
        }
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
