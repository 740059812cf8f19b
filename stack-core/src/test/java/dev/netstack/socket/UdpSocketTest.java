package dev.netstack.socket;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.NetStack;
import dev.netstack.buffer.MbufPool;
import dev.netstack.icmp.PingReply;
import dev.netstack.link.LoopbackDevice;
import dev.netstack.testing.PoolChecks;
import dev.netstack.udp.UdpLayer;
import dev.netstack.wire.Ipv4Address;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The socket API on a stack that talks to itself over a loopback device. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UdpSocketTest {
    static final Ipv4Address ME = Ipv4Address.parse("10.9.0.1");

    MbufPool pool;
    NetStack stack;

    @BeforeEach
    void start() {
        pool = NetStack.newPool(4096, 0);
        stack = NetStack.builder().device(new LoopbackDevice(pool)).address("10.9.0.1/24").build();
    }

    @AfterEach
    void close() {
        stack.close();
        PoolChecks.assertWhole(pool);
    }

    static ByteBuffer bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return ByteBuffer.wrap(b);
    }

    @Test
    void aStackOnLoopbackTalksToItself() throws Exception {
        try (UdpSocket a = stack.openUdpSocket().bind(2000); UdpSocket b = stack.openUdpSocket().bind(2001)) {
            a.sendTo(bytes(1, 2, 3), ME, 2001);
            ByteBuffer in = ByteBuffer.allocate(10);
            InetSocketAddress from = b.receive(in, Duration.ofSeconds(5));
            assertThat(from).isEqualTo(new InetSocketAddress(ME.toInetAddress(), 2000));
            assertThat(in.flip()).isEqualTo(bytes(1, 2, 3));
        }
        // the echo reply is transmitted from inside the receive pipeline, and comes back to it
        PingReply reply = stack.ping(ME, 100, Duration.ofSeconds(5));
        assertThat(reply.from()).isEqualTo(ME);
        assertThat(reply.bytes()).isEqualTo(108);
    }

    @Test
    void ephemeralPortsComeFromTheIanaRange() {
        List<UdpSocket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i < 200; i++) {
                UdpSocket s = stack.openUdpSocket().bind(0);
                sockets.add(s);
                assertThat(s.localPort()).isBetween(UdpLayer.EPHEMERAL_FIRST, UdpLayer.EPHEMERAL_LAST);
            }
            assertThat(sockets.stream().mapToInt(UdpSocket::localPort).distinct().count()).isEqualTo(200);
            UdpSocket implicit = stack.openUdpSocket();
            sockets.add(implicit);
            implicit.sendTo(bytes(1), ME, 9);
            assertThat(implicit.localPort()).isBetween(49152, 65535);
        } finally {
            sockets.forEach(UdpSocket::close);
        }
        assertThat(stack.boundSockets()).isZero();
    }

    @Test
    void aDoubleBindIsRefusedWithAClearMessageAndWorksAfterClose() {
        UdpSocket first = stack.openUdpSocket().bind(2000);
        try (UdpSocket second = stack.openUdpSocket()) {
            assertThatThrownBy(() -> second.bind(2000))
                    .isInstanceOf(PortInUseException.class)
                    .hasMessageContaining("port 2000 is already bound");
            assertThatThrownBy(() -> stack.openUdpSocket().bind(ME, 2000)).isInstanceOf(PortInUseException.class);
            first.close();
            assertThat(second.bind(2000).localPort()).isEqualTo(2000);
            assertThatThrownBy(() -> second.bind(2001)).isInstanceOf(IllegalStateException.class).hasMessageContaining("already bound");
        }
        assertThatThrownBy(() -> stack.openUdpSocket().bind(70000)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void receiveWithATimeoutReturnsNullAndTryReceiveDoesNotBlock() throws Exception {
        try (UdpSocket s = stack.openUdpSocket().bind(2000)) {
            long start = System.nanoTime();
            assertThat(s.receive(ByteBuffer.allocate(10), Duration.ofMillis(100))).isNull();
            assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(90));
            start = System.nanoTime();
            assertThat(s.tryReceive(ByteBuffer.allocate(10))).isNull();
            assertThat(s.tryReceiveFrom(ByteBuffer.allocate(10))).isEqualTo(UdpSocket.NOTHING);
            assertThat(System.nanoTime() - start).isLessThan(TimeUnit.MILLISECONDS.toNanos(50));

            s.sendTo(bytes(7), ME, 2000);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            InetSocketAddress from = null;
            ByteBuffer in = ByteBuffer.allocate(10);
            while (from == null && System.nanoTime() < deadline) {
                from = s.tryReceive(in);
                Thread.onSpinWait();
            }
            assertThat(from).isNotNull();
            assertThat(in.flip()).isEqualTo(bytes(7));
        }
    }

    @Test
    void aSmallBufferTruncatesTheDatagram() throws Exception {
        try (UdpSocket s = stack.openUdpSocket().bind(2000)) {
            byte[] big = new byte[1000];
            for (int i = 0; i < big.length; i++) {
                big[i] = (byte) i;
            }
            s.sendTo(ByteBuffer.wrap(big), ME, 2000);
            s.sendTo(bytes(42), ME, 2000);
            ByteBuffer small = ByteBuffer.allocate(10);
            assertThat(s.receive(small, Duration.ofSeconds(5))).isNotNull();
            assertThat(small.position()).isEqualTo(10);
            assertThat(small.flip()).isEqualTo(ByteBuffer.wrap(big, 0, 10));
            ByteBuffer next = ByteBuffer.allocate(10);
            assertThat(s.receive(next, Duration.ofSeconds(5))).isNotNull();
            assertThat(next.flip()).as("the rest of the first datagram is discarded").isEqualTo(bytes(42));
        }
    }

    @Test
    void closeWakesABlockedReceiver() throws Exception {
        UdpSocket s = stack.openUdpSocket().bind(2000);
        CompletableFuture<Object> receiver = CompletableFuture.supplyAsync(() -> {
            try {
                return s.receive(ByteBuffer.allocate(10));
            } catch (Exception e) {
                return e;
            }
        });
        Thread.sleep(50);
        assertThat(receiver).isNotDone();
        s.close();
        assertThat(receiver.get(5, TimeUnit.SECONDS)).isInstanceOf(SocketClosedException.class);
        assertThat(s.isClosed()).isTrue();
    }

    @Test
    void closingTheStackWakesABlockedReceiver() throws Exception {
        UdpSocket s = stack.openUdpSocket().bind(2000);
        CompletableFuture<Object> receiver = CompletableFuture.supplyAsync(() -> {
            try {
                return s.receive(ByteBuffer.allocate(10));
            } catch (Exception e) {
                return e;
            }
        });
        Thread.sleep(50);
        stack.close();
        assertThat(receiver.get(5, TimeUnit.SECONDS)).isInstanceOf(SocketClosedException.class);
    }

    @Test
    void sendAfterCloseThrows() {
        UdpSocket bound = stack.openUdpSocket().bind(2000);
        bound.close();
        assertThatThrownBy(() -> bound.sendTo(bytes(1), ME, 2001))
                .isInstanceOf(SocketClosedException.class)
                .hasMessageContaining("closed");
        UdpSocket unbound = stack.openUdpSocket();
        unbound.close();
        assertThatThrownBy(() -> unbound.sendTo(bytes(1), ME, 2001)).isInstanceOf(SocketClosedException.class);
        assertThatThrownBy(() -> bound.receive(ByteBuffer.allocate(1), Duration.ofMillis(1))).isInstanceOf(SocketClosedException.class);
        assertThatThrownBy(() -> bound.tryReceive(ByteBuffer.allocate(1))).isInstanceOf(SocketClosedException.class);
    }

    @Test
    void overTheIpv4MaximumIsMessageTooLong() throws Exception {
        try (UdpSocket s = stack.openUdpSocket().bind(2000)) {
            assertThatThrownBy(() -> s.sendTo(ByteBuffer.allocate(65508), ME, 2001))
                    .isInstanceOf(MessageTooLongException.class)
                    .hasMessageContaining("65508")
                    .hasMessageContaining("65507");
            // the largest datagram is fine (fragmented over 45 frames, reassembled on the way back)
            ByteBuffer max = ByteBuffer.allocate(65507);
            for (int i = 0; i < max.capacity(); i++) {
                max.put(i, (byte) (i * 7));
            }
            assertThat(s.sendTo(max, ME, 2000)).isEqualTo(65507);
            ByteBuffer in = ByteBuffer.allocate(70000);
            assertThat(s.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(in.flip()).isEqualTo(max.rewind());
        }
    }

    @Test
    void connectedSendGoesToThePeer() throws Exception {
        try (UdpSocket server = stack.openUdpSocket().bind(2000); UdpSocket client = stack.openUdpSocket().connect(ME, 2000)) {
            assertThat(client.localPort()).isBetween(49152, 65535);
            client.send(bytes(5));
            ByteBuffer in = ByteBuffer.allocate(10);
            InetSocketAddress from = server.receive(in, Duration.ofSeconds(5));
            assertThat(from.getPort()).isEqualTo(client.localPort());
            assertThatThrownBy(() -> server.send(bytes(1))).isInstanceOf(IllegalStateException.class).hasMessageContaining("not connected");
        }
    }

    @Test
    void sixteenSendersWhileSocketsOpenAndCloseNeitherDeadlockNorLeak() throws Exception {
        int threads = 16;
        int perThread = 1000;
        AtomicBoolean sending = new AtomicBoolean(true);
        AtomicLong received = new AtomicLong();
        ExecutorService executor = Executors.newCachedThreadPool();
        try (UdpSocket sink = stack.openUdpSocket(4096, 1 << 22).bind(3000)) {
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                work.add(executor.submit(() -> {
                    ByteBuffer out = ByteBuffer.allocate(32);
                    for (int i = 0; i < perThread; i++) {
                        try (UdpSocket s = (i % 100 == 0) ? stack.openUdpSocket() : null) {
                            out.clear().putInt(i).flip();
                            if (s != null) {
                                s.sendTo(out, ME, 3000);
                            } else {
                                sharedSender(out);
                            }
                        } catch (NetworkException e) {
                            // only "no packet buffer free" is acceptable under this load
                            assertThat(e.getMessage()).contains("no packet buffer");
                        }
                    }
                    return null;
                }));
            }
            // churn: sockets bound, fed, closed with datagrams in their queues and receivers blocked on them
            work.add(executor.submit(() -> {
                while (sending.get()) {
                    UdpSocket s = stack.openUdpSocket().bind(0);
                    CompletableFuture<Object> blocked = CompletableFuture.supplyAsync(() -> {
                        try {
                            return s.receive(ByteBuffer.allocate(4), Duration.ofSeconds(10));
                        } catch (Exception e) {
                            return e;
                        }
                    }, executor);
                    try {
                        s.sendTo(bytes(1, 2), ME, s.localPort());
                        s.sendTo(bytes(3, 4), ME, s.localPort());
                    } catch (NetworkException e) {
                        // the sixteen senders may have the pool empty for a moment, as above
                        assertThat(e.getMessage()).contains("no packet buffer");
                    }
                    if (ThreadLocalRandom.current().nextBoolean()) {
                        Thread.onSpinWait();
                    }
                    s.close();
                    Object outcome = blocked.get(10, TimeUnit.SECONDS);
                    assertThat(outcome).satisfiesAnyOf(
                            o -> assertThat(o).isInstanceOf(InetSocketAddress.class),
                            o -> assertThat(o).isInstanceOf(SocketClosedException.class));
                }
                return null;
            }));
            Future<?> drain = executor.submit(() -> {
                ByteBuffer in = ByteBuffer.allocate(64);
                while (true) {
                    in.clear();
                    if (sink.receive(in, Duration.ofMillis(500)) == null && !sending.get()) {
                        return null;
                    }
                    received.incrementAndGet();
                }
            });
            for (int i = 0; i < threads; i++) {
                work.get(i).get(40, TimeUnit.SECONDS);
            }
            sending.set(false);
            work.get(threads).get(20, TimeUnit.SECONDS);
            drain.get(20, TimeUnit.SECONDS);
            assertThat(received.get()).isPositive().isLessThanOrEqualTo((long) threads * perThread);
        } finally {
            executor.shutdownNow();
        }
        shared().close();
        assertThat(stack.boundSockets()).isZero();
    }

    private UdpSocket shared;

    private synchronized UdpSocket shared() {
        if (shared == null) {
            shared = stack.openUdpSocket().bind(0);
        }
        return shared;
    }

    private void sharedSender(ByteBuffer out) {
        shared().sendTo(out, ME, 3000);
    }

    @AfterEach
    void closeShared() {
        if (shared != null) {
            shared.close();
        }
    }
}
