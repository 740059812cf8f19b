package dev.netstack.examples;

import dev.netstack.NetStack;
import dev.netstack.dns.DnsAnswer;
import dev.netstack.dns.DnsProtocolException;
import dev.netstack.dns.DnsResolver;
import dev.netstack.dns.DnsResponse;
import dev.netstack.socket.NetworkException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.Ipv4Address;
import io.netty.handler.codec.dns.DnsRecordType;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code netstack nettests}: the xv6 network lab's {@code nettests}, run by a guest against a real
 * UDP server on the host's 127.0.0.1, reached through the gateway at 10.0.2.2, and the gateway's
 * DNS server at 10.0.2.3.
 */
@Command(name = "nettests", mixinStandardHelpOptions = true,
        description = {"Run the xv6 network lab's nettests against a UDP server on this host's 127.0.0.1.",
            "The guest pings the server through the gateway 10.0.2.2 once, 100 times in a row and from 10 threads at once, "
                + "then asks the gateway's DNS server 10.0.2.3 for an A record and checks the response strictly."})
final class NettestsCommand extends Subcommand {
    static final String MESSAGE = "a message from xv6!";
    static final int GUEST_PORT = 2000;
    static final int PINGERS = 10;
    static final int SINGLE_PINGS = 100;
    private static final Duration REPLY_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration DNS_TIMEOUT = Duration.ofSeconds(5);

    @Option(names = "--pcap", paramLabel = "FILE", description = "Record the guest card's frames in FILE (libpcap format).")
    Path pcap;

    @Option(names = "--server-port", paramLabel = "PORT",
            description = "UDP port of the host server on 127.0.0.1 (default: ${DEFAULT-VALUE} if free, else any free port).",
            defaultValue = "" + HostServer.DEFAULT_PORT)
    int serverPort;

    @Option(names = "--dns-name", paramLabel = "NAME", defaultValue = "localhost",
            description = "The name the DNS test asks for (default: ${DEFAULT-VALUE}).")
    String dnsName;

    /** A test that did not pass: what it expected and what came. */
    static final class TestFailure extends Exception {
        private static final long serialVersionUID = 1L;

        TestFailure(String message) {
            super(message);
        }
    }

    @Override
    int execute() throws Exception {
        Addresses.checkPort(commandLine(), "option '--server-port'", serverPort, true);
        if (dnsName.isBlank()) {
            throw usageError("Invalid value for option '--dns-name': the name is empty");
        }
        PrintWriter out = out();
        GuestWorld.Builder builder = GuestWorld.builder().hostServer(serverPort, null);
        try (Session session = Session.open(this, builder, pcap)) {
            GuestWorld world = session.world();
            NetStack guest = world.guest().stack();
            int port = world.hostServer().port();
            out.println("nettests running on port " + port);
            out.flush();
            try {
                out.print("testing ping: ");
                out.flush();
                ping(guest, GUEST_PORT, port, 1);
                out.println("OK");

                out.print("testing single-process pings: ");
                out.flush();
                for (int i = 0; i < SINGLE_PINGS; i++) {
                    ping(guest, GUEST_PORT, port, 1);
                }
                out.println("OK");

                out.print("testing multi-process pings: ");
                out.flush();
                multiPing(guest, port);
                out.println("OK");

                out.println("testing DNS");
                out.flush();
                dns(guest, out);
                out.println("DNS OK");

                out.println("all tests passed.");
                return OK;
            } catch (TestFailure e) {
                out.println("FAILED");
                out.println(e.getMessage());
                return FAILED;
            } finally {
                out.flush();
            }
        }
    }

    /** xv6's {@code ping()}: send {@link #MESSAGE} from {@code sourcePort}, expect the host's reply. */
    static void ping(NetStack stack, int sourcePort, int serverPort, int attempts) throws TestFailure, InterruptedException {
        Ipv4Address server = GuestWorld.GATEWAY;
        try (UdpSocket socket = stack.openUdpSocket().bind(sourcePort)) {
            for (int i = 0; i < attempts; i++) {
                socket.sendTo(ByteBuffer.wrap(MESSAGE.getBytes(StandardCharsets.US_ASCII)), server, serverPort);
            }
            ByteBuffer in = ByteBuffer.allocate(2048);
            long sender = socket.receiveFrom(in, REPLY_TIMEOUT.toNanos());
            if (sender == UdpSocket.NOTHING) {
                throw new TestFailure("ping from port " + sourcePort + ": expected \"" + HostServer.REPLY + "\" from "
                        + server + ":" + serverPort + ", got nothing within " + REPLY_TIMEOUT.toSeconds() + " s");
            }
            String reply = new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII);
            String from = UdpSocket.senderAddress(sender) + ":" + UdpSocket.senderPort(sender);
            if (!reply.equals(HostServer.REPLY) || !from.equals(server + ":" + serverPort)) {
                throw new TestFailure("ping from port " + sourcePort + ": expected \"" + HostServer.REPLY + "\" from "
                        + server + ":" + serverPort + ", got \"" + reply + "\" from " + from);
            }
        } catch (NetworkException e) {
            throw new TestFailure("ping from port " + sourcePort + ": expected \"" + HostServer.REPLY + "\", got an error: "
                    + e.getMessage());
        }
    }

    /** Ten pingers at once, on ports 2001-2010, as xv6 forks ten processes. */
    private static void multiPing(NetStack stack, int serverPort) throws TestFailure, InterruptedException {
        ExecutorService pingers = Executors.newFixedThreadPool(PINGERS);
        try {
            List<Future<Void>> results = new ArrayList<>();
            for (int i = 0; i < PINGERS; i++) {
                int sourcePort = GUEST_PORT + i + 1;
                results.add(pingers.submit(() -> {
                    ping(stack, sourcePort, serverPort, 1);
                    return null;
                }));
            }
            List<String> failures = new ArrayList<>();
            for (Future<Void> result : results) {
                try {
                    result.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    failures.add(e.getCause().getMessage());
                }
            }
            if (!failures.isEmpty()) {
                throw new TestFailure(failures.size() + " of " + PINGERS + " pingers failed:\n" + String.join("\n", failures));
            }
        } finally {
            pingers.shutdownNow();
        }
    }

    /** An A query to 10.0.2.3 checked as xv6's {@code dns_rep} does. */
    private void dns(NetStack stack, PrintWriter out) throws TestFailure, InterruptedException {
        DnsResolver resolver = DnsResolver.builder(stack).server(GuestWorld.DNS).strict(true).build();
        DnsResponse response;
        try {
            response = resolver.query(dnsName, DnsRecordType.A, GuestWorld.DNS, DNS_TIMEOUT);
        } catch (DnsProtocolException e) {
            throw new TestFailure(e.getMessage());
        } catch (NetworkException e) {
            throw new TestFailure("DNS: expected a response from " + GuestWorld.DNS + "#53, got an error: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw usageError("Invalid value for option '--dns-name': " + e.getMessage());
        }
        boolean found = false;
        for (DnsAnswer answer : response.answers()) {
            if (answer.address() != null && answer.dnsClass() == DnsAnswer.CLASS_IN) {
                out.println("DNS arecord for " + answer.name() + " is " + answer.address());
                found = true;
            }
        }
        if (!found) {
            throw new TestFailure("DNS: expected an A record for " + dnsName + ", got " + response.answers().size()
                    + " answer(s) and none of type A (status " + response.rcodeName() + ")");
        }
    }
}
