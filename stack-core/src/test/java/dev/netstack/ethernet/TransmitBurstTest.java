package dev.netstack.ethernet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.NetStack;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.link.FrameSink;
import dev.netstack.link.Frames;
import dev.netstack.link.NetDevice;
import dev.netstack.link.TestPeer;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.metrics.Drop;
import dev.netstack.metrics.Layer;
import dev.netstack.socket.MessageTooLongException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import dev.netstack.wire.UdpHeader;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A socket's burst send reaches the device as bursts, in order, with every frame accounted for. */
class TransmitBurstTest {
    private static final MacAddress STACK_MAC = MacAddress.parse("52:54:00:12:34:56");
    private static final MacAddress PEER_MAC = MacAddress.parse("52:55:0a:00:02:02");
    private static final Ipv4Address PEER_IP = Ipv4Address.parse("10.0.2.2");

    /** Passes everything to a VirtualDevice and records the size of every burst it is handed. */
    static final class BurstRecordingDevice implements NetDevice {
        final VirtualDevice inner;
        final List<Integer> bursts = new ArrayList<>();
        int singles;
        /** How many frames of each burst to take at most (a ring with that much room). */
        volatile int room = Integer.MAX_VALUE;

        BurstRecordingDevice(VirtualDevice inner) {
            this.inner = inner;
        }

        @Override
        public int transmit(Mbuf[] frames, int offset, int count) {
            synchronized (this) {
                bursts.add(count);
            }
            int take = Math.min(count, room);
            for (int i = 0; i < take; i++) {
                if (inner.transmit(frames[offset + i]) != TRANSMITTED) {
                    return i;
                }
            }
            return take;
        }

        @Override
        public int transmit(Mbuf frame) {
            synchronized (this) {
                singles++;
            }
            return inner.transmit(frame);
        }

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public MacAddress macAddress() {
            return inner.macAddress();
        }

        @Override
        public int mtu() {
            return inner.mtu();
        }

        @Override
        public boolean isLinkUp() {
            return inner.isLinkUp();
        }

        @Override
        public MbufPool pool() {
            return inner.pool();
        }

        @Override
        public int receive(FrameSink sink, int budget) {
            return inner.receive(sink, budget);
        }

        @Override
        public boolean awaitReceive(long timeoutNanos) throws InterruptedException {
            return inner.awaitReceive(timeoutNanos);
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    private MbufPool pool;
    private BurstRecordingDevice device;
    private TestPeer peer;
    private NetStack stack;
    private UdpSocket socket;

    @BeforeEach
    void start() {
        pool = NetStack.newPool(512, 0);
        VirtualDevice inner = new VirtualDevice("burst", STACK_MAC, pool);
        device = new BurstRecordingDevice(inner);
        peer = new TestPeer(PEER_MAC).answerArpFor(PEER_IP.bits());
        VirtualCable.connect(inner, peer);
        stack = NetStack.builder().device(device).address("10.0.2.15/24").build();
        socket = stack.openUdpSocket().bind(4000);
        // resolve the peer first, so the burst's frames are not parked in the ARP queue
        socket.sendTo(ByteBuffer.wrap(new byte[] {0}), PEER_IP, 9);
        peer.await(isUdpTo(9), "the first datagram");
        // the stack counts a frame after the device took it, and the peer may see it first
        TestPeer.awaitTrue(() -> stack.counters().packetsOut(Layer.ETHERNET) == peer.frames().size(),
                "every frame so far counted");
        peer.clear();
        synchronized (device) {
            device.bursts.clear();
            device.singles = 0;
        }
    }

    @AfterEach
    void close() {
        socket.close();
        stack.close();
        PoolChecks.assertWhole(pool);
    }

    private static Predicate<byte[]> isUdpTo(int port) {
        return f -> Frames.isIpv4(f, 17) && (ByteBuffer.wrap(f).getShort(Frames.transportOffset(f) + 2) & 0xffff) == port;
    }

    private int singles() {
        synchronized (device) {
            return device.singles;
        }
    }

    private static ByteBuffer[] numbered(int n) {
        ByteBuffer[] payloads = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            payloads[i] = ByteBuffer.allocate(4).putInt(0, i);
        }
        return payloads;
    }

    private static int number(byte[] frame) {
        return ByteBuffer.wrap(frame).getInt(Frames.transportOffset(frame) + UdpHeader.HEADER_LENGTH);
    }

    @Test
    void tenDatagramsReachTheDeviceAsOneBurstInOrder() {
        long framesBefore = stack.counters().packetsOut(Layer.ETHERNET);
        ByteBuffer[] payloads = numbered(10);

        assertThat(socket.sendTo(payloads, 0, 10, PEER_IP, 7)).isEqualTo(10);

        assertThat(device.bursts).containsExactly(10);
        List<byte[]> got = peer.awaitCount(isUdpTo(7), 10, "ten datagrams");
        for (int i = 0; i < 10; i++) {
            assertThat(number(got.get(i))).isEqualTo(i);
            assertThat(payloads[i].hasRemaining()).as("payload %d consumed", i).isFalse();
        }
        // frames sent on their own meanwhile (an ARP announcement or retry) are not the burst's
        assertThat(stack.counters().packetsOut(Layer.ETHERNET) - framesBefore - singles()).isEqualTo(10);
    }

    @Test
    void aLongBurstGoesOutInPiecesOfBurstFrames() {
        int n = 2 * EthernetLayer.BURST_FRAMES + 5;
        assertThat(socket.sendTo(numbered(n), 0, n, PEER_IP, 7)).isEqualTo(n);

        assertThat(device.bursts).containsExactly(EthernetLayer.BURST_FRAMES, EthernetLayer.BURST_FRAMES, 5);
        List<byte[]> got = peer.awaitCount(isUdpTo(7), n, n + " datagrams");
        for (int i = 0; i < n; i++) {
            assertThat(number(got.get(i))).isEqualTo(i);
        }
    }

    @Test
    void framesTheDeviceCannotTakeAreDroppedAndCountedNotLost() {
        device.room = 3;
        long ringFull = stack.counters().drops(Drop.ETHERNET_TX_RING_FULL);
        long framesBefore = stack.counters().packetsOut(Layer.ETHERNET);

        // the socket handed all eight to the stack; the ring took three, like a datagram sent to a full ring
        assertThat(socket.sendTo(numbered(8), 0, 8, PEER_IP, 7)).isEqualTo(8);

        assertThat(peer.awaitCount(isUdpTo(7), 3, "three datagrams")).hasSize(3);
        assertThat(stack.counters().drops(Drop.ETHERNET_TX_RING_FULL) - ringFull).isEqualTo(5);
        assertThat(stack.counters().packetsOut(Layer.ETHERNET) - framesBefore - singles()).isEqualTo(3);
        // the five dropped mbufs went back to the pool: close() checks it is whole
    }

    @Test
    void aFailureAfterTheFirstDatagramReturnsTheCountSentBefore() {
        ByteBuffer[] payloads = numbered(5);
        payloads[3] = ByteBuffer.allocate(UdpHeader.MAX_PAYLOAD + 1);

        assertThat(socket.sendTo(payloads, 0, 5, PEER_IP, 7)).isEqualTo(3);

        assertThat(peer.awaitCount(isUdpTo(7), 3, "three datagrams")).hasSize(3);
        assertThat(payloads[3].position()).as("the failed payload is untouched").isZero();
        assertThat(payloads[4].position()).isZero();
    }

    @Test
    void aFailureOnTheFirstDatagramThrowsAsASingleSendWould() {
        ByteBuffer[] payloads = {ByteBuffer.allocate(UdpHeader.MAX_PAYLOAD + 1), ByteBuffer.allocate(4)};

        assertThatThrownBy(() -> socket.sendTo(payloads, 0, 2, PEER_IP, 7))
                .isInstanceOf(MessageTooLongException.class);
        assertThat(device.bursts).as("an empty burst is not handed to the device").isEmpty();
        assertThatThrownBy(() -> socket.sendTo(payloads, 1, 2, PEER_IP, 7))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void otherThreadsTransmitDirectlyWhileABurstIsOpen() throws Exception {
        EthernetLayer ethernet = new EthernetLayer(device, stack.counters());
        ethernet.beginBurst();
        try {
            Thread other = new Thread(() -> {
                Mbuf m = pool.allocate(64);
                m.append(ByteBuffer.wrap(new byte[46]));
                ethernet.transmit(m, PEER_MAC.bits(), 0x88b5);
            });
            other.start();
            other.join();
            assertThat(device.singles).as("the other thread's frame did not wait for our burst").isEqualTo(1);
        } finally {
            ethernet.endBurst();
        }
        assertThatThrownBy(ethernet::endBurst).isInstanceOf(IllegalStateException.class);
    }
}
