package dev.sieve.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sieve.core.kernel.Linear;
import dev.sieve.core.kernel.ScalarKernels;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.layers.KvCache;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.layers.Transformer.BatchEntry;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.model.synth.ModelShape;
import dev.sieve.model.synth.SyntheticModelWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hot paths allocate nothing: after warm-up, decode steps (one sequence, and a batch of four through
 * {@code forwardBatch}) allocate no memory on the calling thread. The scalar kernels are used so the
 * test is about the forward pass's own structure (layers, matrix products over the worker pool, KV
 * cache, attention): Vector API code allocates boxes until C2 has compiled it, which on a model this
 * small takes longer than a unit test should (the kernels' own allocation is measured by
 * {@code DecodeProbe}'s alloc/call). Before this test, every matrix product allocated its task lambda.
 */
class ForwardAllocationTest {
    @TempDir Path dir;

    @Test
    void decodeStepsAllocateNothingAfterWarmup() throws Exception {
        Path f = dir.resolve("m.gguf");
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (WorkerPool pool = new WorkerPool(2)) {
            new SyntheticModelWriter(ModelShape.byName("tiny"), SyntheticModelWriter.TypeMix.parse("Q4_0"), 5)
                    .write(f, pool, (i, n, s) -> {});
            try (Model m = ModelLoader.load(f)) {
                Transformer tf = new Transformer(m.config(), m.weights(), new Linear(ScalarKernels.INSTANCE, pool), 8);
                int v = m.config().vocabSize();
                float[] logits = new float[4 * v];
                KvCache one = tf.newCache(1024);
                List<BatchEntry> batch = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    batch.add(new BatchEntry(tf.newCache(1024), new int[] {3 + i}, 0, 1));
                }
                int[] tok = {1};
                long tid = Thread.currentThread().threadId();
                long[] allocated = new long[2];
                for (int round = 0; round < 3; round++) { // the first rounds warm up (JIT, per-thread scratch)
                    one.truncate(0);
                    batch.forEach(e -> e.cache().truncate(0));
                    long before = mx.getThreadAllocatedBytes(tid);
                    for (int step = 0; step < 300; step++) {
                        tf.forward(tok, 0, 1, one, logits, 1);
                    }
                    long mid = mx.getThreadAllocatedBytes(tid);
                    for (int step = 0; step < 300; step++) {
                        tf.forwardBatch(batch, logits);
                    }
                    allocated[0] = mid - before;
                    allocated[1] = mx.getThreadAllocatedBytes(tid) - mid;
                }
                assertTrue(allocated[0] < 1024, "300 single-token steps allocated " + allocated[0] + " bytes");
                assertTrue(allocated[1] < 1024, "300 four-sequence steps allocated " + allocated[1] + " bytes");
            }
        }
    }
}
