package dev.netstack.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.netstack.NetStack;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.Ipv4Address;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.IntegerUnixChannelOption;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Datagrams that pile up while the gateway is busy leave in segmented sends (UDP GSO), and the host's
 * receiver still gets each one, whole and in order. The gateway's event loop is held up while the
 * guest sends, so every datagram is waiting when it runs: which batches form is then known exactly.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SegmentedSendTest {
    static final Ipv4Address GATEWAY = Ipv4Address.parse("10.0.2.2");
    /** Linux SOL_SOCKET / SO_NO_CHECK: no UDP checksum, with which the kernel refuses segmented sends. */
    static final IntegerUnixChannelOption SO_NO_CHECK = new IntegerUnixChannelOption("SO_NO_CHECK", 1, 11);

    EventLoopGroup group;
    GuestBehindGateway rig;
    NetStack guest;
    SlirpGateway gateway;
    DatagramChannel host;

    @BeforeEach
    void open() throws Exception {
        group = NettyTransport.newEventLoopGroup(1, "test-slirp");
        assumeTrue(NettyTransport.supportsSegmentation(group), "segmented sends need Linux UDP GSO and Netty's epoll");
        host = DatagramChannel.open();
        host.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        host.configureBlocking(false);
    }

    void start(UnaryOperator<SlirpGateway.Builder> settings) {
        rig = new GuestBehindGateway(settings.apply(SlirpGateway.builder().eventLoopGroup(group)));
        guest = rig.guest;
        gateway = rig.gateway;
    }

    @AfterEach
    void close() throws Exception {
        if (rig != null) {
            rig.close();
        }
        if (host != null) {
            host.close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    /** 100 of 100 bytes, a shorter one, an empty one, 10 of 300 bytes: datagram i starts with i. */
    static List<Integer> lengths() {
        List<Integer> lengths = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            lengths.add(100);
        }
        lengths.add(40);
        lengths.add(0);
        for (int i = 0; i < 10; i++) {
            lengths.add(300);
        }
        return lengths;
    }

    static ByteBuffer datagram(int index, int length) {
        ByteBuffer b = ByteBuffer.allocate(length);
        for (int i = 0; i < length; i++) {
            b.put((byte) (i < 2 ? index >>> (8 - 8 * i) : index + i));
        }
        return b.flip();
    }

    /**
     * Opens the flow with one datagram, then sends {@link #lengths()} while the gateway's loop is held
     * up, and checks that the host gets every one: its length, its bytes, its place.
     */
    void sendWhileTheGatewayIsBusyAndReceiveAll() throws Exception {
        int port = ((InetSocketAddress) host.getLocalAddress()).getPort();
        try (UdpSocket socket = guest.openUdpSocket(16, 1 << 20).bind(2000)) {
            socket.sendTo(datagram(0xffff, 10), GATEWAY, port);   // ARP, the flow and its connected host socket
            assertThat(receive(port).remaining()).isEqualTo(10);

            CountDownLatch release = holdTheGatewaysLoop();
            List<Integer> lengths = lengths();
            try {
                for (int i = 0; i < lengths.size(); i++) {
                    socket.sendTo(datagram(i, lengths.get(i)), GATEWAY, port);
                }
            } finally {
                release.countDown();
            }
            for (int i = 0; i < lengths.size(); i++) {
                ByteBuffer got = receive(port);
                assertThat(got).as("datagram %d", i).isEqualTo(datagram(i, lengths.get(i)));
            }
        }
        assertThat(gateway.metrics().guestToHostPackets()).isEqualTo(1 + lengths().size());
    }

    /** Keeps the gateway's event loop busy until the latch is counted down: guest frames queue up meanwhile. */
    CountDownLatch holdTheGatewaysLoop() {
        CountDownLatch release = new CountDownLatch(1);
        group.next().execute(() -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        return release;
    }

    ByteBuffer receive(int port) throws Exception {
        ByteBuffer in = ByteBuffer.allocate(2048);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (host.receive(in) == null) {
            assertThat(System.nanoTime()).as("a datagram on port %d within 5 s", port).isLessThan(deadline);
            Thread.sleep(1);
        }
        return in.flip();
    }

    @Test
    void datagramsOfOneSizeLeaveTogetherAndArriveOneByOneInOrder() throws Exception {
        start(b -> b);
        sendWhileTheGatewayIsBusyAndReceiveAll();
        // 64 of 100 B (a full batch); 36 of 100 B with the 40 B one as their last; the empty datagram
        // alone; 10 of 300 B
        assertThat(gateway.metrics().segmentedSends()).isEqualTo(3);
        assertThat(gateway.metrics().segmentedDatagrams()).isEqualTo(64 + 37 + 10);
        assertThat(gateway.metrics().segmentationFallbacks()).isZero();
    }

    @Test
    void aFlowEvictedWhileItsDatagramsAreGatheredStillSendsThem() throws Exception {
        start(b -> b.maxFlows(4));
        int port = ((InetSocketAddress) host.getLocalAddress()).getPort();
        UdpSocket[] sockets = new UdpSocket[5];
        try {
            for (int i = 0; i < sockets.length; i++) {
                sockets[i] = guest.openUdpSocket().bind(3000 + i);
            }
            for (int i = 0; i < 4; i++) {   // four flows, their host sockets connected: the table is full
                sockets[i].sendTo(datagram(i << 8, 20), GATEWAY, port);
                assertThat(receive(port).remaining()).isEqualTo(20);
            }
            CountDownLatch release = holdTheGatewaysLoop();
            try {
                for (int i = 0; i < 4; i++) {   // two each, gathered in the next drain
                    sockets[i].sendTo(datagram(i << 8 | 1, 100), GATEWAY, port);
                    sockets[i].sendTo(datagram(i << 8 | 2, 100), GATEWAY, port);
                }
                // a fifth flow in the same drain evicts the first while its two datagrams are gathered
                sockets[4].sendTo(datagram(4 << 8 | 1, 100), GATEWAY, port);
            } finally {
                release.countDown();
            }
            java.util.Set<ByteBuffer> expected = new java.util.HashSet<>();
            for (int i = 0; i < 4; i++) {
                expected.add(datagram(i << 8 | 1, 100));
                expected.add(datagram(i << 8 | 2, 100));
            }
            expected.add(datagram(4 << 8 | 1, 100));
            java.util.Set<ByteBuffer> got = new java.util.HashSet<>();
            for (int i = 0; i < expected.size(); i++) {
                got.add(receive(port));
            }
            assertThat(got).isEqualTo(expected);
            assertThat(gateway.metrics().flowsEvicted()).isEqualTo(1);
            assertThat(gateway.metrics().drops(GatewayMetrics.DropReason.SEND_FAILED)).isZero();
        } finally {
            for (UdpSocket socket : sockets) {
                if (socket != null) {
                    socket.close();
                }
            }
        }
    }

    @Test
    void withSegmentationOffEveryDatagramLeavesAlone() throws Exception {
        start(b -> b.segmentation(false));
        sendWhileTheGatewayIsBusyAndReceiveAll();
        assertThat(gateway.metrics().segmentedSends()).isZero();
        assertThat(gateway.metrics().segmentedDatagrams()).isZero();
    }

    @Test
    void aSegmentedSendTheKernelRefusesIsSentAgainOneByOne() throws Exception {
        // without a UDP checksum the kernel refuses UDP_SEGMENT (EINVAL), while single sends still go
        start(b -> b.hostSocketOption(SO_NO_CHECK, 1));
        sendWhileTheGatewayIsBusyAndReceiveAll();
        assertThat(gateway.metrics().segmentedSends()).isEqualTo(1);   // the first batch of 64; then one by one
        assertThat(gateway.metrics().segmentationFallbacks()).isEqualTo(1);
        assertThat(gateway.metrics().drops(GatewayMetrics.DropReason.SEND_FAILED)).isZero();
    }
}
