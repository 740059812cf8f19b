package dev.netstack.examples;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** Options every subcommand has (a picocli mixin). */
public final class CommonOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(names = "--metrics", description = "Print a table of the Micrometer meters (stack, card, gateway) at exit.")
    boolean metrics;

    Integer metricsPort;

    @Option(names = {"-v", "--verbose"}, description = "Print one line per frame the guest sends or receives, tcpdump style.")
    boolean verbose;

    final List<String[]> extraHosts = new ArrayList<>();

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve the meters in Prometheus text format on http://127.0.0.1:PORT/ while running (0: any free port).")
    void metricsPort(int port) {
        if (port < 0 || port > 65535) {
            throw new ParameterException(mixee.commandLine(),
                    "Invalid value for option '--metrics-port': " + port + " is not a port (0-65535)");
        }
        this.metricsPort = port;
    }

    @Option(names = "--add-host", paramLabel = "NAME=ADDRESS",
            description = "A static record for the gateway's DNS server (10.0.2.3), e.g. --add-host files.lan=10.0.2.2; repeatable.")
    void addHost(String mapping) {
        int eq = mapping.indexOf('=');
        if (eq <= 0 || eq == mapping.length() - 1) {
            throw new ParameterException(mixee.commandLine(),
                    "Invalid value for option '--add-host': '" + mapping + "' is not NAME=ADDRESS");
        }
        String address = mapping.substring(eq + 1).trim();
        Addresses.parseIpv4(mixee.commandLine(), "--add-host", address);
        extraHosts.add(new String[] {mapping.substring(0, eq).trim(), address});
    }
}
