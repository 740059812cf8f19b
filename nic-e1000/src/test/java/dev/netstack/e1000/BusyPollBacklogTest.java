package dev.netstack.e1000;

import static dev.netstack.e1000.E1000Registers.ICR_RXDMT0;
import static dev.netstack.e1000.E1000Registers.ICR_RXO;
import static dev.netstack.e1000.E1000Registers.IMS;
import static dev.netstack.e1000.E1000Registers.MPC;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.link.TestPeer;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.Ipv4Address;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * While application threads busy-poll the card, the stack's receive thread stands back, and it
 * sleeps on the card's backlog causes instead of looking every so often: RXDMT0 (the descriptors the
 * card owns fell to half the ring) and RXO (a frame was lost). A stream the pollers keep up with
 * never wakes it; one they fall behind on does, and it then moves frames into the socket queues.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BusyPollBacklogTest {
    private static final int RING = 64;
    private static final E1000Config BUSY = E1000Config.defaults().withRingSizes(RING, RING).withBusyPoll(16);
    /**
     * How long the reader sleeps after each datagram it reads (at least; longer on a busy machine).
     * With 128 descriptors left when RXDMT0 fires, less the 15 the driver may hold, the receive
     * thread then has over 5 ms to wake, also in a test JVM whose compiler threads take the CPUs.
     */
    private static final long PAUSE_NANOS = 50_000;
    /** Enough frames to leave the card half the ring: it owns RING - 1 descriptors to begin with. */
    private static final int HALF_A_RING = RING / 2;

    @Test
    void aBacklogAlreadyInTheRingReturnsAtOnceWithInterruptsStillMasked() throws Exception {
        try (Rig rig = new Rig(BUSY.withName("a"), BUSY.withName("b"))) {
            for (int i = 0; i < HALF_A_RING; i++) {
                rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, i));
            }

            assertThat(rig.b.driver.awaitBacklog(TimeUnit.SECONDS.toNanos(5))).isTrue();
            assertThat(rig.b.card.read(IMS)).as("no interrupt was needed").isZero();
        }
    }

    @Test
    void aFewFramesWaitingDoNotEndTheWait() throws Exception {
        try (Rig rig = new Rig(BUSY.withName("a"), BUSY.withName("b"))) {
            for (int i = 0; i < 3; i++) {
                rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, i));
            }

            assertThat(rig.b.driver.awaitBacklog(TimeUnit.MILLISECONDS.toNanos(30)))
                    .as("three frames are no backlog, and their RXT0 is not waited for").isFalse();
            assertThat(rig.b.card.read(IMS)).as("masked again after the wait").isZero();
            assertThat(rig.b.receive(RING)).hasSize(3);
        }
    }

    @Test
    void framesBackingUpDuringTheWaitWakeIt() throws Exception {
        try (Rig rig = new Rig(BUSY.withName("a"), BUSY.withName("b"))) {
            CompletableFuture<Boolean> woke = Rig.inBackground(() -> rig.b.driver.awaitBacklog(TimeUnit.SECONDS.toNanos(10)));
            TestPeer.awaitTrue(() -> rig.b.card.read(IMS) == (ICR_RXDMT0 | ICR_RXO), "the waiter unmasks RXDMT0 and RXO");
            for (int i = 0; i < HALF_A_RING; i++) {
                rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, i));
            }

            assertThat(woke.get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(rig.b.card.read(IMS)).isZero();
            assertThat(rig.b.receive(RING)).hasSize(HALF_A_RING);
        }
    }

    @Test
    void anUnparkEndsTheWaitWithoutABacklog() throws Exception {
        // the stack unparks its receive thread when a poller stops to wait: the thread must then
        // take the card at once, not when the timeout passes
        try (Rig rig = new Rig(BUSY.withName("a"), BUSY.withName("b"))) {
            AtomicBoolean result = new AtomicBoolean(true);
            Thread waiter = new Thread(() -> {
                try {
                    result.set(rig.b.driver.awaitBacklog(TimeUnit.SECONDS.toNanos(30)));
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            waiter.start();
            TestPeer.awaitTrue(() -> rig.b.card.read(IMS) != 0, "the waiter unmasks the backlog causes");
            java.util.concurrent.locks.LockSupport.unpark(waiter);

            waiter.join(TimeUnit.SECONDS.toMillis(5));
            assertThat(waiter.isAlive()).as("still waiting after the unpark").isFalse();
            assertThat(result.get()).isFalse();
            assertThat(rig.b.card.read(IMS)).isZero();
        }
    }

    @Test
    void aReaderThatFallsBehindByMoreThanTheRingLosesNothing() throws Exception {
        // More datagrams in flight than the ring holds: the reader takes them from its queue while
        // the replacements it sends pile up in the ring, which it leaves alone until the queue runs
        // empty. Standing back for as long as the reader is active would overflow the ring; the
        // backlog wakes the receive thread instead, which moves the frames into the queue.
        // The default ring: the half of it left when RXDMT0 fires is the time the receive thread has
        // to wake up.
        int ring = 256;
        int inFlight = 300;   // more than the card's 255 descriptors; with them, within the test pool
        E1000Config config = BUSY.withRingSizes(ring, ring);
        Ipv4Address b = Rig.B_ADDRESS;
        try (Rig rig = new Rig(config.withName("a"), config.withName("b"));
             NetStack guest = rig.stackA();
             NetStack host = rig.stackB();
             UdpSocket sender = guest.openUdpSocket().bind(5000);
             UdpSocket reader = host.openUdpSocket(1024, 1 << 20).bind(5001)) {
            guest.ping(b, 0, Duration.ofSeconds(2));
            Rig.queueUnread(sender, reader, inFlight, ring / 4);   // nobody polls yet
            ByteBuffer payload = ByteBuffer.allocateDirect(64);
            long missedBefore = rig.b.card.read(MPC);
            long byThread = host.framesReceivedByReceiveThread();

            ByteBuffer in = ByteBuffer.allocateDirect(2048);
            for (int i = 0; i < 5 * ring; i++) {
                in.clear();
                assertThat(reader.receiveFrom(in, TimeUnit.SECONDS.toNanos(5)))
                        .as("datagram %d (a lost one never comes)", i).isNotEqualTo(UdpSocket.NOTHING);
                sender.sendTo(payload.clear(), b, 5001);
                java.util.concurrent.locks.LockSupport.parkNanos(PAUSE_NANOS);
            }

            assertThat(rig.b.card.read(MPC) + missedBefore).as("frames the card missed for want of descriptors").isZero();
            assertThat(host.framesReceivedByReceiveThread() - byThread).as("frames the receive thread moved").isPositive();
        }
    }
}
