package dev.sieve.cli;

import dev.sieve.io.gguf.GgufFile;
import dev.sieve.tokenizer.Tokenizer;
import dev.sieve.tokenizer.Tokenizers;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = {"Prints the tokens of a text as the model's tokenizer sees it (like llama.cpp's llama-tokenize).",
            "The text comes from -p, -f, or standard input."},
        footer = {"%nExamples:", "  sieve tokenize -m model.gguf -p \"Hello world\"",
            "  echo 'Hello world' | sieve tokenize -m model.gguf --ids --no-bos"})
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "GGUF file (a vocabulary-only file works too)")
    Path model;

    @Option(names = {"-p", "--prompt"}, description = "text to tokenize")
    String text;

    @Option(names = {"-f", "--file"}, description = "read the text from a file")
    Path file;

    @Option(names = "--ids", description = "print only the ids, as a list")
    boolean idsOnly;

    @Option(names = "--no-bos", description = "do not add the BOS token")
    boolean noBos;

    @Option(names = "--no-parse-special", description = "tokenize special-token text (e.g. <s>) as plain text")
    boolean noParseSpecial;

    @Option(names = "--show-count", description = "print the number of tokens")
    boolean showCount;

    @Override
    public Integer call() throws Exception {
        if (text != null && file != null) {
            throw new UserException("give the text with -p or -f, not both");
        }
        String input = text != null ? text
                : file != null ? Files.readString(file, StandardCharsets.UTF_8)
                : new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (GgufFile g = GgufFile.open(model)) {
            Tokenizer tok = Tokenizers.fromGguf(g.metadata());
            int[] ids = tok.encode(input, !noBos, !noParseSpecial);
            if (idsOnly) {
                StringBuilder sb = new StringBuilder("[");
                for (int i = 0; i < ids.length; i++) {
                    sb.append(i > 0 ? ", " : "").append(ids[i]);
                }
                out.println(sb.append(']'));
            } else {
                for (int id : ids) {
                    out.printf("%6d -> '%s'%n", id, tok.piece(id));
                }
            }
            if (showCount) {
                out.println("Total number of tokens: " + ids.length);
            }
        }
        return 0;
    }
}
