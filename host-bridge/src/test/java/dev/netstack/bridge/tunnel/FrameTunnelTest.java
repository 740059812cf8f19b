package dev.netstack.bridge.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.bridge.NettyTransport;
import dev.netstack.bridge.tunnel.FrameTunnel.DropReason;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.link.FramePort;
import dev.netstack.link.NetDevice;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.testing.Fixtures;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.MacAddress;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import java.net.BindException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class FrameTunnelTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final InetSocketAddress ANY_LOOPBACK_PORT = new InetSocketAddress(LOOPBACK, 0);
    private static EventLoopGroup group;

    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    @BeforeAll
    static void startEventLoop() {
        group = NettyTransport.newEventLoopGroup(2, "tunnel-test");
    }

    @AfterAll
    static void stopEventLoop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : closeAfter) {
            c.close();
        }
    }

    /** Keeps a copy of every frame it is given. */
    static final class Recorder implements FramePort {
        final BlockingQueue<byte[]> frames = new LinkedBlockingQueue<>();

        @Override
        public void receiveFrame(ByteBuffer frame) {
            byte[] copy = new byte[frame.remaining()];
            frame.get(frame.position(), copy);
            frames.add(copy);
        }

        byte[] next() throws InterruptedException {
            byte[] frame = frames.poll(5, TimeUnit.SECONDS);
            assertThat(frame).as("frame within 5 s").isNotNull();
            return frame;
        }
    }

    private <T extends FrameTunnel> T track(T tunnel) {
        closeAfter.add(tunnel);
        return tunnel;
    }

    private RawFrameTunnel raw() throws Exception {
        return track(RawFrameTunnel.builder().eventLoopGroup(group).localAddress(ANY_LOOPBACK_PORT).open());
    }

    private VxlanTunnel vxlan(int vni) throws Exception {
        return track(VxlanTunnel.builder().vni(vni).eventLoopGroup(group).localAddress(ANY_LOOPBACK_PORT).open());
    }

    private static void pair(FrameTunnel a, FrameTunnel b) {
        a.remoteAddress(b.localAddress());
        b.remoteAddress(a.localAddress());
    }

    private static void awaitCount(LongSupplier counter, long expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (counter.getAsLong() < expected && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(counter.getAsLong()).isEqualTo(expected);
    }

    private static void sendDatagram(byte[] payload, InetSocketAddress to) throws Exception {
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
            socket.send(new DatagramPacket(payload, payload.length, to));
        }
    }

    private static final String[] FIXTURES = {
        Fixtures.UDP_GUEST_TO_HOST, Fixtures.ARP_REQUEST_FROM_GATEWAY,
        Fixtures.ARP_REPLY_FROM_GUEST, Fixtures.UDP_HOST_TO_GUEST,
    };

    private static void exchangeFixtures(FrameTunnel a, FrameTunnel b) throws Exception {
        Recorder atA = new Recorder();
        Recorder atB = new Recorder();
        a.attach(atA);
        b.attach(atB);
        for (String name : FIXTURES) {
            byte[] frame = Fixtures.frame(name);
            ByteBuffer buffer = ByteBuffer.wrap(frame);
            a.receiveFrame(buffer);
            assertThat(buffer.position()).isZero();
            assertThat(buffer.remaining()).isEqualTo(frame.length);
            assertThat(atB.next()).as(name + " a->b").isEqualTo(frame);
            b.receiveFrame(ByteBuffer.wrap(frame));
            assertThat(atA.next()).as(name + " b->a").isEqualTo(frame);
        }
        assertThat(a.sentFrames()).isEqualTo(FIXTURES.length);
        assertThat(b.receivedFrames()).isEqualTo(FIXTURES.length);
        assertThat(a.receivedFrames()).isEqualTo(FIXTURES.length);
    }

    @Test
    void rawTunnelsCarryFramesBothWaysByteForByte() throws Exception {
        RawFrameTunnel a = raw();
        RawFrameTunnel b = raw();
        pair(a, b);
        exchangeFixtures(a, b);
        assertThat(b.receivedBytes()).isEqualTo(a.sentBytes());
    }

    @Test
    void vxlanTunnelsCarryFramesBothWaysByteForByte() throws Exception {
        VxlanTunnel a = vxlan(42);
        VxlanTunnel b = vxlan(42);
        pair(a, b);
        exchangeFixtures(a, b);
    }

    @Test
    void vxlanDatagramsOnTheWireHaveTheRfc7348Header() throws Exception {
        VxlanTunnel a = vxlan(0x123456);
        try (DatagramSocket listener = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
            listener.setSoTimeout(5000);
            a.remoteAddress((InetSocketAddress) listener.getLocalSocketAddress());
            byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
            a.receiveFrame(ByteBuffer.wrap(frame));
            DatagramPacket packet = new DatagramPacket(new byte[2048], 2048);
            listener.receive(packet);
            ByteBuffer datagram = ByteBuffer.wrap(packet.getData(), 0, packet.getLength());
            assertThat(packet.getLength()).isEqualTo(8 + frame.length);
            assertThat(datagram.getInt(0)).isEqualTo(0x0800_0000);
            assertThat(datagram.getInt(4)).isEqualTo(0x1234_5600);
            assertThat(java.util.Arrays.copyOfRange(packet.getData(), 8, packet.getLength())).isEqualTo(frame);
        }
    }

    @Test
    void wrongVniAndMissingFlagAreDroppedAndCounted() throws Exception {
        VxlanTunnel a = vxlan(42);
        VxlanTunnel b = vxlan(42);
        VxlanTunnel stranger = vxlan(43);
        pair(a, b);
        stranger.remoteAddress(b.localAddress());
        Recorder atB = new Recorder();
        b.attach(atB);

        stranger.receiveFrame(ByteBuffer.wrap(Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST)));
        awaitCount(() -> b.drops(DropReason.WRONG_VNI), 1);

        byte[] noFlag = new byte[8 + 60];
        ByteBuffer.wrap(noFlag).putInt(4, 42 << 8);
        sendDatagram(noFlag, b.localAddress());
        awaitCount(() -> b.drops(DropReason.BAD_FLAGS), 1);

        a.receiveFrame(ByteBuffer.wrap(Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST)));
        assertThat(atB.next()).isEqualTo(Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST));
        assertThat(atB.frames).isEmpty();
        assertThat(b.receivedFrames()).isEqualTo(1);
    }

    @Test
    void runtsAreDroppedOnBothSides() throws Exception {
        RawFrameTunnel rawTunnel = raw();
        VxlanTunnel vxlanTunnel = vxlan(7);
        rawTunnel.remoteAddress(new InetSocketAddress(LOOPBACK, 9));   // never reached: every frame is a runt
        vxlanTunnel.remoteAddress(new InetSocketAddress(LOOPBACK, 9));
        Recorder seen = new Recorder();
        rawTunnel.attach(seen);
        vxlanTunnel.attach(seen);

        sendDatagram(new byte[13], rawTunnel.localAddress());                    // under an Ethernet header
        sendDatagram(new byte[5], vxlanTunnel.localAddress());                   // under a VXLAN header
        byte[] headerOnly = new byte[8 + 10];
        ByteBuffer.wrap(headerOnly).putInt(0, 0x0800_0000).putInt(4, 7 << 8);
        sendDatagram(headerOnly, vxlanTunnel.localAddress());                    // header, then a runt frame
        rawTunnel.receiveFrame(ByteBuffer.allocate(10));

        awaitCount(() -> rawTunnel.drops(DropReason.RUNT), 2);
        awaitCount(() -> vxlanTunnel.drops(DropReason.RUNT), 2);
        assertThat(seen.frames).isEmpty();
        assertThat(rawTunnel.sentFrames()).isZero();
    }

    @Test
    void oversizeFramesAreDroppedOnBothSides() throws Exception {
        RawFrameTunnel a = raw();
        RawFrameTunnel b = raw();
        pair(a, b);
        Recorder atB = new Recorder();
        b.attach(atB);

        a.receiveFrame(ByteBuffer.allocate(FrameTunnel.DEFAULT_MAX_FRAME_LENGTH + 1));
        assertThat(a.drops(DropReason.OVERSIZE)).isEqualTo(1);

        sendDatagram(new byte[3000], b.localAddress());
        awaitCount(() -> b.drops(DropReason.OVERSIZE), 1);
        assertThat(atB.frames).isEmpty();
    }

    @Test
    void datagramsFromOtherAddressesAreRefused() throws Exception {
        RawFrameTunnel tunnel = raw();
        tunnel.remoteAddress(new InetSocketAddress("127.0.0.2", 9));   // a loopback peer we never send to
        Recorder seen = new Recorder();
        tunnel.attach(seen);
        sendDatagram(Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST), tunnel.localAddress());   // from 127.0.0.1
        awaitCount(() -> tunnel.drops(DropReason.FOREIGN_SOURCE), 1);
        assertThat(seen.frames).isEmpty();
    }

    @Test
    void framesWithoutRemoteOrPeerAreCounted() throws Exception {
        RawFrameTunnel a = raw();
        a.receiveFrame(ByteBuffer.wrap(Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST)));
        assertThat(a.drops(DropReason.NOT_CONNECTED)).isEqualTo(1);

        RawFrameTunnel b = raw();
        pair(a, b);   // b has no peer attached
        a.receiveFrame(ByteBuffer.wrap(Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST)));
        awaitCount(() -> b.drops(DropReason.NO_PEER), 1);
    }

    @Test
    void bindingABusyPortSaysSo() throws Exception {
        RawFrameTunnel a = raw();
        assertThatThrownBy(() -> RawFrameTunnel.builder().eventLoopGroup(group).localAddress(a.localAddress()).open())
                .isInstanceOf(BindException.class)
                .hasMessageContaining("cannot bind raw tunnel")
                .hasMessageContaining(String.valueOf(a.localAddress().getPort()));
    }

    @Test
    void vxlanNeedsAVni() {
        assertThatThrownBy(() -> VxlanTunnel.builder().open()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("VNI");
        assertThatThrownBy(() -> VxlanTunnel.builder().vni(1 << 24)).isInstanceOf(IllegalArgumentException.class);
    }

    /** Two stacks' devices on opposite ends of a tunnel pair, with their own event loops, mbufs accounted for. */
    @Test
    void devicesTalkThroughATunnelOnTheirOwnEventLoops() throws Exception {
        MbufPool pool = MbufPool.create(64);
        VirtualDevice left = new VirtualDevice("left", MacAddress.parse("52:54:00:12:34:56"), pool);
        VirtualDevice right = new VirtualDevice("right", MacAddress.parse("52:55:0a:00:02:02"), pool);
        RawFrameTunnel leftEnd = RawFrameTunnel.builder().open();     // own event loop each
        RawFrameTunnel rightEnd = RawFrameTunnel.builder().open();
        try {
            pair(leftEnd, rightEnd);
            VirtualCable.connect(left, leftEnd);
            VirtualCable.connect(right, rightEnd);
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            leftEnd.bindTo(registry);

            byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
            Mbuf mbuf = pool.allocate();
            mbuf.buffer().put(mbuf.put(frame.length), frame);
            assertThat(left.transmit(mbuf)).isEqualTo(NetDevice.TRANSMITTED);

            assertThat(right.awaitReceive(TimeUnit.SECONDS.toNanos(5))).isTrue();
            List<byte[]> got = new ArrayList<>();
            right.receive(m -> {
                byte[] bytes = new byte[m.length()];
                m.buffer().get(m.head(), bytes);
                got.add(bytes);
                m.free();
            }, 8);
            assertThat(got).containsExactly(frame);
            assertThat(registry.get("netstack.tunnel.frames").tag("direction", "tx").functionCounter().count())
                    .isEqualTo(1);
        } finally {
            leftEnd.close();
            rightEnd.close();
            left.close();
            right.close();
        }
        PoolChecks.assertWhole(pool);
    }
}
