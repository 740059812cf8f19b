package dev.netstack;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.buffer.MbufPool;
import dev.netstack.icmp.PingReply;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The "Using the library" example of README.md, verbatim between the markers, so it always compiles and works. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ReadmeExampleTest {

    @Test
    void twoStacksOnACable() throws Exception {
        // README-EXAMPLE-START
        MbufPool poolA = NetStack.newPool(1024, 0);   // 1024 × 2048-byte buffers in off-heap "DMA" memory
        MbufPool poolB = NetStack.newPool(1024, 0);
        VirtualDevice nicA = new VirtualDevice("a", MacAddress.parse("52:54:00:12:34:56"), poolA);
        VirtualDevice nicB = new VirtualDevice("b", MacAddress.parse("52:54:00:12:34:57"), poolB);
        VirtualCable.connect(nicA, nicB);

        try (NetStack a = NetStack.builder().device(nicA).address("10.0.2.15/24").build();
             NetStack b = NetStack.builder().device(nicB).address("10.0.2.16/24").build();
             UdpSocket server = b.openUdpSocket().bind(7);
             UdpSocket client = a.openUdpSocket()) {

            client.sendTo(ByteBuffer.wrap("hello".getBytes(StandardCharsets.UTF_8)),
                    Ipv4Address.parse("10.0.2.16"), 7);

            ByteBuffer buffer = ByteBuffer.allocate(1500);
            InetSocketAddress from = server.receive(buffer, Duration.ofSeconds(2));
            System.out.println(from + " sent " + new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8));

            PingReply reply = a.ping(Ipv4Address.parse("10.0.2.16"), 56, Duration.ofSeconds(1));
            System.out.printf("64 bytes from %s: icmp_seq=%d ttl=%d time=%.3f ms%n",
                    reply.from(), reply.sequence(), reply.ttl(), reply.rttMillis());
            // README-EXAMPLE-END
            assertThat(from.getPort()).isEqualTo(client.localPort());
            assertThat(new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8)).isEqualTo("hello");
            assertThat(reply.from()).isEqualTo(Ipv4Address.parse("10.0.2.16"));
        }
        PoolChecks.assertWhole(poolA);
        PoolChecks.assertWhole(poolB);
    }
}
