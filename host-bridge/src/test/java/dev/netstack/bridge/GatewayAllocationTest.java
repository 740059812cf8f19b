package dev.netstack.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.Ipv4Address;
import io.netty.channel.EventLoopGroup;
import java.lang.management.ManagementFactory;
import java.net.DatagramPacket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Bytes the gateway's event loop allocates per relayed datagram, guest to host, once warm: none,
 * whether datagrams leave one per send or gathered into segmented sends. (Each write used to take a
 * new buffer from Netty's pool, whose leak detector records a stack trace for a sample of them; one
 * flush could release more outbound-buffer entries than Netty's recycler keeps at hand; and each
 * segmented send made an envelope, a promise and a listener: 3-14 bytes per datagram in all.)
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GatewayAllocationTest {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    static final Ipv4Address GATEWAY = Ipv4Address.parse("10.0.2.2");
    static final int BURST = 64;
    /** A {@code DatagramPacket}: a 12-byte object header and three compressed references. */
    static final int ENVELOPE_BYTES = 24;

    @ParameterizedTest(name = "{0} flows, segmentation {1}")
    @CsvSource({"1, false", "100, false", "1, true"})
    void aWarmGatewayAllocatesNothingPerDatagram(int flows, boolean segmentation) throws Exception {
        EventLoopGroup group = NettyTransport.newEventLoopGroup(1, "alloc-slirp");
        GuestBehindGateway rig = new GuestBehindGateway(
                SlirpGateway.builder().eventLoopGroup(group).segmentation(segmentation).dnsEnabled(false));
        NetStack guest = rig.guest;
        SlirpGateway gateway = rig.gateway;
        DatagramChannel host = DatagramChannel.open();
        try {
            host.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            host.socket().setSoTimeout(5000);
            int port = ((InetSocketAddress) host.getLocalAddress()).getPort();
            long loop = group.next().submit(() -> Thread.currentThread().getId()).get();
            guest.ping(GATEWAY, 8, java.time.Duration.ofSeconds(5));   // the gateway's MAC, before a burst
            UdpSocket[] sockets = new UdpSocket[flows];
            for (int i = 0; i < flows; i++) {
                sockets[i] = guest.openUdpSocket().bind(30_000 + i);
            }
            ByteBuffer payload = ByteBuffer.allocateDirect(64);
            DatagramPacket in = new DatagramPacket(new byte[2048], 2048);

            relay(sockets, payload, port, host, in, 40_000);   // JIT, buffer rings, Netty's recycler
            long before = THREADS.getThreadAllocatedBytes(loop);
            int datagrams = 64_000;
            relay(sockets, payload, port, host, in, datagrams);
            long allocated = THREADS.getThreadAllocatedBytes(loop) - before;

            assertThat(gateway.metrics().drops(GatewayMetrics.DropReason.SEND_QUEUE_FULL)).isZero();
            if (segmentation) {
                assertThat(gateway.metrics().segmentedSends()).as("segmented sends made").isPositive();
            }
            assertThat((double) allocated / datagrams).as("bytes per datagram on the event loop (%d in all)", allocated)
                    .isLessThan(0.5);
        } finally {
            host.close();
            rig.close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    /**
     * Host to guest, Netty makes one {@code DatagramPacket} envelope per datagram it reads, which
     * the gateway cannot avoid; nothing else may be allocated. (Each read used to take a fresh 64 KiB buffer from Netty's pool, and the leak
     * detector recorded a stack trace for a sample of them: about 35 bytes per datagram in all.)
     */
    @Test
    void aWarmGatewayAllocatesOnlyNettysReadEnvelopeFromHostToGuest() throws Exception {
        EventLoopGroup group = NettyTransport.newEventLoopGroup(1, "alloc-slirp");
        GuestBehindGateway rig = new GuestBehindGateway(SlirpGateway.builder().eventLoopGroup(group).dnsEnabled(false));
        DatagramChannel host = DatagramChannel.open();
        try {
            host.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            int port = ((InetSocketAddress) host.getLocalAddress()).getPort();
            long loop = group.next().submit(() -> Thread.currentThread().getId()).get();
            UdpSocket socket = rig.guest.openUdpSocket().bind(30_000);
            ByteBuffer payload = ByteBuffer.allocateDirect(64);
            socket.sendTo(payload, GATEWAY, port);   // opens the flow
            ByteBuffer in = ByteBuffer.allocateDirect(2048);
            SocketAddress flow = host.receive(in);

            reply(host, flow, socket, in, 40_000);   // JIT, the read buffers, Netty's recycler
            long before = THREADS.getThreadAllocatedBytes(loop);
            int datagrams = 64_000;
            reply(host, flow, socket, in, datagrams);
            long allocated = THREADS.getThreadAllocatedBytes(loop) - before;

            for (GatewayMetrics.DropReason reason : GatewayMetrics.DropReason.values()) {
                assertThat(rig.gateway.metrics().drops(reason)).as("dropped: %s", reason).isZero();
            }
            assertThat((double) allocated / datagrams).as("bytes per datagram on the event loop (%d in all)", allocated)
                    .isLessThanOrEqualTo(ENVELOPE_BYTES + 0.5);
        } finally {
            host.close();
            rig.close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    /** The host sends {@code count} datagrams to the guest's flow in bursts, each burst received before the next. */
    private static void reply(DatagramChannel host, SocketAddress flow, UdpSocket guest, ByteBuffer in, int count)
            throws Exception {
        ByteBuffer out = ByteBuffer.allocateDirect(64);
        for (int sent = 0; sent < count; sent += BURST) {
            for (int i = 0; i < BURST; i++) {
                out.clear();
                host.send(out, flow);
            }
            for (int i = 0; i < BURST; i++) {
                in.clear();
                assertThat(guest.receive(in, Duration.ofSeconds(5))).as("datagram %d", sent + i).isNotNull();
            }
        }
    }

    /** Sends {@code count} datagrams round robin over the sockets in bursts, each burst received before the next. */
    private static void relay(UdpSocket[] sockets, ByteBuffer payload, int port, DatagramChannel host,
            DatagramPacket in, int count) throws Exception {
        int next = 0;
        for (int sent = 0; sent < count; sent += BURST) {
            for (int i = 0; i < BURST; i++) {
                payload.clear();
                sockets[next].sendTo(payload, GATEWAY, port);
                next = next + 1 == sockets.length ? 0 : next + 1;
            }
            for (int i = 0; i < BURST; i++) {
                host.socket().receive(in);
            }
        }
    }
}
