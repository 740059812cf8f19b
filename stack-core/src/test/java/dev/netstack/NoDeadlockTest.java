package dev.netstack;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.buffer.MbufPool;
import dev.netstack.icmp.PingReply;
import dev.netstack.link.LoopbackDevice;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The xv6 net lab deadlock (the receive path transmits a reply while holding the lock the transmit
 * path needs) must be impossible: both receive threads answer ARP and echo requests while
 * application threads on both sides send and ping at once.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class NoDeadlockTest {
    static final Ipv4Address A = Ipv4Address.parse("10.0.2.15");
    static final Ipv4Address B = Ipv4Address.parse("10.0.2.2");

    @Test
    void bothSidesSendAndPingConcurrentlyWhileTheirReceiveThreadsReply() throws Exception {
        MbufPool poolA = NetStack.newPool(4096, 0);
        MbufPool poolB = NetStack.newPool(4096, 0);
        VirtualDevice devA = new VirtualDevice("a", MacAddress.parse("52:54:00:12:34:56"), poolA, 1500, 4096);
        VirtualDevice devB = new VirtualDevice("b", MacAddress.parse("52:55:0a:00:02:02"), poolB, 1500, 4096);
        VirtualCable.connect(devA, devB);
        NetStack a = NetStack.builder().device(devA).address("10.0.2.15/24").socketQueue(1024, 64 << 20).build();
        NetStack b = NetStack.builder().device(devB).address("10.0.2.2/24").socketQueue(1024, 64 << 20).build();
        ExecutorService executor = Executors.newCachedThreadPool();
        AtomicLong pings = new AtomicLong();
        AtomicLong sent = new AtomicLong();
        try (UdpSocket sinkA = a.openUdpSocket().bind(7000); UdpSocket sinkB = b.openUdpSocket().bind(7000)) {
            // resolve both ways first: while ARP is pending a stack keeps 3 datagrams per next hop and
            // drops the rest, and the senders below would crowd a ping's echo request out of those 3
            a.ping(B, 0, Duration.ofSeconds(5));
            b.ping(A, 0, Duration.ofSeconds(5));
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            List<Future<?>> work = new ArrayList<>();
            for (NetStack[] pair : new NetStack[][] {{a, b}, {b, a}}) {
                NetStack from = pair[0];
                Ipv4Address to = pair[1].address();
                for (int t = 0; t < 2; t++) {
                    work.add(executor.submit(() -> {
                        try (UdpSocket s = from.openUdpSocket()) {
                            ByteBuffer out = ByteBuffer.allocate(200);
                            while (System.nanoTime() < until) {
                                out.clear().limit(1 + (int) (sent.get() % 200));
                                s.sendTo(out, to, 7000);
                                sent.incrementAndGet();
                                if (sent.get() % 20 == 0) {
                                    Thread.sleep(1);   // paced below what a receive thread handles: no queue overflows, so no ping may be lost
                                }
                            }
                        }
                        return null;
                    }));
                }
                work.add(executor.submit(() -> {
                    while (System.nanoTime() < until) {
                        PingReply reply = from.ping(to, 56, Duration.ofSeconds(5));
                        assertThat(reply.from()).isEqualTo(to);
                        pings.incrementAndGet();
                    }
                    return null;
                }));
            }
            for (UdpSocket sink : new UdpSocket[] {sinkA, sinkB}) {
                executor.submit(() -> {
                    ByteBuffer in = ByteBuffer.allocate(256);
                    while (!sink.isClosed()) {
                        in.clear();
                        sink.receive(in, Duration.ofMillis(100));
                    }
                    return null;
                });
            }
            // both sides ping each other at once: each receive thread answers while its own stack waits for a reply
            work.add(executor.submit(() -> {
                while (System.nanoTime() < until) {
                    Thread.sleep(50);
                    a.ping(B, 0, Duration.ofSeconds(5));
                    b.ping(A, 0, Duration.ofSeconds(5));
                }
                return null;
            }));
            for (Future<?> f : work) {
                f.get(20, TimeUnit.SECONDS);   // every ping got its reply (a lost one would throw PingTimeoutException)
            }
            assertThat(pings.get()).isGreaterThan(10);
            assertThat(sent.get()).isGreaterThan(100);
            // both receive threads are still alive and answering
            assertThat(a.ping(B, 8, Duration.ofSeconds(5)).from()).isEqualTo(B);
            assertThat(b.ping(A, 8, Duration.ofSeconds(5)).from()).isEqualTo(A);
        } finally {
            executor.shutdownNow();
            a.close();
            b.close();
        }
        PoolChecks.assertWhole(poolA);
        PoolChecks.assertWhole(poolB);
    }

    @Test
    void aSinkMayTransmitFromInsideReceiveOnALoopbackDevice() throws Exception {
        MbufPool pool = NetStack.newPool(256, 0);
        LoopbackDevice loopback = new LoopbackDevice(pool);
        // at device level: the sink answers each frame by transmitting a shorter copy, on the receiving thread
        dev.netstack.buffer.Mbuf first = pool.allocate();
        first.put(60);
        first.buffer().put(first.head(), (byte) 5);
        assertThat(loopback.transmit(first)).isEqualTo(dev.netstack.link.NetDevice.TRANSMITTED);
        List<Integer> seen = new ArrayList<>();
        for (int round = 0; round < 10 && seen.size() < 6; round++) {
            loopback.receive(frame -> {
                int hop = frame.buffer().get(frame.head());
                seen.add(hop);
                if (hop > 0) {
                    frame.buffer().put(frame.head(), (byte) (hop - 1));
                    assertThat(loopback.transmit(frame)).isEqualTo(dev.netstack.link.NetDevice.TRANSMITTED);
                } else {
                    frame.free();
                }
            }, 64);
        }
        assertThat(seen).containsExactly(5, 4, 3, 2, 1, 0);
        loopback.close();
        PoolChecks.assertWhole(pool);

        // at stack level: echo replies and UDP answers sent from the receive pipeline come back to it
        MbufPool stackPool = NetStack.newPool(512, 0);
        try (NetStack stack = NetStack.builder().device(new LoopbackDevice(stackPool)).address("10.9.0.1/24").build();
                UdpSocket s = stack.openUdpSocket().bind(2000)) {
            for (int i = 0; i < 20; i++) {
                assertThat(stack.ping(Ipv4Address.parse("10.9.0.1"), i * 50, Duration.ofSeconds(5)).bytes()).isEqualTo(8 + i * 50);
            }
            s.sendTo(ByteBuffer.wrap(new byte[] {1}), Ipv4Address.parse("10.9.0.1"), 2000);
            assertThat(s.receive(ByteBuffer.allocate(4), Duration.ofSeconds(5))).isNotNull();
        }
        PoolChecks.assertWhole(stackPool);
    }
}
