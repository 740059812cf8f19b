package dev.netstack.examples;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code netstack server}: the lab's host-side server ({@code make server}) on a real 127.0.0.1 socket. */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = {"Answer UDP datagrams on 127.0.0.1 with \"this is the host!\" (the lab's `make server`).",
            "Prints each message that arrives; runs until interrupted or --count datagrams were answered."})
final class ServerCommand extends Subcommand {
    @Option(names = {"-p", "--port"}, paramLabel = "PORT", defaultValue = "" + HostServer.DEFAULT_PORT,
            description = "UDP port on 127.0.0.1 (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    int port;

    @Option(names = "--count", paramLabel = "N", description = "Stop after answering N datagrams.")
    Long count;

    @Override
    int execute() throws Exception {
        Addresses.checkPort(commandLine(), "option '--port'", port, true);
        if (count != null && count < 1) {
            throw usageError("Invalid value for option '--count': " + count + " (must be at least 1)");
        }
        try (HostServer server = HostServer.bind(port, out());
             Interruption interruption = Interruption.onSignal()) {
            out().println("server listening on 127.0.0.1:" + server.port());
            out().flush();
            long served = server.serve(count == null ? Long.MAX_VALUE : count);
            if (Thread.currentThread().isInterrupted() || interruption.happened()) {
                Thread.interrupted();
                out().println("server: answered " + served + " datagram" + (served == 1 ? "" : "s"));
            }
        }
        return OK;
    }
}
