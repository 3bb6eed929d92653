package dev.sieve.cli;

import dev.sieve.io.gguf.GgufFormatException;
import dev.sieve.model.loader.ModelLoadException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sieve} command: run, compress and measure open LLMs on the CPU. */
@Command(
        name = "sieve",
        mixinStandardHelpOptions = true,
        version = "sieve 0.1.0",
        description = "Runs open large language models (GGUF) fast on the CPU, in pure Java.%n",
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

    /**
     * The subcommands, in the order {@code sieve --help} lists them. Picocli reads a command's annotations
     * when it is added, all eleven in ~0.1 s of interpreted start-up, so a command line naming one gets
     * only that one; any other first word (help, an option, a typo) gets them all, for the usage and the
     * suggestions.
     */
    private static final Map<String, Supplier<Object>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("run", RunCommand::new);
        COMMANDS.put("chat", ChatCommand::new);
        COMMANDS.put("serve", ServeCommand::new);
        COMMANDS.put("loadtest", LoadtestCommand::new);
        COMMANDS.put("inspect", InspectCommand::new);
        COMMANDS.put("tokenize", TokenizeCommand::new);
        COMMANDS.put("synth", SynthCommand::new);
        COMMANDS.put("pull", PullCommand::new);
        COMMANDS.put("bench", BenchCommand::new);
        COMMANDS.put("eval", EvalCommand::new);
        COMMANDS.put("compress", CompressCommand::new);
        COMMANDS.put("help", CommandLine.HelpCommand::new);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code; user errors print one line, never a stack trace. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Sieve());
        Supplier<Object> named = args.length > 0 && !args[0].equals("help") ? COMMANDS.get(args[0]) : null;
        if (named != null) {
            cl.addSubcommand(args[0], named.get());
        } else {
            COMMANDS.forEach((name, command) -> cl.addSubcommand(name, command.get()));
        }
        // After the subcommands: picocli gives a handler to the subcommands present when it is set.
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
