package dev.netstack.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.buffer.MbufPool;
import dev.netstack.link.VirtualDevice;
import dev.netstack.link.VirtualSwitch;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Two guests and the gateway on one switch: both reach the host through the gateway and each other directly. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SwitchedLanTest {
    static final Ipv4Address GATEWAY = Ipv4Address.parse("10.0.2.2");

    @Test
    void twoGuestsReachTheHostAndEachOther() throws Exception {
        MbufPool poolA = NetStack.newPool(1024, 0);
        MbufPool poolB = NetStack.newPool(1024, 0);
        VirtualSwitch lan = new VirtualSwitch("lan");
        VirtualDevice nicA = new VirtualDevice("a", MacAddress.parse("52:54:00:12:34:56"), poolA);
        VirtualDevice nicB = new VirtualDevice("b", MacAddress.parse("52:54:00:12:34:57"), poolB);
        try (SlirpGateway gateway = SlirpGateway.builder().build();
             DatagramChannel host = DatagramChannel.open()) {
            lan.connect(gateway);
            lan.connect(nicA);
            lan.connect(nicB);
            host.bind(new InetSocketAddress("127.0.0.1", 0));
            int hostPort = ((InetSocketAddress) host.getLocalAddress()).getPort();
            Thread server = new Thread(() -> answer(host), "host-server");
            server.setDaemon(true);
            server.start();

            try (NetStack a = NetStack.builder().device(nicA).address("10.0.2.15/24").gateway("10.0.2.2").build();
                 NetStack b = NetStack.builder().device(nicB).address("10.0.2.16/24").gateway("10.0.2.2").build()) {
                for (NetStack guest : new NetStack[] {a, b}) {
                    try (UdpSocket socket = guest.openUdpSocket().bind(2000)) {
                        socket.sendTo(ByteBuffer.wrap("a message from xv6!".getBytes(StandardCharsets.US_ASCII)), GATEWAY, hostPort);
                        ByteBuffer in = ByteBuffer.allocate(100);
                        InetSocketAddress from = socket.receive(in, Duration.ofSeconds(5));
                        assertThat(from).as("reply to %s", guest.address()).isEqualTo(new InetSocketAddress(GATEWAY.toInetAddress(), hostPort));
                        assertThat(new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII)).isEqualTo("this is the host!");
                    }
                    assertThat(guest.ping(GATEWAY, 56, Duration.ofSeconds(2)).from()).isEqualTo(GATEWAY);
                }
                assertThat(a.ping(b.address(), 56, Duration.ofSeconds(2)).from()).isEqualTo(b.address());
                assertThat(b.ping(a.address(), 56, Duration.ofSeconds(2)).from()).isEqualTo(a.address());
                // the switch learned every station and delivered guest-to-guest frames without flooding the gateway for them
                assertThat(lan.portOf(MacAddress.parse("52:54:00:12:34:56"))).isNotNull();
                assertThat(lan.portOf(MacAddress.parse("52:54:00:12:34:57"))).isNotNull();
                assertThat(lan.portOf(MacAddress.parse("52:55:0a:00:02:02"))).isNotNull();
            }
            server.interrupt();
        }
        PoolChecks.assertWhole(poolA);
        PoolChecks.assertWhole(poolB);
    }

    /** The lab's host-side server: "this is the host!" to every datagram. */
    private static void answer(DatagramChannel host) {
        ByteBuffer buffer = ByteBuffer.allocate(2048);
        try {
            while (!Thread.currentThread().isInterrupted()) {
                buffer.clear();
                java.net.SocketAddress client = host.receive(buffer);
                host.send(ByteBuffer.wrap("this is the host!".getBytes(StandardCharsets.US_ASCII)), client);
            }
        } catch (java.io.IOException closed) {
            // the test closed the channel
        }
    }
}
