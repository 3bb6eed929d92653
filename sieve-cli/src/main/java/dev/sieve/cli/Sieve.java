package dev.sieve.cli;

import dev.sieve.io.gguf.GgufFormatException;
import dev.sieve.model.loader.ModelLoadException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sieve} command: run, compress and measure open LLMs on the CPU. */
@Command(
        name = "sieve",
        mixinStandardHelpOptions = true,
        version = "sieve 0.1.0",
        description = "Runs open large language models (GGUF) fast on the CPU, in pure Java.%n",
        subcommands = {
            RunCommand.class,
            ChatCommand.class,
            ServeCommand.class,
            LoadtestCommand.class,
            InspectCommand.class,
            TokenizeCommand.class,
            SynthCommand.class,
            PullCommand.class,
            BenchCommand.class,
            EvalCommand.class,
            CompressCommand.class,
            CommandLine.HelpCommand.class
        },
        footer = {"%nExamples:",
            "  sieve run -m model.gguf -p \"The meaning of life is\" -n 64",
            "  sieve chat -m model.gguf",
            "  sieve serve -m model.gguf --port 8080 --parallel 8",
            "  sieve inspect model.gguf",
            "  sieve synth --shape tinyllama-1.1b --type Q4_0 -o tl.gguf"})
public final class Sieve implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code; user errors print one line, never a stack trace. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Sieve());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            String msg = switch (ex) {
                case NoSuchFileException e -> "file not found: " + e.getFile();
                case GgufFormatException e -> "invalid GGUF file: " + e.getMessage();
                case ModelLoadException e -> "cannot load model: " + e.getMessage();
                case UserException e -> e.getMessage();
                case IllegalArgumentException e -> e.getMessage();
                case IOException e -> "I/O error: " + e.getMessage();
                default -> null;
            };
            if (msg == null) {
                err.println("sieve: internal error: " + ex);
                ex.printStackTrace(err);
                return 70;
            }
            err.println("sieve: " + msg);
            err.flush();
            return 1;
        });
        return cl.execute(args);
    }
}
