package dev.sieve.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sieve.core.kernel.KernelProvider;
import dev.sieve.core.kernel.Linear;
import dev.sieve.core.parallel.WorkerPool;
import dev.sieve.model.layers.Transformer;
import dev.sieve.model.loader.Model;
import dev.sieve.model.loader.ModelLoader;
import dev.sieve.model.eval.Perplexity;
import dev.sieve.testkit.TestData;
import dev.sieve.tokenizer.Tokenizer;
import dev.sieve.tokenizer.Tokenizers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * sieve-tiny's perplexity on the whole of eval.txt (llama-perplexity protocol, -c 256) matches
 * llama.cpp's published figure for each encoding within 1% (README of ../shared/testdata/models).
 */
class SieveTinyPerplexityTest {

    @ParameterizedTest(name = "{0}: llama.cpp PPL {1}")
    @CsvSource({"F32, 34.5491", "F16, 34.5489", "Q8_0, 34.5499", "Q4_K_M, 34.7405", "Q4_0, 34.8518"})
    void perplexityMatchesLlamaCpp(String encoding, double reference) throws Exception {
        String text = Files.readString(TestData.file("models/eval.txt"), StandardCharsets.UTF_8);
        try (Model m = ModelLoader.load(TestData.model(encoding)); WorkerPool pool = new WorkerPool(2)) {
            Tokenizer tok = Tokenizers.fromGguf(m.metadata());
            int[] tokens = tok.encode(text, true, false);
            assertEquals(93_010, tokens.length, "token count of eval.txt with BOS (README)");
            Transformer tf = new Transformer(m.config(), m.weights(), new Linear(KernelProvider.get(), pool), 256);
            Perplexity.Result r = Perplexity.compute(tf, tokens, 256, tok.bos(), 0, null, null);
            assertEquals(46_101, r.scored());
            assertEquals(363, r.chunks());
            System.out.printf("[%s] sieve-tiny %-7s PPL %.4f ± %.4f (llama.cpp %.4f, %+.3f%%)%n", KernelProvider.get().name(), encoding, r.ppl(), r.pplError(),
                    reference, (r.ppl() / reference - 1) * 100);
            assertEquals(reference, r.ppl(), reference * 0.01, "perplexity within 1% of llama.cpp");
        }
    }
}
