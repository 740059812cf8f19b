package dev.netstack.bench;

import dev.netstack.bridge.SlirpGateway;
import dev.netstack.socket.NetworkException;
import dev.netstack.socket.UdpSocket;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Scenario 3 (and the NAT-flow rows of 7): guest to a host UDP server on 127.0.0.1 through the
 * SLIRP gateway, against host to host directly.
 */
final class Gateway {
    private Gateway() {
    }

    static void run(SideBySide h) throws Exception {
        try {
            Class.forName("dev.netstack.bridge.SlirpGateway");
        } catch (ClassNotFoundException e) {
            h.skipped.add("3 gateway: SlirpGateway is not in this build");
            return;
        }
        System.out.println("3. the gateway: guest -> SLIRP relay -> host UDP server on 127.0.0.1, 64 B");
        System.out.println("   (CPU and allocation: the guest's threads and the gateway's event loop; not the host server)");
        // compile the relay path before it is timed, as the harness does for the guest-to-guest path
        blast(64, 1, 0.2, h.quick ? 1.0 : 2.0);
        // as the rows of scenario 1: the relay and its baseline take turns, and the ratio is the median
        // of the per-turn ratios, which cancels the machine's drift between them
        int rounds = h.quick ? 1 : SideBySide.ROUNDS;
        double window = h.quick ? h.measure : h.measure / 2;
        Workload.Rate[] relay = new Workload.Rate[rounds];
        Workload.Rate[] direct = new Workload.Rate[rounds];
        for (int round = 0; round < rounds; round++) {
            relay[round] = blast(64, 1, h.warm, window);
            h.progress("guest -> host through the gateway", relay[round]);
            direct[round] = hostBlast(64, h.warm, window);
            h.progress("host -> host directly", direct[round]);
        }
        h.rate("3.rate", "gateway relay datagrams/s, 64 B (guest busy-poll)", SideBySide.median(relay),
                "host -> host DatagramChannel", SideBySide.median(direct), ">= 0.8x");
        h.pairedRatio(relay, direct);
        Workload.Latency relayRtt = rtt(64, h.warm, h.measure);
        h.progress("guest <-> host echo through the gateway", relayRtt);
        Workload.Latency directRtt = KernelUdp.pingPong(64, false, h.warm, h.measure);
        h.progress("host <-> host echo directly", directRtt);
        h.latencyRow("3.rtt", "gateway relay RTT", relayRtt, "host <-> host DatagramChannel", directRtt, "");
        System.out.println();

        System.out.println("7. growth: NAT flows in the gateway (guest sockets round robin to one host server)");
        // once with the gateway's defaults, where one busy flow shares segmented sends and many flows
        // round robin cannot (one host socket, so one system call, per flow); once with single sends,
        // where the cost is the gateway's own per flow: its table, its sockets
        for (boolean segmentation : new boolean[] {true, false}) {
            h.growthGroup("7.flows-", segmentation ? "" : "-single",
                    h.quick ? new int[] {1, 10_000} : new int[] {1, 100, 1000, 10_000},
                    flows -> flows + " NAT flows" + (segmentation ? "" : ", single sends"),
                    (flows, warmUp, seconds) -> blast(64, flows, segmentation, warmUp, seconds));
            h.alternationRows("7.flows-", segmentation ? "" : "-single", h.quick ? new int[] {10_000} : new int[] {100, 1000, 10_000},
                    flows -> flows + " NAT flows against 1" + (segmentation ? "" : ", single sends"), "1 flow",
                    (flows, warmUp, seconds) -> alternateFlows(flows, segmentation, FLOW_BLOCK, warmUp, seconds));
        }
        // the same growth without the gateway: host programs sending from as many sockets, one
        // system call per datagram, to show what the kernel's own cost does over sockets
        h.growthGroup("7.kernel-flows-", "", h.quick ? new int[] {1, 10_000} : new int[] {1, 100, 1000, 10_000},
                sockets -> sockets + " host sockets, host -> host (kernel)",
                (sockets, warmUp, seconds) -> hostBlast(64, sockets, warmUp, seconds));
        System.out.println();
    }

    /** Datagrams per block when flows alternate: one lap of 10,000 flows. */
    static final int FLOW_BLOCK = 10_000;

    /** What the rows pass for the sources of the datagrams a host server receives: nobody looks. */
    static final Consumer<SocketAddress> NOBODY = from -> { };

    /** One datagram from {@code server} into {@code in}, its source handed to {@code seen}. */
    private static boolean receiveFrom(DatagramChannel server, ByteBuffer in, Consumer<SocketAddress> seen)
            throws IOException {
        in.clear();
        SocketAddress from = server.receive(in);
        if (from == null) {
            return false;
        }
        seen.accept(from);
        return true;
    }

    /** A host server that counts (or echoes) what it gets: blocking receive on 127.0.0.1. */
    static DatagramChannel hostServer() throws IOException {
        DatagramChannel server = DatagramChannel.open().bind(KernelUdp.LOOPBACK);
        server.setOption(StandardSocketOptions.SO_RCVBUF, 4 << 20);
        return server;
    }

    /** {@code flows} guest sockets send round robin through the gateway to one host server. */
    static Workload.Rate blast(int size, int flows, double warm, double measure) throws IOException {
        return blast(size, flows, true, warm, measure);
    }

    static Workload.Rate blast(int size, int flows, boolean segmentation, double warm, double measure) throws IOException {
        return blast(size, flows, segmentation, warm, measure, NOBODY);
    }

    /** Hands {@code seen} the source of every datagram the host server receives in the run. */
    static Workload.Rate blast(int size, int flows, boolean segmentation, double warm, double measure,
            Consumer<SocketAddress> seen) throws IOException {
        DatagramChannel server = hostServer();
        int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
        try (GatewayWorld world = new GatewayWorld(SideBySide.busyPoll(), flows + 16, segmentation)) {
            ByteBuffer payload = ByteBuffer.allocateDirect(size);
            int gateway = SlirpGateway.DEFAULT_GATEWAY.bits();
            UdpSocket[] sockets = openFlows(world, flows, server);
            int[] next = {0};
            Workload.Op send = () -> {
                payload.clear();
                UdpSocket s = sockets[next[0]];
                if (++next[0] == flows) {
                    next[0] = 0;
                }
                try {
                    s.sendTo(payload, gateway, port);
                    return true;
                } catch (NetworkException e) {
                    Thread.onSpinWait();
                    return false;
                }
            };
            ByteBuffer in = ByteBuffer.allocateDirect(2048);
            Workload.Op receive = () -> receiveFrom(server, in, seen);
            // accounted: the guest's sender and receive threads and the gateway's event loop; the host
            // server is left out (with many flows its DatagramChannel allocates a sender address per
            // datagram, which is the JDK's cost, not the relay's)
            return Workload.blast(new Workload.Op[] {send}, receive, world.netstackThreads(),
                    () -> KernelUdp.closeAll(server), warm, measure, 192, false);
        } finally {
            KernelUdp.closeAll(server);
        }
    }

    /**
     * {@code flows} guest sockets send through the gateway to one host server in alternate blocks of
     * datagrams: all from the first socket (one flow), then round robin from every socket (see
     * {@link Alternation}). Every flow is open before the run.
     */
    static Alternation.Result alternateFlows(int flows, boolean segmentation, int block, double warm, double measure)
            throws IOException {
        DatagramChannel server = hostServer();
        int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
        try (GatewayWorld world = new GatewayWorld(SideBySide.busyPoll(), flows + 16, segmentation)) {
            ByteBuffer payload = ByteBuffer.allocateDirect(64);
            int gateway = SlirpGateway.DEFAULT_GATEWAY.bits();
            UdpSocket[] sockets = openFlows(world, flows, server);
            ByteBuffer in = ByteBuffer.allocateDirect(2048);
            Alternation alternation = Alternation.forSeconds(block, warm + measure);
            long[] sent = {0};
            Workload.Op send = () -> {
                payload.clear();
                long n = sent[0];
                UdpSocket s = sockets[alternation.many(n) ? (int) (n % flows) : 0];
                try {
                    s.sendTo(payload, gateway, port);
                    sent[0] = n + 1;
                    return true;
                } catch (NetworkException e) {
                    Thread.onSpinWait();
                    return false;
                }
            };
            Workload.Op receive = () -> {
                in.clear();
                boolean received = server.receive(in) != null;
                alternation.passed(received);
                return received;
            };
            long from = System.nanoTime() + (long) (warm * 1e9);
            Workload.Rate rate = Workload.blast(new Workload.Op[] {send}, receive, world.netstackThreads(),
                    () -> KernelUdp.closeAll(server), warm, measure, 192, false);
            return Alternation.Result.of(alternation, rate, from);
        } finally {
            KernelUdp.closeAll(server);
        }
    }

    /**
     * Binds {@code flows} guest sockets and opens a flow from each to {@code server} before anything
     * is timed: the first datagram of a flow makes its host socket.
     */
    static UdpSocket[] openFlows(GatewayWorld world, int flows, DatagramChannel server) throws IOException {
        int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
        ByteBuffer payload = ByteBuffer.allocateDirect(64);
        ByteBuffer in = ByteBuffer.allocateDirect(2048);
        UdpSocket[] sockets = new UdpSocket[flows];
        for (int i = 0; i < flows; i++) {
            sockets[i] = world.guest.openUdpSocket().bind(20_000 + i);
            payload.clear();
            sockets[i].sendTo(payload, SlirpGateway.DEFAULT_GATEWAY.bits(), port);
            in.clear();
            server.receive(in);
        }
        return sockets;
    }

    /** Host to host: a DatagramChannel sender to the same kind of server. */
    static Workload.Rate hostBlast(int size, double warm, double measure) throws IOException {
        return hostBlast(size, 1, warm, measure);
    }

    /**
     * Host to host from {@code sockets} connected DatagramChannels taking turns, one send each, to one
     * server: what the kernel alone does as the gateway's flows grow, each datagram a system call on
     * a socket of its own.
     */
    static Workload.Rate hostBlast(int size, int sockets, double warm, double measure) throws IOException {
        return hostBlast(size, sockets, warm, measure, NOBODY);
    }

    /** Hands {@code seen} the source of every datagram the host server receives in the run. */
    static Workload.Rate hostBlast(int size, int sockets, double warm, double measure, Consumer<SocketAddress> seen)
            throws IOException {
        DatagramChannel server = hostServer();
        DatagramChannel[] clients = new DatagramChannel[sockets];
        try {
            for (int i = 0; i < sockets; i++) {
                clients[i] = DatagramChannel.open().bind(KernelUdp.LOOPBACK);
                clients[i].connect(server.getLocalAddress());
            }
        } catch (IOException e) {
            KernelUdp.closeAll(clients);
            KernelUdp.closeAll(server);
            throw e;
        }
        ByteBuffer payload = ByteBuffer.allocateDirect(size);
        ByteBuffer in = ByteBuffer.allocateDirect(2048);
        int[] next = {0};
        Workload.Op send = () -> {
            payload.clear();
            DatagramChannel client = clients[next[0]];
            if (++next[0] == sockets) {
                next[0] = 0;
            }
            return client.write(payload) > 0;
        };
        Workload.Op receive = () -> receiveFrom(server, in, seen);
        // as for the relay rows, the host server's thread is not accounted: here that leaves the sender
        return Workload.blast(new Workload.Op[] {send}, receive, List.of(), () -> {
            KernelUdp.closeAll(clients);
            KernelUdp.closeAll(server);
        }, warm, measure, 192, false);
    }

    /** Guest client, host echo server, through the gateway. */
    static Workload.Latency rtt(int size, double warm, double measure) throws IOException {
        DatagramChannel server = hostServer();
        int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
        try (GatewayWorld world = new GatewayWorld(SideBySide.busyPoll(), 64, true)) {
            UdpSocket client = world.guest.openUdpSocket().bind(20_000);
            ByteBuffer out = ByteBuffer.allocateDirect(size);
            ByteBuffer in = ByteBuffer.allocateDirect(2048);
            ByteBuffer echo = ByteBuffer.allocateDirect(2048);
            int gateway = SlirpGateway.DEFAULT_GATEWAY.bits();
            long wait = TimeUnit.SECONDS.toNanos(1);
            Workload.Op round = () -> {
                out.clear();
                client.sendTo(out, gateway, port);
                in.clear();
                return client.receiveFrom(in, wait) != UdpSocket.NOTHING;
            };
            Workload.Op serve = () -> {
                echo.clear();
                SocketAddress from = server.receive(echo);
                echo.flip();
                server.send(echo, from);
                return true;
            };
            return Workload.pingPong(round, serve, world.netstackThreads(),
                    () -> KernelUdp.closeAll(server), warm, measure);
        } finally {
            KernelUdp.closeAll(server);
        }
    }
}
