package dev.netstack.examples;

import dev.netstack.NetStack;
import dev.netstack.icmp.PingReply;
import dev.netstack.socket.NetworkException;
import dev.netstack.wire.Ipv4Address;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code netstack lan}: several guests and the gateway on one virtual switch, all pinging each other. */
@Command(name = "lan", mixinStandardHelpOptions = true,
        description = {"Ping between N guests and the gateway on one virtual switch.",
            "Each guest is an E1000 card and a stack (10.0.2.15, 10.0.2.16, ...); every guest pings every other guest "
                + "and the gateway 10.0.2.2. The round-trip times (ms) are printed as a matrix, row = pinger, column = target."})
final class LanCommand extends Subcommand {
    static final int MAX_HOSTS = 32;
    private static final Duration TIMEOUT = Duration.ofSeconds(2);

    @Option(names = "--hosts", paramLabel = "N", defaultValue = "3", description = "Guests on the LAN, 1-" + MAX_HOSTS + " (default: ${DEFAULT-VALUE}).")
    int hosts;

    @Option(names = "--size", paramLabel = "SIZE", defaultValue = "56", description = "Data bytes per echo request (default: ${DEFAULT-VALUE}).")
    int size;

    @Override
    int execute() throws Exception {
        if (hosts < 1 || hosts > MAX_HOSTS) {
            throw usageError("Invalid value for option '--hosts': " + hosts + " (must be 1-" + MAX_HOSTS + ")");
        }
        if (size < 0 || size > PingCommand.MAX_SIZE) {
            throw usageError("Invalid value for option '--size': " + size + " (must be 0-" + PingCommand.MAX_SIZE + ")");
        }
        try (Session session = Session.open(this, GuestWorld.builder().guests(hosts), null)) {
            GuestWorld world = session.world();
            List<Ipv4Address> targets = new ArrayList<>();
            for (Guest guest : world.guests()) {
                targets.add(guest.address());
            }
            targets.add(GuestWorld.GATEWAY);

            PrintWriter out = out();
            out.printf("lan: %d guest%s and the gateway %s on one switch%n", hosts, hosts == 1 ? "" : "s", GuestWorld.GATEWAY);
            for (Guest guest : world.guests()) {
                out.printf("  %-10s %s  %s%n", guest.address(), guest.macAddress(), guest.name());
            }
            out.println();
            String[][] cells = new String[hosts][targets.size()];
            int pairs = 0;
            List<String> failures = new ArrayList<>();
            for (int row = 0; row < hosts; row++) {
                NetStack pinger = world.guest(row).stack();
                for (int column = 0; column < targets.size(); column++) {
                    Ipv4Address target = targets.get(column);
                    if (target.equals(pinger.address())) {
                        cells[row][column] = "-";
                        continue;
                    }
                    pairs++;
                    try {
                        PingReply reply = pinger.ping(target, size, TIMEOUT);
                        cells[row][column] = String.format(Locale.ROOT, "%.3f", reply.rttMillis());
                    } catch (NetworkException e) {
                        cells[row][column] = "FAIL";
                        failures.add(pinger.address() + " -> " + target + ": " + e.getMessage());
                    }
                }
            }
            printMatrix(out, targets, world, cells);
            out.println();
            if (failures.isEmpty()) {
                out.printf("all %d pairs reachable%n", pairs);
                return OK;
            }
            out.printf("%d of %d pairs unreachable:%n", failures.size(), pairs);
            for (String failure : failures) {
                out.println("  " + failure);
            }
            return FAILED;
        }
    }

    private static void printMatrix(PrintWriter out, List<Ipv4Address> targets, GuestWorld world, String[][] cells) {
        int width = 10;
        for (Ipv4Address target : targets) {
            width = Math.max(width, target.toString().length());
        }
        StringBuilder header = new StringBuilder(String.format("%-" + (width + 2) + "s", "RTT ms"));
        for (Ipv4Address target : targets) {
            header.append(String.format("%" + (width + 2) + "s", target));
        }
        out.println(header);
        for (int row = 0; row < cells.length; row++) {
            StringBuilder line = new StringBuilder(String.format("%-" + (width + 2) + "s", world.guest(row).address()));
            for (String cell : cells[row]) {
                line.append(String.format("%" + (width + 2) + "s", cell));
            }
            out.println(line);
        }
    }
}
