package dev.netstack.bridge.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.bridge.GatewayMetrics;
import dev.netstack.bridge.SlirpGateway;
import dev.netstack.bridge.dns.DnsService;
import dev.netstack.buffer.MbufPool;
import dev.netstack.dns.DnsResolver;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.socket.NetworkException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Many NAT flows and many DNS queries through the gateway at once; only 127.0.0.1 on the host side. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GatewayLoadTest {
    static final Ipv4Address GATEWAY = Ipv4Address.parse("10.0.2.2");
    MbufPool guestPool;
    NetStack guest;
    SlirpGateway gateway;
    DnsService dns;

    void start(SlirpGateway.Builder builder, int socketQueue) {
        guestPool = NetStack.newPool(2048, 0);
        VirtualDevice device = new VirtualDevice("guest", MacAddress.parse("52:54:00:12:34:56"), guestPool, 1500, 1024);
        gateway = builder.build();
        VirtualCable.connect(device, gateway);
        guest = NetStack.builder().device(device).address("10.0.2.15/24").gateway("10.0.2.2").dnsServer("10.0.2.3")
                .socketQueue(socketQueue, 64 << 20).build();
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

    @Test
    void tenThousandNatFlowsStayBoundedAndEvictionsAreCounted() throws Exception {
        int bound = 256;
        dns = DnsService.builder().hostResolver(false).build();
        start(SlirpGateway.builder().dnsService(dns).maxFlows(bound), 256);
        try (DatagramSocket host = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            int port = host.getLocalPort();
            guest.ping(GATEWAY, 8, Duration.ofSeconds(5));   // ARP both ways first
            int flows = 10_000;
            // the host reads while the guest sends: its socket buffer would otherwise overflow (kernel drops)
            java.util.concurrent.atomic.AtomicInteger received = new java.util.concurrent.atomic.AtomicInteger();
            host.setSoTimeout(3000);
            Thread reader = new Thread(() -> {
                byte[] b = new byte[64];
                try {
                    while (true) {
                        host.receive(new DatagramPacket(b, b.length));
                        received.incrementAndGet();
                    }
                } catch (java.io.IOException done) {
                    // timed out after the last datagram
                }
            });
            reader.start();
            for (int i = 0; i < flows; i++) {
                // a new guest source port for each datagram: a new flow each time
                try (UdpSocket s = guest.openUdpSocket().bind(10_000 + i)) {
                    s.sendTo(ByteBuffer.allocate(4).putInt(0, i), GATEWAY, port);
                } catch (NetworkException e) {
                    // a momentary lack of buffers or a reported error: the count below allows it
                }
                if (i % 1000 == 999) {
                    assertThat(gateway.flowCount()).as("open flows after %d", i + 1).isLessThanOrEqualTo(bound);
                }
            }
            reader.join(30_000);
            int seen = received.get();
            byte[] buffer = new byte[64];
            // a burst of new flows larger than the table evicts flows whose sockets are still opening:
            // their datagrams are dropped and counted (send_failed); nothing is lost uncounted
            long sent = guest.counters().packetsOut(dev.netstack.metrics.Layer.UDP);
            long dropped = 0;
            for (GatewayMetrics.DropReason reason : GatewayMetrics.DropReason.values()) {
                dropped += gateway.metrics().drops(reason);
            }
            assertThat(seen).as("datagrams at the host").isPositive();
            assertThat(seen + dropped).as("datagrams the guest sent = seen at the host + dropped by the gateway (%s)",
                    gateway.metrics()).isEqualTo(sent);
            assertThat(gateway.flowCount()).isLessThanOrEqualTo(bound);
            assertThat(gateway.metrics().flowsOpened()).isGreaterThanOrEqualTo(seen);
            assertThat(gateway.metrics().flowsOpened()).as("flows opened").isGreaterThan(flows / 2);
            assertThat(gateway.metrics().flowsEvicted()).as("flows evicted").isGreaterThanOrEqualTo(gateway.metrics().flowsOpened() - bound);
            // a flow still works end to end after all that
            try (UdpSocket s = guest.openUdpSocket().bind(9999)) {
                s.sendTo(ByteBuffer.wrap(new byte[] {42}), GATEWAY, port);
                DatagramPacket p = new DatagramPacket(buffer, buffer.length);
                host.setSoTimeout(5000);
                host.receive(p);
                host.send(new DatagramPacket(new byte[] {43}, 1, p.getSocketAddress()));
                ByteBuffer in = ByteBuffer.allocate(16);
                assertThat(s.receive(in, Duration.ofSeconds(5))).isNotNull();
                assertThat(in.get(0)).isEqualTo((byte) 43);
            }
        }
    }

    @Test
    void twoHundredConcurrentDnsQueriesAreAllAnswered() throws Exception {
        DnsService.Builder records = DnsService.builder().hostResolver(false);
        for (int i = 0; i < 50; i++) {
            records.staticRecord("host" + i + ".test", InetAddress.getByAddress(new byte[] {10, 0, 9, (byte) i}));
        }
        dns = records.build();
        start(SlirpGateway.builder().dnsService(dns), 256);
        DnsResolver resolver = DnsResolver.builder(guest).build();
        resolver.resolve("host0.test", Duration.ofSeconds(5));   // ARP first
        ExecutorService pool = Executors.newFixedThreadPool(200);
        try {
            List<Future<List<Ipv4Address>>> answers = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                String name = "host" + (i % 50) + ".test";
                answers.add(pool.submit(() -> resolver.resolve(name, Duration.ofSeconds(10))));
            }
            for (int i = 0; i < 200; i++) {
                assertThat(answers.get(i).get(30, TimeUnit.SECONDS)).as("answer %d", i)
                        .containsExactly(Ipv4Address.parse("10.0.9." + (i % 50)));
            }
        } finally {
            pool.shutdownNow();
            assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(gateway.metrics().dnsAnswers()).isGreaterThanOrEqualTo(201);
        assertThat(guest.boundSockets()).isZero();
    }
}
