package dev.netstack.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.NetStack;
import dev.netstack.bridge.GatewayMetrics.DropReason;
import dev.netstack.icmp.PingReply;
import dev.netstack.socket.HostUnreachableException;
import dev.netstack.socket.PortUnreachableException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.link.Frames;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A guest stack on a virtual cable to the gateway, talking to real sockets on 127.0.0.1 (the
 * only host addresses these tests ever use).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SlirpGatewayTest {
    static final Ipv4Address GATEWAY = Ipv4Address.parse("10.0.2.2");
    static final Ipv4Address DNS = Ipv4Address.parse("10.0.2.3");
    static final Duration WAIT = Duration.ofSeconds(5);

    GuestBehindGateway rig;
    NetStack guest;
    SlirpGateway gateway;
    HostServer host;

    void start(SlirpGateway.Builder builder) {
        rig = new GuestBehindGateway(builder);
        guest = rig.guest;
        gateway = rig.gateway;
    }

    void start() {
        start(SlirpGateway.builder());
    }

    @AfterEach
    void stop() throws Exception {
        if (host != null) {
            host.close();
        }
        if (rig != null) {
            rig.close();
        }
    }

    static ByteBuffer text(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
    }

    static String text(ByteBuffer b) {
        b.flip();
        return StandardCharsets.US_ASCII.decode(b).toString();
    }

    /** The xv6 nettests exchange: the guest sends from port 2000 and expects the host's answer. */
    static void xv6Ping(UdpSocket socket, int hostPort) throws InterruptedException {
        socket.sendTo(text("a message from xv6!"), GATEWAY, hostPort);
        ByteBuffer in = ByteBuffer.allocate(1500);
        InetSocketAddress from = socket.receive(in, WAIT);
        assertThat(from).as("reply to guest port %d", socket.localPort()).isNotNull();
        assertThat(Ipv4Address.of(from.getAddress())).isEqualTo(GATEWAY);
        assertThat(from.getPort()).isEqualTo(hostPort);
        assertThat(text(in)).isEqualTo("this is the host!");
    }

    @Test
    void theXv6PingReachesARealHostSocketAndComesBack() throws Exception {
        start();
        host = HostServer.answering("this is the host!");
        try (UdpSocket socket = guest.openUdpSocket().bind(2000)) {
            xv6Ping(socket, host.port());
        }
        HostServer.Received first = host.received.poll(5, TimeUnit.SECONDS);
        assertThat(first).isNotNull();
        assertThat(first.text()).isEqualTo("a message from xv6!");
        assertThat(first.from().getAddress()).isEqualTo(InetAddress.getLoopbackAddress());

        for (int i = 0; i < 100; i++) {   // a new socket each time, as nettests does
            try (UdpSocket socket = guest.openUdpSocket().bind(2000)) {
                xv6Ping(socket, host.port());
            }
        }
        assertThat(gateway.flowCount()).isEqualTo(1);   // one guest (address, port): one host socket
        assertThat(gateway.metrics().guestToHostPackets()).isEqualTo(101);
        assertThat(gateway.metrics().hostToGuestPackets()).isEqualTo(101);
    }

    @Test
    void tenConcurrentPingers() throws Exception {
        start();
        host = HostServer.answering("this is the host!");
        // resolve the gateway's MAC first: the guest holds only 3 datagrams per unresolved next hop
        guest.ping(GATEWAY, 8, WAIT);
        ExecutorService pool = Executors.newFixedThreadPool(10);
        try {
            List<Future<?>> results = new ArrayList<>();
            for (int port = 2001; port <= 2010; port++) {
                int guestPort = port;
                results.add(pool.submit(() -> {
                    try (UdpSocket socket = guest.openUdpSocket().bind(guestPort)) {
                        for (int i = 0; i < 20; i++) {
                            xv6Ping(socket, host.port());
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> result : results) {
                result.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(gateway.flowCount()).isEqualTo(10);
        assertThat(gateway.metrics().hostToGuestPackets()).isEqualTo(200);
    }

    @Test
    void pingsTheGatewayAndTheDnsAddress() throws Exception {
        start();
        PingReply reply = guest.ping(GATEWAY, 56, WAIT);
        assertThat(reply.from()).isEqualTo(GATEWAY);
        assertThat(reply.bytes()).isEqualTo(64);
        assertThat(guest.ping(DNS, 56, WAIT).from()).isEqualTo(DNS);
        assertThat(guest.ping(GATEWAY, 1472, WAIT).bytes()).isEqualTo(1480);   // a full 1500-byte packet
        assertThat(guest.ping(GATEWAY, 0, WAIT).bytes()).isEqualTo(8);
        assertThat(guest.ping(GATEWAY, 4000, WAIT).bytes()).isEqualTo(4008);   // fragmented both ways
        assertThat(gateway.metrics().echoReplies()).isEqualTo(5);
        assertThat(gateway.neighbour(Ipv4Address.parse("10.0.2.15"))).isEqualTo(guest.macAddress());
    }

    @Test
    void largeDatagramsAreReassembledAndRepliesFragmented() throws Exception {
        start();
        host = HostServer.echo();
        byte[] data = new byte[6000];
        new Random(7).nextBytes(data);
        try (UdpSocket socket = guest.openUdpSocket(16, 1 << 20).bind(2000)) {
            socket.sendTo(ByteBuffer.wrap(data), GATEWAY, host.port());
            ByteBuffer in = ByteBuffer.allocate(8000);
            InetSocketAddress from = socket.receive(in, WAIT);
            assertThat(from).isNotNull();
            in.flip();
            byte[] got = new byte[in.remaining()];
            in.get(got);
            assertThat(got).isEqualTo(data);
        }
        assertThat(host.received.poll(5, TimeUnit.SECONDS).length()).isEqualTo(6000);
    }

    @Test
    void aClosedHostPortGivesPortUnreachable() throws Exception {
        start();
        int closedPort;
        try (DatagramChannel probe = DatagramChannel.open()) {
            probe.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            closedPort = ((InetSocketAddress) probe.getLocalAddress()).getPort();
        }
        try (UdpSocket socket = guest.openUdpSocket().bind(2000)) {
            socket.sendTo(text("anyone?"), GATEWAY, closedPort);
            ByteBuffer in = ByteBuffer.allocate(100);
            assertThatThrownBy(() -> socket.receive(in, WAIT))
                    .isInstanceOf(PortUnreachableException.class)
                    .hasMessageContaining("10.0.2.2:" + closedPort);
        }
        assertThat(gateway.metrics().drops(DropReason.PORT_UNREACHABLE)).isEqualTo(1);
    }

    @Test
    void udpToAnotherPortOfTheDnsAddressIsPortUnreachable() throws Exception {
        start();
        try (UdpSocket socket = guest.openUdpSocket().bind(2000)) {
            socket.sendTo(text("not dns"), DNS, 54);
            assertThatThrownBy(() -> socket.receive(ByteBuffer.allocate(10), WAIT))
                    .isInstanceOf(PortUnreachableException.class);
        }
    }

    @Test
    void ttlOneGetsTimeExceeded() throws Exception {
        start();
        host = HostServer.answering("this is the host!");
        try (UdpSocket socket = guest.openUdpSocket().bind(2000).ttl(1)) {
            socket.sendTo(text("short-lived"), GATEWAY, host.port());
            assertThatThrownBy(() -> socket.receive(ByteBuffer.allocate(100), WAIT))
                    .isInstanceOf(HostUnreachableException.class);
        }
        assertThat(gateway.metrics().drops(DropReason.TTL_EXCEEDED)).isEqualTo(1);
        assertThat(host.received.poll(200, TimeUnit.MILLISECONDS)).isNull();
    }

    @Test
    void portForwardReachesAnEchoServiceOnTheGuest() throws Exception {
        start(SlirpGateway.builder().portForward("udp::0-:7000"));
        InetSocketAddress forwarded = gateway.portForwardAddresses().get(0);
        assertThat(forwarded.getAddress()).isEqualTo(InetAddress.getLoopbackAddress());
        List<InetSocketAddress> seenByGuest = new ArrayList<>();
        UdpSocket echo = guest.openUdpSocket().bind(7000);
        try {
            Thread echoThread = new Thread(() -> {
                ByteBuffer in = ByteBuffer.allocate(2000);
                try {
                    while (true) {
                        in.clear();
                        InetSocketAddress from = echo.receive(in);
                        synchronized (seenByGuest) {
                            seenByGuest.add(from);
                        }
                        in.flip();
                        echo.sendTo(in, Ipv4Address.of(from.getAddress()), from.getPort());
                    }
                } catch (Exception e) {
                    // closed: done
                }
            }, "guest-echo");
            echoThread.start();

            try (DatagramChannel client = DatagramChannel.open(); DatagramChannel other = DatagramChannel.open()) {
                client.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                other.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                for (int i = 0; i < 5; i++) {
                    assertThat(roundTrip(client, forwarded, "hello guest " + i)).isEqualTo("hello guest " + i);
                    assertThat(roundTrip(other, forwarded, "other " + i)).isEqualTo("other " + i);
                }
            }
            echo.close();
            echoThread.join(5000);
        } finally {
            echo.close();
        }
        synchronized (seenByGuest) {
            assertThat(seenByGuest).hasSize(10);
            assertThat(seenByGuest).allSatisfy(from -> assertThat(Ipv4Address.of(from.getAddress())).isEqualTo(GATEWAY));
            assertThat(seenByGuest.stream().map(InetSocketAddress::getPort).distinct()).hasSize(2);
        }
    }

    static String roundTrip(DatagramChannel client, InetSocketAddress to, String message) throws Exception {
        client.send(text(message), to);
        client.configureBlocking(false);
        ByteBuffer in = ByteBuffer.allocate(2000);
        long deadline = System.nanoTime() + WAIT.toNanos();
        InetSocketAddress from;
        while ((from = (InetSocketAddress) client.receive(in)) == null) {
            assertThat(System.nanoTime()).as("reply to %s", message).isLessThan(deadline);
            Thread.sleep(1);
        }
        assertThat(from).isEqualTo(to);
        return text(in);
    }

    @Test
    void flowsExpireAfterTheirIdleTimeoutAndDnsFlowsSooner() throws Exception {
        AtomicLong now = new AtomicLong(1_000_000_000L);
        start(SlirpGateway.builder().clock(now::get));
        host = HostServer.answering("this is the host!");
        try (UdpSocket socket = guest.openUdpSocket().bind(2000); UdpSocket dnsClient = guest.openUdpSocket().bind(2001)) {
            xv6Ping(socket, host.port());
            // a flow to port 53 on the host: nothing need answer, it only has to exist
            dnsClient.sendTo(text("not really dns"), GATEWAY, 53);
            Ipv4Address guestAddress = Ipv4Address.parse("10.0.2.15");
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!gateway.hasFlow(guestAddress, 2001) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(gateway.flowCount()).isEqualTo(2);

            now.addAndGet(Duration.ofSeconds(9).toNanos());
            assertThat(gateway.expireIdleFlows()).isZero();
            now.addAndGet(Duration.ofSeconds(1).toNanos());
            assertThat(gateway.expireIdleFlows()).isEqualTo(1);
            assertThat(gateway.hasFlow(guestAddress, 2001)).isFalse();
            assertThat(gateway.hasFlow(guestAddress, 2000)).isTrue();

            now.addAndGet(Duration.ofSeconds(229).toNanos());
            assertThat(gateway.expireIdleFlows()).isZero();
            now.addAndGet(Duration.ofSeconds(1).toNanos());
            assertThat(gateway.expireIdleFlows()).isEqualTo(1);
            assertThat(gateway.flowCount()).isZero();
            assertThat(gateway.metrics().flowsExpired()).isEqualTo(2);

            xv6Ping(socket, host.port());   // a new flow opens on demand
            assertThat(gateway.flowCount()).isEqualTo(1);
        }
    }

    @Test
    void theFlowTableIsBoundedAndEvictsTheLeastRecentlyUsed() throws Exception {
        start(SlirpGateway.builder().maxFlows(3));
        host = HostServer.answering("this is the host!");
        Ipv4Address guestAddress = Ipv4Address.parse("10.0.2.15");
        List<UdpSocket> sockets = new ArrayList<>();
        try {
            for (int port = 3001; port <= 3004; port++) {
                sockets.add(guest.openUdpSocket().bind(port));
            }
            xv6Ping(sockets.get(0), host.port());
            xv6Ping(sockets.get(1), host.port());
            xv6Ping(sockets.get(2), host.port());
            xv6Ping(sockets.get(0), host.port());   // 3001 used again: 3002 is now the oldest
            xv6Ping(sockets.get(3), host.port());
            assertThat(gateway.flowCount()).isEqualTo(3);
            assertThat(gateway.hasFlow(guestAddress, 3002)).isFalse();
            assertThat(gateway.hasFlow(guestAddress, 3001)).isTrue();
            assertThat(gateway.hasFlow(guestAddress, 3003)).isTrue();
            assertThat(gateway.hasFlow(guestAddress, 3004)).isTrue();
            assertThat(gateway.metrics().flowsEvicted()).isEqualTo(1);
            xv6Ping(sockets.get(1), host.port());   // the evicted flow comes back
        } finally {
            sockets.forEach(UdpSocket::close);
        }
    }

    @Test
    void metricsBindToARegistry() throws Exception {
        start();
        host = HostServer.answering("this is the host!");
        try (UdpSocket socket = guest.openUdpSocket().bind(2000)) {
            xv6Ping(socket, host.port());
        }
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        gateway.metrics().bindTo(registry);
        assertThat(registry.get("netstack.gateway.packets").tag("direction", "guest_to_host").functionCounter().count())
                .isEqualTo(1.0);
        assertThat(registry.get("netstack.gateway.bytes").tag("direction", "host_to_guest").functionCounter().count())
                .isEqualTo("this is the host!".length());
        assertThat(registry.get("netstack.gateway.flows").gauge().value()).isEqualTo(1.0);
        assertThat(registry.get("netstack.gateway.drops").tag("reason", "arp_timeout").functionCounter().count()).isZero();
    }

    @Test
    void closeStopsItsThreadsAndSockets() throws Exception {
        start(SlirpGateway.builder().name("closing").portForward("udp::0-:7000"));
        host = HostServer.answering("this is the host!");
        try (UdpSocket socket = guest.openUdpSocket().bind(2000)) {
            xv6Ping(socket, host.port());
        }
        InetSocketAddress forwarded = gateway.portForwardAddresses().get(0);
        gateway.close();
        // Netty completes its termination future from inside the event-loop thread, just before that
        // thread returns; give it a moment to finish its last instructions, then insist it is gone
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (gatewayThreadsAlive() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("slirp-closing") && t.isAlive());
        try (DatagramChannel rebind = DatagramChannel.open()) {
            rebind.bind(forwarded);   // the forward's port is free again
        }
        assertThat(gateway.flowCount()).isZero();
    }

    @Test
    void anErrorOutOfTheGuestsPortDoesNotStopTheGateway() throws Exception {
        MacAddress guestMac = MacAddress.parse("52:54:00:12:34:56");
        Ipv4Address guestIp = Ipv4Address.parse("10.0.2.15");
        AtomicBoolean failed = new AtomicBoolean();
        BlockingQueue<Integer> replies = new LinkedBlockingQueue<>();
        try (SlirpGateway raw = SlirpGateway.builder().name("erring").dnsEnabled(false).build()) {
            raw.attach(frame -> {
                byte[] f = new byte[frame.remaining()];
                frame.get(frame.position(), f);
                if (!Frames.isIcmp(f, IcmpHeader.TYPE_ECHO_REPLY, 0)) {
                    return;
                }
                if (!failed.getAndSet(true)) {
                    throw new AssertionError("the guest's port fails (an Error, not an exception) on the first reply");
                }
                replies.add(ByteBuffer.wrap(f).getShort(Frames.transportOffset(f) + 6) & 0xffff);
            });
            for (int sequence = 1; sequence <= 2; sequence++) {
                raw.receiveFrame(ByteBuffer.wrap(Frames.padded(Frames.ethernet(raw.gatewayMac().bits(), guestMac.bits(),
                        EthernetHeader.TYPE_IPV4, Frames.ipv4(guestIp.bits(), raw.gatewayAddress().bits(), Ipv4Header.PROTOCOL_ICMP,
                                Frames.icmp(IcmpHeader.TYPE_ECHO_REQUEST, 0, 7, sequence, new byte[16]))))));
            }
            // the Error stays with the port (it would end the task draining the guest's frames)
            assertThat(replies.poll(5, TimeUnit.SECONDS)).as("the reply to the second ping").isEqualTo(2);
            assertThat(failed).isTrue();
            assertThat(raw.metrics().drops(DropReason.NO_PEER)).isEqualTo(1);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (raw.pool().available() != raw.pool().capacity() && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(raw.pool().available()).as("gateway buffers").isEqualTo(raw.pool().capacity());
        }
    }

    @Test
    void closedAfterTheCallersLoopStoppedItStillFreesWhatItHeld() throws Exception {
        EventLoopGroup group = NettyTransport.newEventLoopGroup(1, "stopping-first");
        SlirpGateway raw = SlirpGateway.builder().name("outlived").dnsEnabled(false).eventLoopGroup(group).build();
        try {
            raw.attach(frame -> { });
            int capacity = raw.pool().capacity();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
            // a frame from the guest after the loop stopped (the application stopped it first) is
            // copied and queued for a loop that will never take it
            raw.receiveFrame(ByteBuffer.wrap(Frames.udpFrame(raw.gatewayMac().bits(), MacAddress.parse("52:54:00:12:34:56").bits(),
                    Ipv4Address.parse("10.0.2.15"), GATEWAY, 2000, 9, new byte[] {1, 2, 3})));
            assertThat(raw.pool().available()).isEqualTo(capacity - 1);

            raw.close();
            assertThat(raw.pool().available()).as("gateway buffers after close").isEqualTo(capacity);
        } finally {
            raw.close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    private static boolean gatewayThreadsAlive() {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("slirp-closing") && t.isAlive());
    }

    /** A UDP server on 127.0.0.1 (ephemeral port) in a thread of its own. */
    static final class HostServer implements AutoCloseable {
        record Received(InetSocketAddress from, String text, int length) {
        }

        final DatagramChannel channel;
        final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
        private final Thread thread;

        private HostServer(String answer) throws Exception {
            channel = DatagramChannel.open();
            channel.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            thread = new Thread(() -> serve(answer), "host-udp-server");
            thread.setDaemon(true);
            thread.start();
        }

        /** Answers every datagram with {@code answer}. */
        static HostServer answering(String answer) throws Exception {
            return new HostServer(answer);
        }

        /** Sends every datagram back as it came. */
        static HostServer echo() throws Exception {
            return new HostServer(null);
        }

        int port() throws Exception {
            return ((InetSocketAddress) channel.getLocalAddress()).getPort();
        }

        private void serve(String answer) {
            ByteBuffer in = ByteBuffer.allocate(65536);
            try {
                while (true) {
                    in.clear();
                    InetSocketAddress from = (InetSocketAddress) channel.receive(in);
                    in.flip();
                    int length = in.remaining();
                    String text = StandardCharsets.ISO_8859_1.decode(in.duplicate()).toString();
                    received.add(new Received(from, text, length));
                    channel.send(answer == null ? in : text(answer), from);
                }
            } catch (Exception e) {
                // closed: done
            }
        }

        @Override
        public void close() throws java.io.IOException {
            channel.close();
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
