package dev.netstack.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.bridge.dns.DnsService;
import dev.netstack.buffer.MbufPool;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** DNS at 10.0.2.3:53, answered by the gateway's {@link DnsService}; no query leaves the machine. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SlirpGatewayDnsTest {
    static final Ipv4Address DNS = Ipv4Address.parse("10.0.2.3");

    MbufPool guestPool;
    NetStack guest;
    SlirpGateway gateway;
    DnsService dns;

    void start(SlirpGateway.Builder builder) {
        guestPool = NetStack.newPool(256, 0);
        VirtualDevice device = new VirtualDevice("guest", MacAddress.parse("52:54:00:12:34:56"), guestPool);
        gateway = builder.build();
        VirtualCable.connect(device, gateway);
        guest = NetStack.builder().device(device).address("10.0.2.15/24").gateway("10.0.2.2").dnsServer("10.0.2.3").build();
    }

    @AfterEach
    void stop() {
        if (guest != null) {
            guest.close();
        }
        if (gateway != null) {
            gateway.close();
            PoolChecks.assertWhole(gateway.pool());
        }
        if (dns != null) {
            dns.close();
        }
        if (guestPool != null) {
            PoolChecks.assertWhole(guestPool);
        }
    }

    /** A standard query, recursion desired, for {@code name} type A class IN (RFC 1035 §4.1). */
    static ByteBuffer query(int id, String name) {
        ByteBuffer q = ByteBuffer.allocate(512);
        q.putShort((short) id).putShort((short) 0x0100).putShort((short) 1).putShort((short) 0).putShort((short) 0).putShort((short) 0);
        for (String label : name.split("\\.")) {
            q.put((byte) label.length()).put(label.getBytes(StandardCharsets.US_ASCII));
        }
        q.put((byte) 0).putShort((short) 1).putShort((short) 1);
        return q.flip();
    }

    /** The IPv4 addresses of the A records in the answer section of {@code response}. */
    static java.util.List<Ipv4Address> answers(ByteBuffer r) {
        int answerCount = r.getShort(6) & 0xffff;
        int at = 12;
        for (int q = r.getShort(4) & 0xffff; q > 0; q--) {
            at = skipName(r, at) + 4;
        }
        java.util.List<Ipv4Address> out = new java.util.ArrayList<>();
        for (int i = 0; i < answerCount; i++) {
            at = skipName(r, at);
            int type = r.getShort(at) & 0xffff;
            int length = r.getShort(at + 8) & 0xffff;
            if (type == 1 && length == 4) {
                out.add(Ipv4Address.of(r.getInt(at + 10)));
            }
            at += 10 + length;
        }
        return out;
    }

    static int skipName(ByteBuffer r, int at) {
        while (true) {
            int length = r.get(at) & 0xff;
            if (length == 0) {
                return at + 1;
            }
            if ((length & 0xc0) == 0xc0) {
                return at + 2;
            }
            at += 1 + length;
        }
    }

    ByteBuffer ask(String name, int id) throws InterruptedException {
        try (UdpSocket socket = guest.openUdpSocket().bind(5353)) {
            socket.sendTo(query(id, name), DNS, 53);
            ByteBuffer in = ByteBuffer.allocate(1500);
            InetSocketAddress from = socket.receive(in, Duration.ofSeconds(5));
            assertThat(from).as("DNS answer").isNotNull();
            assertThat(Ipv4Address.of(from.getAddress())).isEqualTo(DNS);
            assertThat(from.getPort()).isEqualTo(53);
            return in.flip();
        }
    }

    @Test
    void localhostResolvesToLoopbackThroughTheDefaultService() throws Exception {
        start(SlirpGateway.builder());
        ByteBuffer response = ask("localhost", 0x1234);
        assertThat(response.getShort(0) & 0xffff).isEqualTo(0x1234);
        assertThat(response.getShort(2) & 0x8000).as("QR").isNotZero();
        assertThat(response.getShort(2) & 0x000f).as("RCODE").isZero();
        assertThat(answers(response)).contains(Ipv4Address.LOOPBACK);
        assertThat(gateway.metrics().dnsQueries()).isEqualTo(1);
        assertThat(gateway.metrics().dnsAnswers()).isEqualTo(1);
    }

    @Test
    void aServiceOfTheCallersOwnAnswersStaticNames() throws Exception {
        dns = DnsService.builder().hostResolver(false)
                .staticRecord("printer.lan", java.net.InetAddress.getByAddress(new byte[] {10, 0, 2, 50})).build();
        start(SlirpGateway.builder().dnsService(dns));
        ByteBuffer response = ask("printer.lan", 7);
        assertThat(answers(response)).containsExactly(Ipv4Address.parse("10.0.2.50"));
    }

    @Test
    void aServiceBuiltFromTheCallersConfigurationForwardsOnTheGatewaysOwnLoop() throws Exception {
        try (DatagramChannel upstream = DatagramChannel.open()) {
            upstream.bind(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0));
            long dnsThreads = dnsServiceThreads();
            start(SlirpGateway.builder().dns(DnsService.builder().hostResolver(false)
                    .staticRecord("printer.lan", java.net.InetAddress.getByAddress(new byte[] {10, 0, 2, 50}))
                    .upstream((InetSocketAddress) upstream.getLocalAddress())));
            Thread server = new Thread(() -> answerOnce(upstream, Ipv4Address.parse("10.9.8.7")), "stand-in-upstream");
            server.start();

            assertThat(answers(ask("printer.lan", 7))).containsExactly(Ipv4Address.parse("10.0.2.50"));
            assertThat(answers(ask("far.away.test", 8))).containsExactly(Ipv4Address.parse("10.9.8.7"));
            server.join(5_000);
            assertThat(gateway.dnsService().answeredByForwarding()).isEqualTo(1);
            assertThat(dnsServiceThreads()).as("threads of a DNS service's own").isEqualTo(dnsThreads);
        }
    }

    /** Live threads a {@link DnsService} starts when it runs on a group of its own. */
    private static long dnsServiceThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("netstack-dns")).count();
    }

    /** Receives one query and answers it with one A record, as a server on the host would. */
    private static void answerOnce(DatagramChannel upstream, Ipv4Address address) {
        try {
            ByteBuffer query = ByteBuffer.allocate(512);
            java.net.SocketAddress from = upstream.receive(query);
            query.flip();
            ByteBuffer answer = ByteBuffer.allocate(query.remaining() + 16);
            answer.put(query).putShort(2, (short) 0x8180).putShort(6, (short) 1)   // QR RD RA, one answer
                    .putShort((short) 0xc00c).putShort((short) 1).putShort((short) 1)   // the question's name, A, IN
                    .putInt(60).putShort((short) 4).putInt(address.bits());
            upstream.send(answer.flip(), from);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
