package dev.sieve.compress.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RecipeTest {

    static String fail(String yaml) {
        return assertThrows(RecipeException.class, () -> Recipe.parse(yaml)).getMessage();
    }

    @Test
    void parsesStepsInOrder() {
        Recipe r = Recipe.parse("""
                default_type: Q8_0
                steps:
                  - match: ["blk.*.ffn_*", "blk.0.attn_{q,k}"]
                    method: wanda
                    pattern: "2:4"
                  - match: "blk.*.attn_*"
                    method: gptq
                    bits: 4
                    act_order: true
                  - {match: output, method: rtn, type: q6_k}
                  - {match: "blk.1.*", method: whitened-svd, keep: 0.25, type: Q8_0}
                """);
        assertEquals(4, r.steps().size());
        Step w = r.steps().get(0);
        assertEquals(Method.WANDA, w.method());
        assertEquals(2, w.nOfM().n());
        assertEquals(4, w.nOfM().m());
        assertEquals("F16", w.type().name());
        assertTrue(w.matches("blk.3.ffn_up.weight") && w.matches("blk.0.attn_k.weight"));
        assertTrue(!w.matches("blk.0.attn_v.weight") && !w.matches("blk.10.attn_output.weight"));
        assertEquals("Q4_0", r.steps().get(1).type().name());
        assertTrue(r.steps().get(1).actOrder());
        assertEquals("Q6_K", r.steps().get(2).type().name());
        assertEquals(0.25, r.steps().get(3).keep());
        assertEquals("Q8_0", r.defaultType().name());
        assertTrue(r.needsCalibration());
    }

    @Test
    void importanceIsTrueFalseOrConditional() {
        Recipe r = Recipe.parse("""
                steps:
                  - {match: "blk.*.attn_*", method: gptq, type: Q4_K, importance: conditional, lazy_sub_blocks: true}
                  - {match: "blk.*.ffn_*", method: gptq, type: Q4_K, importance: true}
                  - {match: output, method: gptq, type: Q4_K, importance: false}
                """);
        Step c = r.steps().get(0), d = r.steps().get(1), n = r.steps().get(2);
        assertTrue(c.importance() && c.conditionalImportance() && c.lazySubBlocks());
        assertTrue(d.importance() && !d.conditionalImportance());
        assertTrue(!n.importance() && !n.conditionalImportance());
        assertEquals("gptq Q4_K importance-conditional lazy-sub-blocks", c.describe());
        assertEquals("gptq Q4_K importance", d.describe());
        assertTrue(fail("steps:\n  - {match: blk.*, method: gptq, type: Q4_K, importance: sometimes}\n")
                .contains("importance (true, false or conditional)"));
    }

    @Test
    void rejectsWithClearMessages() {
        assertTrue(fail("steps:\n  - {match: blk.*, method: gptq, type: Q4_0, bitz: 4}\n").contains("unknown key 'bitz'"));
        assertTrue(fail("stepz: []\n").contains("unknown key 'stepz'"));
        assertTrue(fail("steps:\n  - {match: \"blk.[0-3]\", method: rtn, type: Q8_0}\n").contains("bad pattern 'blk.[0-3]'"));
        assertTrue(fail("steps:\n  - {match: \"blk.{q,k\", method: rtn, type: Q8_0}\n").contains("unclosed"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: wanda, sparsity: 1.0}\n").contains("sparsity must be in (0, 1)"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: magnitude, sparsity: 1.5}\n").contains("sparsity must be in (0, 1)"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: gptq, bits: 5}\n").contains("5 bits is not supported"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: gptq, bits: 4, group: 128}\n").contains("groups of 128 is not supported"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: gptq}\n").contains("needs 'type:'"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: gptq, type: Q2_K}\n").contains("no quantization grid"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: gptq, type: Q3_K, outliers: 0.6}\n").contains("outliers must be a fraction"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: rtn, type: Q3_K, outliers: 0.01}\n").contains("outliers"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: quantize, type: Q4_0}\n").contains("unknown method 'quantize'"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: wanda, sparsity: 0.5, pattern: \"2:4\"}\n").contains("exactly one of"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: wanda, pattern: \"4:2\"}\n").contains("bad N:M pattern"));
        assertTrue(fail("steps:\n  - {match: blk.*, method: svd, keep: 1}\n").contains("keep must be in (0, 1)"));
        assertTrue(fail("steps:\n  - {method: rtn, type: Q8_0}\n").contains("'match:' is missing"));
        assertTrue(fail("steps: [\n").contains("not valid YAML"));
        assertTrue(fail("- a\n").contains("must be a mapping"));
    }
}
