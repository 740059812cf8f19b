package dev.netstack.robustness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.socket.NetworkException;
import dev.netstack.socket.PortInUseException;
import dev.netstack.socket.SocketClosedException;
import dev.netstack.socket.UdpSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Many threads sending while sockets come and go: no deadlock (every wait has a timeout), no leak. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConcurrencyTest {
    static final int THREADS = 16;
    static final int DATAGRAMS = 10_000;
    static final int FIRST_PORT = 6000;

    @Test
    void sixteenSendersWhileSocketsOpenAndClose() throws Exception {
        try (Pair pair = new Pair(2048, 2048, 256, 64)) {
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicLong received = new AtomicLong();
            AtomicLong closedWhileWaiting = new AtomicLong();
            ExecutorService pool = Executors.newCachedThreadPool();
            List<Future<?>> background = new ArrayList<>();
            // receivers on B: each opens a socket on one of 8 ports, reads a while, closes, repeats
            for (int r = 0; r < 8; r++) {
                int port = FIRST_PORT + r;
                background.add(pool.submit(() -> {
                    ByteBuffer into = ByteBuffer.allocate(2048);
                    while (running.get()) {
                        UdpSocket socket;
                        try {
                            socket = pair.b.openUdpSocket().bind(port);
                        } catch (PortInUseException e) {
                            continue;
                        }
                        try (socket) {
                            int reads = ThreadLocalRandom.current().nextInt(1, 200);
                            for (int i = 0; i < reads && running.get(); i++) {
                                into.clear();
                                if (socket.receive(into, Duration.ofMillis(20)) != null) {
                                    received.incrementAndGet();
                                }
                            }
                        } catch (NetworkException e) {
                            // an ICMP error reported to the socket
                        }
                    }
                    return null;
                }));
            }
            // churn on both stacks: sockets bound to random and ephemeral ports, opened and closed at once
            for (int c = 0; c < 2; c++) {
                var stack = c == 0 ? pair.a : pair.b;
                background.add(pool.submit(() -> {
                    while (running.get()) {
                        try (UdpSocket s = stack.openUdpSocket()) {
                            if (ThreadLocalRandom.current().nextBoolean()) {
                                s.bind(0);
                            } else {
                                s.bind(FIRST_PORT + 8 + ThreadLocalRandom.current().nextInt(8));
                            }
                        } catch (PortInUseException e) {
                            // another churner holds it
                        }
                    }
                    return null;
                }));
            }
            // a socket closed under a blocked receiver, over and over
            background.add(pool.submit(() -> {
                while (running.get()) {
                    UdpSocket s = pair.b.openUdpSocket().bind(0);
                    CountDownLatch waiting = new CountDownLatch(1);
                    Future<?> blocked = pool.submit(() -> {
                        waiting.countDown();
                        try {
                            s.receive(ByteBuffer.allocate(64));
                        } catch (SocketClosedException e) {
                            closedWhileWaiting.incrementAndGet();
                        }
                        return null;
                    });
                    waiting.await();
                    Thread.sleep(1);
                    s.close();
                    blocked.get(5, TimeUnit.SECONDS);
                }
                return null;
            }));

            // 16 senders on A, each with its own socket, 10,000 datagrams to B's 16 ports (8 live, 8 churned)
            List<Future<Long>> senders = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                senders.add(pool.submit(() -> {
                    long sent = 0;
                    try (UdpSocket s = pair.a.openUdpSocket().bind(0)) {
                        ByteBuffer payload = ByteBuffer.allocate(64);
                        for (int i = 0; i < DATAGRAMS; i++) {
                            payload.clear();
                            payload.putInt(0, thread).putInt(4, i);
                            try {
                                s.sendTo(payload, Pair.B_IP, FIRST_PORT + (i + thread) % 16);
                                sent++;
                            } catch (NetworkException e) {
                                // port unreachable reported from an earlier datagram, or no buffer: go on
                            }
                        }
                    }
                    return sent;
                }));
            }
            long sent = 0;
            for (Future<Long> f : senders) {
                sent += f.get(90, TimeUnit.SECONDS);
            }
            running.set(false);
            for (Future<?> f : background) {
                f.get(30, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();

            pair.settle();
            assertThat(sent).as("datagrams sent").isGreaterThan(THREADS * DATAGRAMS / 2);
            assertThat(received.get()).as("datagrams received").isPositive();
            assertThat(closedWhileWaiting.get()).as("receivers woken by close").isPositive();
            assertThat(pair.b.boundSockets()).isZero();
            assertThat(pair.a.boundSockets()).isZero();
            // sockets were closed with datagrams queued, so the socket line of the law is skipped
            Accounting.assertBalanced(pair.b.counters(), pair.reassemblerB, -1);
            Accounting.assertBalanced(pair.a.counters(), pair.reassemblerA, -1);
            assertThat(pair.poolA.available()).isEqualTo(pair.poolA.capacity());
            assertThat(pair.poolB.available()).isEqualTo(pair.poolB.capacity());
        }
    }

    @Test
    void closingASocketWakesABlockedReceiver() throws Exception {
        try (Pair pair = new Pair(256, 256, 64, 64)) {
            UdpSocket socket = pair.b.openUdpSocket().bind(7000);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            CountDownLatch started = new CountDownLatch(1);
            Future<?> receiver = pool.submit(() -> {
                started.countDown();
                return socket.receive(ByteBuffer.allocate(64));
            });
            started.await();
            Thread.sleep(50);
            socket.close();
            assertThatThrownBy(() -> receiver.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(SocketClosedException.class);
            assertThat(pair.b.boundSockets()).isZero();
            pool.shutdown();
        }
    }

    @Test
    void closingTheStackWakesBlockedReceiversAndFreesQueues() throws Exception {
        Pair pair = new Pair(256, 256, 64, 64);
        UdpSocket idle = pair.b.openUdpSocket().bind(7001);
        UdpSocket full = pair.b.openUdpSocket().bind(7002);
        pair.a.ping(Pair.B_IP, 8, Duration.ofSeconds(5));   // resolve B first: ARP queues only 3 packets
        try (UdpSocket sender = pair.a.openUdpSocket().bind(0)) {
            for (int i = 0; i < 20; i++) {
                sender.sendTo(ByteBuffer.allocate(32), Pair.B_IP, 7002);
            }
        }
        pair.settle();
        assertThat(full.queuedDatagrams()).isEqualTo(20);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        Future<?> receiver = pool.submit(() -> idle.receive(ByteBuffer.allocate(64)));
        Thread.sleep(50);
        pair.close();   // asserts both pools whole: the 20 queued datagrams were freed
        assertThatThrownBy(() -> receiver.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(SocketClosedException.class);
        assertThat(full.isClosed()).isTrue();
        pool.shutdown();
    }
}
