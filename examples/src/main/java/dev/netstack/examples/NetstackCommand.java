package dev.netstack.examples;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * {@code netstack}: the xv6 network lab and friends, run against netstack in one process. Each
 * subcommand builds what it needs ({@link GuestWorld}): a guest (E1000 card, driver, stack), the
 * SLIRP-style gateway on a cable to the card, and a host-side UDP server on 127.0.0.1.
 */
@Command(name = "netstack",
        mixinStandardHelpOptions = true,
        versionProvider = NetstackCommand.Version.class,
        description = "A user-space IPv4 stack on an emulated E1000 card, with a SLIRP-style gateway to this host.",
        subcommands = {
            NettestsCommand.class,
            ServerCommand.class,
            PingCommand.class,
            DigCommand.class,
            LanCommand.class,
            GuestCommand.class,
            CommandLine.HelpCommand.class,
        })
public final class NetstackCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing subcommand");
    }

    /** The command line with the tool's error handling: no stack traces, status 1 on unexpected errors. */
    public static CommandLine newCommandLine() {
        CommandLine commandLine = new CommandLine(new NetstackCommand());
        commandLine.setParameterExceptionHandler(NetstackCommand::badInput);
        commandLine.setExecutionExceptionHandler((e, cmd, parseResult) -> {
            cmd.getErr().println("netstack " + cmd.getCommandName() + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            cmd.getErr().flush();
            return Subcommand.FAILED;
        });
        return commandLine;
    }

    /** As {@link #newCommandLine()}, writing to the given streams. */
    public static CommandLine newCommandLine(PrintWriter out, PrintWriter err) {
        CommandLine commandLine = newCommandLine();
        commandLine.setOut(out);
        commandLine.setErr(err);
        return commandLine;
    }

    /** Bad input: the error on one line, the synopsis, and where to read more; status 2. */
    private static int badInput(ParameterException e, String[] args) {
        CommandLine command = e.getCommandLine();
        PrintWriter err = command.getErr();
        err.println(command.getCommandSpec().qualifiedName() + ": " + e.getMessage());
        UnmatchedArgumentException.printSuggestions(e, err);
        err.print(command.getHelp().fullSynopsis());
        err.printf("Try '%s --help' for more information.%n", command.getCommandSpec().qualifiedName());
        err.flush();
        return command.getCommandSpec().exitCodeOnInvalidInput();
    }

    public static void main(String[] args) {
        System.exit(newCommandLine().execute(args));
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = NetstackCommand.class.getPackage().getImplementationVersion();
            return new String[] {"netstack " + (version == null ? "(development build)" : version)};
        }
    }
}
