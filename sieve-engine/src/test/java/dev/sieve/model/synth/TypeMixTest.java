package dev.sieve.model.synth;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sieve.model.synth.SyntheticModelWriter.TypeMix;
import org.junit.jupiter.api.Test;

/** Which encoding each tensor of a synthetic file gets: the sparse mixes and the dense twins they are measured against. */
class TypeMixTest {

    @Test
    void legacyFourBitKeepsLlamaCppsHeadUnlessTheOutputTypeIsGiven() {
        TypeMix q4 = TypeMix.parse("Q4_0");
        assertEquals("Q6_K", q4.forTensor("output.weight", 0, 22).name());
        TypeMix twin = q4.withOutput("q4_0");
        assertEquals("Q4_0", twin.forTensor("output.weight", 0, 22).name());
        assertEquals("Q4_0", twin.forTensor("blk.3.ffn_down.weight", 3, 22).name());
        assertEquals("Q4_0", twin.embedding().name());
    }

    @Test
    void sparseMixesPruneEveryMatrixButTheEmbeddingIncludingQ4Bitmap() {
        TypeMix m = TypeMix.sparse("unstructured", 0.5, "q4");
        assertEquals("Q4_B128", m.forTensor("blk.0.attn_q.weight", 0, 22).name());
        assertEquals("Q4_B128", m.forTensor("output.weight", 0, 22).name());
        assertEquals("Q4_0", m.embedding().name());
        assertEquals("Q4_B77", TypeMix.sparse("unstructured", 0.7, "q4").base().name());
        assertEquals("Q8_S48", TypeMix.sparse("4:8", 0.5, "q8").base().name());
    }
}
