package dev.netstack.bench;

import dev.netstack.bridge.dns.DnsService;
import dev.netstack.dns.DnsResolver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Scenario 4: DNS queries from a guest through the gateway's DNS service forwarding to a local
 * dnsmasq (started here on a loopback port), against querying dnsmasq directly. One client thread,
 * one query in flight: queries/s = 1 / round trip.
 */
final class Dns {
    static final String NAME = "bench.test";

    private Dns() {
    }

    static Path dnsmasq() {
        for (String dir : new String[] {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin"}) {
            Path p = Path.of(dir, "dnsmasq");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    /** A dnsmasq on a free loopback port answering {@link #NAME}, no cache, stopped by {@link #close}. */
    static final class Server implements AutoCloseable {
        final InetSocketAddress address;
        private final Process process;

        private Server(InetSocketAddress address, Process process) {
            this.address = address;
            this.process = process;
        }

        /**
         * Starts one from {@code binary}.
         *
         * @throws IOException when it cannot start, or does not answer within about 5 s (the message says which)
         */
        static Server start(Path binary) throws IOException {
            int port;
            try (DatagramChannel probe = DatagramChannel.open().bind(KernelUdp.LOOPBACK)) {
                port = ((InetSocketAddress) probe.getLocalAddress()).getPort();
            }
            List<String> command = List.of(binary.toString(), "--keep-in-foreground", "--conf-file=/dev/null",
                    "--port=" + port, "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                    "--address=/" + NAME + "/10.1.2.3", "--pid-file=", "--cache-size=0");
            Process process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            Server server = new Server(new InetSocketAddress("127.0.0.1", port), process);
            if (!waitUntilAnswering(server.address)) {
                server.close();
                throw new IOException("dnsmasq did not answer on 127.0.0.1:" + port);
            }
            return server;
        }

        @Override
        public void close() {
            process.destroy();
            try {
                process.waitFor(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static void run(SideBySide h) throws Exception {
        Path binary = dnsmasq();
        if (binary == null) {
            h.skipped.add("4 dns: dnsmasq is not installed (apt-get install dnsmasq)");
            System.out.println("4. DNS: skipped, dnsmasq not installed");
            return;
        }
        Server dnsmasq;
        try {
            dnsmasq = Server.start(binary);
        } catch (IOException e) {
            h.skipped.add("4 dns: " + e.getMessage());
            return;
        }
        try (dnsmasq) {
            InetSocketAddress server = dnsmasq.address;
            System.out.println("4. DNS: A " + NAME + " via dnsmasq on " + server + ", one query in flight");
            Workload.Latency direct = direct(server, h.warm, h.measure);
            h.progress("host -> dnsmasq directly", direct);
            Workload.Latency relayed = throughGateway(server, h.warm, h.measure);
            h.progress("guest -> gateway DNS (10.0.2.3) -> dnsmasq", relayed);
            SideBySide.Row r = new SideBySide.Row();
            r.id = "4.dns";
            r.what = "DNS queries/s through the gateway (closed loop)";
            r.oursValue = relayed.roundsPerSecond;
            r.ours = String.format("%,.0f q/s (p50 %.0f us)", relayed.roundsPerSecond, relayed.p50 / 1e3);
            r.baselineName = "host -> dnsmasq directly";
            r.baselineValue = direct.roundsPerSecond;
            r.baseline = String.format("%,.0f q/s (p50 %.0f us)", direct.roundsPerSecond, direct.p50 / 1e3);
            r.ratioValue = relayed.roundsPerSecond / direct.roundsPerSecond;
            r.ratio = String.format("%.2fx", r.ratioValue);
            r.target = "";
            h.rows.add(r);
            System.out.println();
        }
    }

    private static boolean waitUntilAnswering(InetSocketAddress server) throws IOException {
        try (DatagramChannel c = DatagramChannel.open().bind(KernelUdp.LOOPBACK)) {
            c.connect(server);
            c.configureBlocking(false);
            ByteBuffer query = query(1);
            ByteBuffer in = ByteBuffer.allocate(512);
            for (int i = 0; i < 100; i++) {
                query.rewind();
                try {
                    c.write(query);
                } catch (IOException notYet) {
                    // port unreachable until dnsmasq binds
                }
                Measure.sleepSeconds(0.05);
                try {
                    if (c.read(in) > 0) {
                        return true;
                    }
                } catch (IOException notYet) {
                    // ditto
                }
            }
        }
        return false;
    }

    /** A standard query for NAME/A with recursion desired. */
    static ByteBuffer query(int id) {
        ByteBuffer b = ByteBuffer.allocateDirect(64);
        b.putShort((short) id).putShort((short) 0x0100).putShort((short) 1).putShort((short) 0).putShort((short) 0)
                .putShort((short) 0);
        for (String label : NAME.split("\\.")) {
            b.put((byte) label.length()).put(label.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        b.put((byte) 0).putShort((short) 1).putShort((short) 1);
        return b.flip();
    }

    static Workload.Latency direct(InetSocketAddress server, double warm, double measure) throws IOException {
        DatagramChannel c = DatagramChannel.open().bind(KernelUdp.LOOPBACK);
        c.connect(server);
        ByteBuffer query = query(0);
        ByteBuffer in = ByteBuffer.allocateDirect(512);
        int[] id = {0};
        Workload.Op round = () -> {
            id[0] = (id[0] + 1) & 0xffff;
            query.putShort(0, (short) id[0]).rewind();
            c.write(query);
            while (true) {
                in.clear();
                c.read(in);
                if ((in.getShort(0) & 0xffff) == id[0]) {
                    return true;
                }
            }
        };
        try {
            return Workload.pingPong(round, () -> {
                Measure.sleepSeconds(0.01);
                return true;
            }, List.of(), null, warm, measure);
        } finally {
            KernelUdp.closeAll(c);
        }
    }

    /** Queries through the gateway before its timed warm-up: 5,000 (1,000 in a quick run). */
    private static int warmUpQueries(double warm) {
        return warm < 1 ? 1_000 : 5_000;
    }

    static Workload.Latency throughGateway(InetSocketAddress server, double warm, double measure) throws Exception {
        // the gateway builds the service on its own event loop, as SlirpGateway.Builder.dns has it
        try (GatewayWorld world = new GatewayWorld(SideBySide.busyPoll(),
                DnsService.builder().upstream(server).hostResolver(false))) {
            DnsResolver resolver = DnsResolver.builder(world.guest).build();
            Duration timeout = Duration.ofSeconds(2);
            Workload.Op round = () -> !resolver.resolve(NAME, timeout).isEmpty();
            // The forwarding path (a Netty channel per query, Netty's DNS codec) runs at a few hundred
            // queries a second until compiled, so a warm-up of a second would measure the JIT:
            // warm by count first.
            for (int i = 0; i < warmUpQueries(warm); i++) {
                round.run();
            }
            return Workload.pingPong(round, () -> {
                Measure.sleepSeconds(0.01);
                return true;
            }, Measure.threads(world.receiveThread()), null, warm, measure);
        }
    }
}
