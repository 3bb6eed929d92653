package dev.sieve.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** sieve-tiny's SPM vocabulary against the reference ids in testdata/models/README.md. */
class SieveTinyTokenizerTest {

    @Test
    void referencePromptsMatchLlamaCpp() {
        Tokenizer t = TestData.sieveTiny();
        assertArrayEquals(new int[] {1, 394, 437, 1221}, t.encode("The Python interpreter", true, false));
        assertArrayEquals(new int[] {1, 1503, 1143, 263, 569}, t.encode("To create a list", true, false));
        assertArrayEquals(new int[] {1, 615, 1144}, t.encode("import os", true, false));
        assertArrayEquals(new int[] {394, 437, 1221}, t.encode("The Python interpreter", false, false));
    }

    @Test
    void specialIdsAndPieces() {
        Tokenizer t = TestData.sieveTiny();
        assertEquals(4096, t.vocabSize());
        assertEquals(1, t.bos());
        assertEquals(2, t.eos());
        assertTrue(t.addsBos());
        assertTrue(t.isEndOfGeneration(2));
        assertFalse(t.isEndOfGeneration(1));
        assertFalse(t.isEndOfGeneration(13));
        assertEquals("<0x0A>", t.piece(13));
        assertEquals("▁▁", t.piece(259));
        assertArrayEquals(new byte[] {'\n'}, t.tokenBytes(13));
        assertArrayEquals(new byte[] {' ', ' '}, t.tokenBytes(259));
        assertArrayEquals(new byte[0], t.tokenBytes(1));
    }

    @Test
    void decodesReferenceGeneration() {
        Tokenizer t = TestData.sieveTiny();
        // "The Python interpreter" prompt plus its first generated ids, as llama-cli printed them.
        int[] ids = {1, 394, 437, 1221, 296, 13, 259, 268, 437, 1221, 4026};
        assertEquals("The Python interpreter is\n   the Python interpreter.", t.decode(ids));
    }

    @Test
    void controlTokensParseOnlyWhenAsked() {
        Tokenizer t = TestData.sieveTiny();
        int[] parsed = t.encode("<s>The", false, true);
        assertArrayEquals(new int[] {1, 394}, parsed); // the text after a special token gets the space prefix
        int[] plain = t.encode("<s>The", false, false);
        assertFalse(contains(plain, 1), "<s> must be plain text without parseSpecial");
        assertEquals("<s>The", t.decode(plain));
    }

    @Test
    void evalTextEncodesToReferenceCount() throws IOException {
        Tokenizer t = TestData.sieveTiny();
        String text = Files.readString(TestData.require("models/eval.txt"), StandardCharsets.UTF_8);
        t.encode(text.substring(0, 20_000), true, false); // warm up the JIT before timing
        long t0 = System.nanoTime();
        int[] ids = t.encode(text, true, false);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("sieve-tiny eval.txt: %d chars -> %d ids in %d ms%n", text.length(), ids.length, ms);
        assertEquals(93_010, ids.length);
        assertEquals(1, ids[0]);
        assertEquals(text, t.decode(ids));
        // Generous bound that still catches a quadratic merge loop (that takes minutes here).
        assertTrue(ms < 10_000, "encoding eval.txt took " + ms + " ms");
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }
}
