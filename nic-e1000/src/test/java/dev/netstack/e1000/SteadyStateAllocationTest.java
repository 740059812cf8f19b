package dev.netstack.e1000;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.link.VirtualCable;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The data path allocates nothing per datagram once warm: a sender thread, a receiver thread and
 * both stacks' receive threads move tens of thousands of datagrams through two E1000 cards, and
 * the bytes those threads allocated meanwhile are counted (the JVM's per-thread allocation counter).
 */
class SteadyStateAllocationTest {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static final Ipv4Address B = Ipv4Address.parse("10.0.2.2");
    private static final int WARM = 30_000;
    private static final int MEASURED = 50_000;

    private static E1000Driver driver(String name, MacAddress mac, E1000Config config) {
        int buffers = config.receiveRingSize() + config.transmitRingSize() + 1024;
        DmaMemory memory = DmaMemory.allocate(buffers * Mbuf.SIZE + (1 << 20));
        MbufPool pool = MbufPool.carve(memory, buffers, false);
        return new E1000Driver(new E1000Device(memory, mac), memory, pool, mac, config.withName(name));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"busy-poll", "interrupt"})
    void aWarmDataPathAllocatesNothingPerDatagram(String mode) throws Exception {
        E1000Config config = mode.equals("busy-poll") ? E1000Config.defaults().withBusyPoll(64) : E1000Config.defaults();
        E1000Driver a = driver("alloc-a", MacAddress.parse("52:54:00:12:34:56"), config);
        E1000Driver b = driver("alloc-b", MacAddress.parse("52:55:0a:00:02:02"), config);
        VirtualCable.connect(a.card().port(), b.card().port());
        try (NetStack sa = NetStack.builder().device(a).address("10.0.2.15/24").build();
             NetStack sb = NetStack.builder().device(b).address("10.0.2.2/24").socketQueue(4096, 16 << 20).build();
             UdpSocket out = sa.openUdpSocket().bind(6000);
             UdpSocket in = sb.openUdpSocket().bind(6001)) {
            sa.ping(B, 0, Duration.ofSeconds(2));
            AtomicLong received = new AtomicLong();
            Thread receiver = new Thread(() -> {
                ByteBuffer into = ByteBuffer.allocateDirect(2048);
                try {
                    while (received.get() < WARM + MEASURED) {
                        into.clear();
                        if (in.receiveFrom(into, TimeUnit.SECONDS.toNanos(5)) == UdpSocket.NOTHING) {
                            return;
                        }
                        received.incrementAndGet();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "alloc-receiver");
            receiver.start();
            ByteBuffer payload = ByteBuffer.allocateDirect(64);

            send(out, payload, WARM, received);
            List<Thread> threads = List.of(Thread.currentThread(), receiver, thread("netstack-rx-alloc-a"),
                    thread("netstack-rx-alloc-b"));
            long before = allocated(threads);
            send(out, payload, MEASURED, received);
            receiver.join(TimeUnit.SECONDS.toMillis(30));
            long after = allocated(threads);

            assertThat(received.get()).isEqualTo(WARM + MEASURED);
            // a few hundred bytes of one-off work (a JIT deoptimisation re-linking a call site) may
            // land in the window; one allocation per datagram would be 50,000 times 16 bytes or more
            assertThat(after - before).as("bytes allocated while %d datagrams went through", MEASURED)
                    .isLessThan(MEASURED / 10);
        }
    }

    /**
     * Sends {@code n} datagrams, keeping at most half a receive ring in flight so the card drops
     * none, and waits until they arrived.
     */
    private static void send(UdpSocket out, ByteBuffer payload, int n, AtomicLong received) {
        long sent = received.get();   // everything sent before has arrived
        long target = sent + n;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (received.get() < target) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("only " + received.get() + " of " + target + " datagrams arrived");
            }
            if (sent < target && sent - received.get() < E1000Config.DEFAULT_RING_SIZE / 2) {
                payload.clear();
                out.sendTo(payload, B.bits(), 6001);
                sent++;
            } else {
                Thread.onSpinWait();
            }
        }
    }

    private static Thread thread(String name) {
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals(name)) {
                return t;
            }
        }
        throw new IllegalStateException("no thread " + name);
    }

    private static long allocated(List<Thread> threads) {
        long sum = 0;
        for (Thread t : threads) {
            sum += THREADS.getThreadAllocatedBytes(t.getId());
        }
        return sum;
    }
}
