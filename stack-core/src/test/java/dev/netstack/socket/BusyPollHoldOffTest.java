package dev.netstack.socket;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.link.FrameSink;
import dev.netstack.link.LoopbackDevice;
import dev.netstack.link.NetDevice;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A busy-polling socket that only receives pauses between looks that find nothing; one that has
 * sent since it last took a datagram (waiting for a reply) looks continuously. Counted as looks at
 * the device during a receive that times out, which a slow machine can only make fewer.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BusyPollHoldOffTest {
    static final Ipv4Address ME = Ipv4Address.parse("10.9.0.1");

    /** A loopback device that says it is polled, and counts the looks. */
    static final class CountingPolledDevice implements NetDevice {
        final LoopbackDevice inner;
        final AtomicLong looks = new AtomicLong();

        CountingPolledDevice(MbufPool pool) {
            inner = new LoopbackDevice(pool);
        }

        @Override public String name() { return inner.name(); }
        @Override public MacAddress macAddress() { return inner.macAddress(); }
        @Override public int mtu() { return inner.mtu(); }
        @Override public boolean isLinkUp() { return inner.isLinkUp(); }
        @Override public MbufPool pool() { return inner.pool(); }
        @Override public int transmit(Mbuf frame) { return inner.transmit(frame); }
        @Override public int receive(FrameSink sink, int budget) { return inner.receive(sink, budget); }
        @Override public boolean awaitReceive(long timeoutNanos) throws InterruptedException { return inner.awaitReceive(timeoutNanos); }
        @Override public void close() { inner.close(); }
        @Override public boolean busyPoll() { return true; }

        /** Only a polling socket asks this (the receive thread calls {@link #receive} directly). */
        @Override
        public boolean receivePending() {
            looks.incrementAndGet();
            return inner.receivePending();
        }
    }

    MbufPool pool = NetStack.newPool(1024, 0);
    CountingPolledDevice device = new CountingPolledDevice(pool);
    NetStack stack;

    NetStack stack(Duration holdOff) {
        stack = NetStack.builder().device(device).address("10.9.0.1/24")
                .busyPollSpin(Duration.ofSeconds(10))   // the receives below spin until their timeout
                .busyPollHoldOff(holdOff)
                .build();
        return stack;
    }

    @AfterEach
    void close() {
        if (stack != null) {
            stack.close();
        }
        PoolChecks.assertWhole(pool);
    }

    /** Looks at the device made by a receive on {@code socket} that waits {@code millis} for nothing. */
    long looksWhileWaiting(UdpSocket socket, long millis) throws Exception {
        long before = device.looks.get();
        assertThat(socket.receiveFrom(ByteBuffer.allocate(64), TimeUnit.MILLISECONDS.toNanos(millis)))
                .isEqualTo(UdpSocket.NOTHING);
        return device.looks.get() - before;
    }

    @Test
    void aSocketThatOnlyReceivesPausesBetweenEmptyLooks() throws Exception {
        NetStack s = stack(Duration.ofMillis(1));
        try (UdpSocket reader = s.openUdpSocket().bind(7000)) {
            // 20 ms with a look at most every millisecond, and the spin's end seen at the first look
            // after it (not up to 16 pauses late): about 21 looks, fewer on a slow machine
            assertThat(looksWhileWaiting(reader, 20)).isBetween(1L, 25L);
        }
    }

    @Test
    void aSocketWaitingForAReplyLooksContinuously() throws Exception {
        NetStack s = stack(Duration.ofMillis(1));
        try (UdpSocket client = s.openUdpSocket().bind(7000);
             UdpSocket sink = s.openUdpSocket().bind(7001)) {
            client.sendTo(ByteBuffer.wrap(new byte[] {1}), ME, 7001);

            assertThat(looksWhileWaiting(client, 100)).as("looks in 100 ms without pauses").isGreaterThan(100L);

            // once it has taken a datagram, it is reading a stream again and pauses
            sink.sendTo(ByteBuffer.wrap(new byte[] {2}), ME, 7000);
            assertThat(client.receiveFrom(ByteBuffer.allocate(8), TimeUnit.SECONDS.toNanos(5))).isNotEqualTo(UdpSocket.NOTHING);
            assertThat(looksWhileWaiting(client, 20)).isBetween(1L, 25L);
        }
    }

    @Test
    void zeroHoldOffLooksContinuously() throws Exception {
        NetStack s = stack(Duration.ZERO);
        try (UdpSocket reader = s.openUdpSocket().bind(7000)) {
            assertThat(looksWhileWaiting(reader, 100)).isGreaterThan(100L);
        }
    }

    @Test
    void aNegativeHoldOffIsRefused() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> NetStack.builder().busyPollHoldOff(Duration.ofNanos(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("hold-off");
    }
}
