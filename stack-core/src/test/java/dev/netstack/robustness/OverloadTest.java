package dev.netstack.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.metrics.Drop;
import dev.netstack.metrics.Layer;
import dev.netstack.socket.UdpSocket;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** More traffic than the receiver can take: bounded queues, counted drops, flat heap, full recovery. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class OverloadTest {

    /** Sends {@code n} datagrams of {@code size} bytes from A to B's port as fast as the caller thread can. */
    static void blast(Pair pair, UdpSocket from, int port, int n, int size) {
        ByteBuffer payload = ByteBuffer.allocate(size);
        for (int i = 0; i < n; i++) {
            payload.clear();
            payload.putInt(0, i);
            try {
                from.sendTo(payload, Pair.B_IP, port);
            } catch (dev.netstack.socket.NetworkException e) {
                // an ICMP error or a momentary lack of buffers: the sender carries on, as an app would
            }
        }
    }

    static long usedHeapAfterGc() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            used = Math.min(used, memory.getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    @Test
    void aSenderFasterThanItsReceiverIsBoundedCountedAndHeapFlat() throws Exception {
        try (Pair pair = new Pair(1024, 1024, 64, 32);
             UdpSocket sender = pair.a.openUdpSocket().bind(4000);
             UdpSocket receiver = pair.b.openUdpSocket().bind(5000)) {
            blast(pair, sender, 5000, 2_000, 512);   // warm up: ARP, JIT, lazily made objects
            pair.settle();
            drain(receiver);
            long heapBefore = usedHeapAfterGc();

            int n = 200_000;
            Thread slowReader = new Thread(() -> {
                ByteBuffer into = ByteBuffer.allocate(2048);
                try {
                    while (!Thread.currentThread().isInterrupted()) {
                        into.clear();
                        receiver.receive(into, Duration.ofMillis(100));
                        Thread.sleep(0, 200_000);
                    }
                } catch (InterruptedException | dev.netstack.socket.SocketClosedException e) {
                    // done
                }
            });
            slowReader.start();
            long maxQueued = 0;
            for (int round = 0; round < 100; round++) {
                blast(pair, sender, 5000, n / 100, 512);
                maxQueued = Math.max(maxQueued, receiver.queuedDatagrams());
            }
            slowReader.interrupt();
            slowReader.join(5_000);
            pair.settle();
            drain(receiver);
            long heapAfter = usedHeapAfterGc();

            assertThat(maxQueued).as("socket queue depth").isLessThanOrEqualTo(32);
            long lost = pair.deviceB.droppedQueueFull() + pair.deviceB.droppedNoBuffer()
                    + pair.b.counters().drops(Drop.UDP_QUEUE_FULL);
            assertThat(lost).as("datagrams dropped for want of room (device queue, pool, socket queue)").isPositive();
            assertThat(pair.deviceA.transmittedFrames())
                    .as("every frame A sent reached B's device: taken or dropped and counted")
                    .isEqualTo(pair.deviceB.receivedFrames() + pair.deviceB.droppedQueueFull() + pair.deviceB.droppedNoBuffer()
                            + pair.deviceB.droppedOversize() + countReplyFrames(pair));
            assertThat(pair.b.counters().packetsIn(Layer.ETHERNET)).isEqualTo(pair.deviceB.receivedFrames());
            Accounting.assertBalanced(pair.b.counters(), pair.reassemblerB, receiver.receivedDatagrams() + receiver.queuedDatagrams());
            assertThat(heapAfter - heapBefore).as("heap growth over %d datagrams (bytes)", n).isLessThan(24L << 20);
        }
    }

    /** Frames B's stack received that A did not send from its socket: none here (B sends nothing to A but ARP). */
    private static long countReplyFrames(Pair pair) {
        return 0;
    }

    static int drain(UdpSocket socket) {
        ByteBuffer into = ByteBuffer.allocate(65536);
        int n = 0;
        while (true) {
            into.clear();
            try {
                if (socket.tryReceive(into) == null) {
                    return n;
                }
                n++;
            } catch (dev.netstack.socket.NetworkException e) {
                // a reported ICMP error; keep reading
            }
        }
    }

    @Test
    void poolExhaustionIsCountedAndRecoversCompletely() throws Exception {
        // B's pool is small and its socket may queue more than the pool holds: an app that stops
        // reading lets the queue eat every buffer, and the device must drop (and count), not fail
        try (Pair pair = new Pair(1024, 64, 256, 10_000);
             UdpSocket sender = pair.a.openUdpSocket().bind(4000);
             UdpSocket receiver = pair.b.openUdpSocket().bind(5000)) {
            // resolve B first: while ARP is pending, A keeps 3 datagrams and drops the rest, and a blast
            // that ends before the reply comes (a cold JVM, a busy machine) never reaches B's pool
            pair.a.ping(Pair.B_IP, 0, Duration.ofSeconds(5));
            blast(pair, sender, 5000, 500, 100);
            pair.settle();
            assertThat(pair.deviceB.droppedNoBuffer()).as("frames B's device dropped with its pool empty").isPositive();
            assertThat(pair.poolB.available()).isLessThanOrEqualTo(2);

            int queued = drain(receiver);
            assertThat(queued).isPositive().isLessThanOrEqualTo(64);
            assertThat(pair.poolB.available()).as("free buffers after the app read").isEqualTo(pair.poolB.capacity());

            // traffic flows again: every datagram of a paced exchange arrives
            ByteBuffer into = ByteBuffer.allocate(2048);
            for (int i = 0; i < 200; i++) {
                sender.sendTo(ByteBuffer.allocate(100).putInt(0, i), Pair.B_IP, 5000);
                into.clear();
                assertThat(receiver.receive(into, Duration.ofSeconds(5))).as("datagram %d after recovery", i).isNotNull();
                assertThat(into.getInt(0)).isEqualTo(i);
            }
            assertThat(pair.b.ping(Pair.A_IP, 56, Duration.ofSeconds(5))).isNotNull();
            pair.settle();
            Accounting.assertBalanced(pair.b.counters(), pair.reassemblerB, receiver.receivedDatagrams() + receiver.queuedDatagrams());
        }
    }

    @Test
    void aFragmentFloodDoesNotStarveTheDefaultStack() throws Exception {
        // built without .reassembler(...): the stack's own default bound must leave the pool usable
        var pool = NetStack.newPool(128, 0);
        var device = new dev.netstack.link.VirtualDevice("guest", Guest.GUEST_MAC, pool);
        var wire = new Guest.Wire();
        dev.netstack.link.VirtualCable.connect(device, wire);
        try (NetStack stack = NetStack.builder().device(device).address(Guest.GUEST_IP, 24).build()) {
            byte[] big = BadInputMatrixTest.echoRequest(Guest.PEER_IP.bits(), Guest.GUEST_IP.bits(), 60_000);
            for (int i = 0; i < 1000; i++) {
                wire.send(BadInputMatrixTest.fragment(big, i * 16, 8, true));
                stack.receiveNow();
            }
            assertThat(pool.available()).as("free buffers under a fragment flood").isGreaterThanOrEqualTo(pool.capacity() / 2);
            long before = wire.count();
            wire.send(BadInputMatrixTest.echoRequest(Guest.PEER_IP.bits(), Guest.GUEST_IP.bits(), 8));
            while (stack.receiveNow() > 0) {
                // the ARP exchange for the reply
            }
            assertThat(wire.recent(before)).anyMatch(BadInputMatrixTest.isEchoReply());
        }
        dev.netstack.testing.PoolChecks.assertWhole(pool);
    }
}
