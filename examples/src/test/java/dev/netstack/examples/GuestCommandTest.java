package dev.netstack.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.bridge.tunnel.FrameTunnel;
import dev.netstack.bridge.tunnel.RawFrameTunnel;
import dev.netstack.bridge.tunnel.VxlanTunnel;
import dev.netstack.icmp.PingReply;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code netstack guest} on one end of a tunnel, a guest built here on the other: two tunnels on
 * 127.0.0.1 ephemeral ports.
 */
class GuestCommandTest {
    static final Pattern LOCAL_PORT = Pattern.compile("tunnel 127\\.0\\.0\\.1:(\\d+) -> ");
    static final Ipv4Address REMOTE_GUEST = Ipv4Address.parse("10.0.2.16");

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void answersPingAndEchoesUdpThroughARawTunnel() throws Exception {
        exchange(RawFrameTunnel.builder().localAddress(loopback(0)).open(), "raw:127.0.0.1:0@127.0.0.1:%d", "raw");
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void answersPingAndEchoesUdpThroughVxlan() throws Exception {
        exchange(VxlanTunnel.builder().localAddress(loopback(0)).vni(42).open(), "vxlan:127.0.0.1:0@127.0.0.1:%d/42", "vxlan");
    }

    private void exchange(FrameTunnel ours, String spec, String kind) throws Exception {
        GuestWorld world = GuestWorld.builder().tunnel(ours, "10.0.2.15/24", null, Guest.macFor(0)).build();
        CommandRunner.Background guest = null;
        try {
            guest = new CommandRunner.Background("guest", "--tunnel", String.format(spec, ours.localAddress().getPort()),
                    "--ip", "10.0.2.16/24");
            String banner = guest.awaitOut("Ctrl-C to stop", 20_000);
            assertThat(banner).startsWith("guest 10.0.2.16/24 52:54:0a:00:02:10 on " + kind + " tunnel 127.0.0.1:")
                    .contains("UDP echo on port 7");
            Matcher port = LOCAL_PORT.matcher(banner);
            assertThat(port.find()).isTrue();
            ours.remoteAddress(loopback(Integer.parseInt(port.group(1))));

            PingReply reply = world.guest().stack().ping(REMOTE_GUEST, 56, Duration.ofSeconds(5));
            assertThat(reply.from()).isEqualTo(REMOTE_GUEST);
            assertThat(reply.bytes()).isEqualTo(64);

            try (UdpSocket socket = world.guest().stack().openUdpSocket().bind(3000)) {
                socket.sendTo(ByteBuffer.wrap("echo me".getBytes(StandardCharsets.US_ASCII)), REMOTE_GUEST, 7);
                ByteBuffer in = ByteBuffer.allocate(100);
                long sender = socket.receiveFrom(in, Duration.ofSeconds(5).toNanos());
                assertThat(sender).isNotEqualTo(UdpSocket.NOTHING);
                assertThat(UdpSocket.senderAddress(sender)).isEqualTo(REMOTE_GUEST);
                assertThat(UdpSocket.senderPort(sender)).isEqualTo(7);
                assertThat(new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII)).isEqualTo("echo me");
            }

            assertThat(guest.stop()).isZero();
            assertThat(guest.out.toString()).contains("guest 10.0.2.16 stopped; echoed 1 datagram\n");
            guest = null;
        } finally {
            if (guest != null) {
                guest.stop();
            }
            world.close();
            PoolChecks.assertWhole(world.guest().pool());
        }
    }

    static InetSocketAddress loopback(int port) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }
}
