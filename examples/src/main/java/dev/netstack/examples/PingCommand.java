package dev.netstack.examples;

import dev.netstack.NetStack;
import dev.netstack.dns.DnsException;
import dev.netstack.dns.DnsResolver;
import dev.netstack.icmp.PingReply;
import dev.netstack.socket.HostUnreachableException;
import dev.netstack.socket.NetworkException;
import dev.netstack.socket.PingTimeoutException;
import dev.netstack.wire.Ipv4Address;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.MathContext;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code netstack ping}: ICMP echo from the guest, printed as iputils {@code ping} prints it. */
@Command(name = "ping", mixinStandardHelpOptions = true,
        description = {"Send ICMP echo requests from the guest 10.0.2.15, printed as ping prints them.",
            "The gateway 10.0.2.2 and the DNS server 10.0.2.3 answer; a name is looked up through 10.0.2.3."})
final class PingCommand extends Subcommand {
    static final int MAX_SIZE = 65507;

    @Option(names = "-c", paramLabel = "COUNT", description = "Stop after COUNT replies or timeouts (default: until interrupted).")
    Integer count;

    @Option(names = "-s", paramLabel = "SIZE", defaultValue = "56", description = "Data bytes per request (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "-i", paramLabel = "INTERVAL", defaultValue = "1", description = "Seconds between requests (default: ${DEFAULT-VALUE}).")
    double interval;

    @Option(names = "-W", paramLabel = "TIMEOUT", defaultValue = "1", description = "Seconds to wait for each reply (default: ${DEFAULT-VALUE}).")
    double timeout;

    @Parameters(paramLabel = "HOST", description = "An IPv4 address or a name.")
    String host;

    @Override
    int execute() throws Exception {
        if (count != null && count < 1) {
            throw usageError("Invalid value for option '-c': " + count + " (must be at least 1)");
        }
        if (size < 0 || size > MAX_SIZE) {
            throw usageError("Invalid value for option '-s': " + size + " (must be 0-" + MAX_SIZE + ")");
        }
        if (!(interval >= 0) || interval > 3600) {
            throw usageError("Invalid value for option '-i': " + interval + " (must be 0-3600 seconds)");
        }
        if (!(timeout > 0) || timeout > 3600) {
            throw usageError("Invalid value for option '-W': " + timeout + " (must be more than 0, at most 3600 seconds)");
        }
        boolean literal = Addresses.isIpv4Literal(host);
        if (!literal && (host.matches("[0-9.]+") || !host.matches("[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?"))) {
            throw usageError(host + ": Name or service not known");
        }
        try (Session session = Session.open(this, GuestWorld.builder(), null)) {
            NetStack stack = session.world().guest().stack();
            Ipv4Address address = literal ? Ipv4Address.parse(host) : lookUp(stack, host);
            Interruption interruption = Interruption.onSignal();   // Ctrl-C ends the run with the summary
            try {
                return ping(stack, address, out());
            } finally {
                interruption.close();
            }
        }
    }

    private Ipv4Address lookUp(NetStack stack, String name) throws InterruptedException {
        try {
            List<Ipv4Address> addresses = DnsResolver.builder(stack).build().resolve(name, Duration.ofSeconds(5));
            if (!addresses.isEmpty()) {
                return addresses.get(0);
            }
        } catch (DnsException | IllegalArgumentException e) {
            // as iputils: an unknown name is bad input
        }
        throw usageError(name + ": Name or service not known");
    }

    private int ping(NetStack stack, Ipv4Address address, PrintWriter out) {
        out.printf("PING %s (%s) %d(%d) bytes of data.%n", host, address, size, size + 28);
        out.flush();
        long intervalNanos = (long) (interval * 1e9);
        Duration wait = Duration.ofNanos((long) (timeout * 1e9));
        int transmitted = 0;
        int received = 0;
        int errors = 0;
        double sum = 0;
        double sumSquares = 0;
        double min = Double.MAX_VALUE;
        double max = 0;
        long start = System.nanoTime();
        try {
            for (int sequence = 1; count == null || sequence <= count; sequence++) {
                long sentAt = System.nanoTime();
                transmitted++;
                try {
                    PingReply reply = stack.ping(address, size, wait);
                    received++;
                    double ms = reply.rttMillis();
                    sum += ms;
                    sumSquares += ms * ms;
                    min = Math.min(min, ms);
                    max = Math.max(max, ms);
                    out.printf(Locale.ROOT, "%d bytes from %s: icmp_seq=%d ttl=%d time=%.3f ms%n",
                            reply.bytes(), reply.from(), sequence, reply.ttl(), ms);
                } catch (PingTimeoutException e) {
                    // iputils prints nothing for a request that got no answer
                } catch (HostUnreachableException e) {
                    errors++;
                    out.printf("From %s icmp_seq=%d Destination Host Unreachable%n", stack.address(), sequence);
                }
                out.flush();
                if (count != null && sequence == count) {
                    break;
                }
                long next = sentAt + intervalNanos - System.nanoTime();
                if (next > 0) {
                    Thread.sleep(next / 1_000_000, (int) (next % 1_000_000));
                }
            }
        } catch (InterruptedException e) {
            // Ctrl-C: the summary below, as ping prints it
            Thread.interrupted();
        } catch (NetworkException e) {
            err().println("ping: " + e.getMessage());
        }
        long elapsedMs = (System.nanoTime() - start) / 1_000_000;
        out.println();
        out.printf("--- %s ping statistics ---%n", host);
        out.printf("%d packets transmitted, %d received, %s%s%% packet loss, time %dms%n", transmitted, received,
                errors > 0 ? "+" + errors + " errors, " : "", loss(transmitted, received), elapsedMs);
        if (received > 0) {
            double avg = sum / received;
            double mdev = Math.sqrt(Math.max(0, sumSquares / received - avg * avg));
            out.printf(Locale.ROOT, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms%n", min, avg, max, mdev);
        }
        out.flush();
        return received > 0 ? OK : FAILED;
    }

    /** Loss as iputils prints it ({@code %g}): 0, 100, 33.3333. */
    static String loss(int transmitted, int received) {
        if (transmitted == 0) {
            return "0";
        }
        BigDecimal percent = BigDecimal.valueOf(100.0 * (transmitted - received) / transmitted).round(new MathContext(6));
        return percent.stripTrailingZeros().toPlainString();
    }
}
