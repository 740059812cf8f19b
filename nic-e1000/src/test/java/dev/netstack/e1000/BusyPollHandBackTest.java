package dev.netstack.e1000;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.link.TestPeer;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.Ipv4Address;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * In busy-poll mode a receiving application thread polls the card itself and the stack's receive
 * thread stands back. While the application is away the receive thread has the card and fills the
 * socket's queue. When the application reads again it must get the card back, also while its queue
 * never runs empty: otherwise the receive thread keeps the card, and two threads spin on one stream
 * of datagrams (three with the sender, on a machine that may have two cores).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BusyPollHandBackTest {
    private static final E1000Config BUSY = E1000Config.defaults().withRingSizes(256, 256).withBusyPoll(64);
    private static final Ipv4Address B = Rig.B_ADDRESS;
    /**
     * Datagrams waiting for the reader when it comes back; it sends one more for each it reads. Fewer
     * than half the ring, less the 16 descriptors the driver may hold before it gives them back: at
     * half the card raises RXDMT0, and the receive thread then rightly helps an active reader that
     * falls behind ({@code BusyPollBacklogTest}).
     */
    private static final int BACKLOG = 96;
    /** Read before the reader goes away, so that the code it runs is compiled when it comes back. */
    private static final int WARM_UP = 6_000;
    /**
     * Read after it came back. Short, so that the receive thread's timers (every 100 ms, for which it
     * takes the card for one batch) fall into it at most once.
     */
    private static final int MEASURED = 2_000;
    /** What the reader does with each datagram, so that it is slower than the receive thread. */
    private static final long WORK_NANOS = 3_000;

    @Test
    void aReaderThatComesBackTakesTheCardBackFromTheReceiveThread() throws Exception {
        try (Rig rig = new Rig(BUSY.withName("a"), BUSY.withName("b"));
             NetStack a = rig.stackA();
             NetStack b = rig.stackB();
             UdpSocket sender = a.openUdpSocket().bind(5000);
             UdpSocket reader = b.openUdpSocket(1024, 1 << 20).bind(5001)) {
            a.ping(B, 0, Duration.ofSeconds(2));
            ByteBuffer payload = ByteBuffer.allocateDirect(64);
            // nobody reads yet: the receive thread has the card and queues what arrives
            Rig.queueUnread(sender, reader, BACKLOG, BACKLOG);

            ByteBuffer in = ByteBuffer.allocateDirect(2048);
            readAndReplace(reader, in, sender, payload, WARM_UP);

            // the reader goes away without waiting: the receive thread takes the card back and
            // queues the datagrams still in flight
            TestPeer.awaitTrue(() -> reader.queuedDatagrams() == BACKLOG, "the receive thread queues again");

            // the reader comes back; each datagram it reads is replaced by a new one, so its queue
            // runs empty only if the receive thread stops moving frames from the card into it
            long byThread = b.framesReceivedByReceiveThread();
            long byReader = b.framesReceivedByApplications();
            readAndReplace(reader, in, sender, payload, MEASURED);

            long polled = b.framesReceivedByApplications() - byReader;
            assertThat(polled)
                    .as("frames the reader polled itself in its first %d datagrams back (the receive thread took %d)",
                            MEASURED, b.framesReceivedByReceiveThread() - byThread)
                    .isGreaterThan(MEASURED * 3 / 4);
        }
    }

    private static void readAndReplace(UdpSocket reader, ByteBuffer in, UdpSocket sender, ByteBuffer payload, int count)
            throws InterruptedException {
        for (int i = 0; i < count; i++) {
            in.clear();
            assertThat(reader.receiveFrom(in, TimeUnit.SECONDS.toNanos(5))).as("datagram %d", i).isNotEqualTo(UdpSocket.NOTHING);
            sender.sendTo(payload.clear(), B, 5001);
            long until = System.nanoTime() + WORK_NANOS;
            while (System.nanoTime() - until < 0) {
                Thread.onSpinWait();
            }
        }
    }
}
