package dev.netstack.e1000;

import static dev.netstack.e1000.E1000Registers.ICR_RXT0;
import static dev.netstack.e1000.E1000Registers.IMS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.link.TestPeer;
import dev.netstack.metrics.Layer;
import dev.netstack.socket.UdpSocket;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Busy-poll mode runs with interrupts masked; a poller that found nothing waits the NAPI way: the
 * driver unmasks the receive interrupt for the wait and masks it again after, so an idle stack
 * sleeps instead of spinning, and a frame still wakes it.
 */
class BusyPollIdleWaitTest {
    private static final E1000Config BUSY = E1000Config.defaults().withRingSizes(64, 64).withBusyPoll(16);

    @Test
    void aFrameAlreadyInTheRingReturnsAtOnceWithInterruptsStillMasked() throws Exception {
        try (Rig rig = new Rig(BUSY.withName("a"), BUSY.withName("b"))) {
            rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 1));

            assertThat(rig.b.driver.awaitReceive(TimeUnit.SECONDS.toNanos(5))).isTrue();
            assertThat(rig.b.card.read(IMS)).as("no interrupt was needed").isZero();
            assertThat(rig.b.receive(8)).hasSize(1);
        }
    }

    @Test
    void causesLatchedWhileMaskedDoNotEndTheWait() throws Exception {
        try (Rig rig = new Rig(BUSY.withName("a"), BUSY.withName("b"))) {
            // a frame raised RXT0 while masked and was polled away: the cause is stale, the ring empty
            rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 1));
            assertThat(rig.b.receive(8)).hasSize(1);

            assertThat(rig.b.driver.awaitReceive(TimeUnit.MILLISECONDS.toNanos(30)))
                    .as("nothing new arrived").isFalse();
            assertThat(rig.b.card.read(IMS)).as("masked again after the wait").isZero();
        }
    }

    @Test
    void aFrameArrivingDuringTheWaitWakesIt() throws Exception {
        try (Rig rig = new Rig(BUSY.withName("a"), BUSY.withName("b"))) {
            CompletableFuture<Boolean> woke = Rig.inBackground(() -> rig.b.driver.awaitReceive(TimeUnit.SECONDS.toNanos(10)));
            TestPeer.awaitTrue(() -> (rig.b.card.read(IMS) & ICR_RXT0) != 0, "the waiter unmasks RXT0");
            rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 7));

            assertThat(woke.get(5, TimeUnit.SECONDS)).isTrue();
            assertThat(rig.b.card.read(IMS)).isZero();
            assertThat(rig.b.receive(8)).extracting(Rig::sequenceOf).containsExactly(7);
        }
    }

    @Test
    void anIdleBusyPollStackWaitsOnItsInterruptAndStillReceives() throws Exception {
        try (Rig rig = new Rig(BUSY.withName("a"), BUSY.withName("b"));
             NetStack a = rig.stackA();
             NetStack b = rig.stackB();
             UdpSocket sender = a.openUdpSocket().bind(5000);
             UdpSocket quiet = b.openUdpSocket().bind(5001)) {
            a.ping(dev.netstack.wire.Ipv4Address.parse("10.0.2.2"), 0, java.time.Duration.ofSeconds(2));
            // nobody reads on b: its receive thread runs out of work and sleeps on the interrupt line
            TestPeer.awaitTrue(() -> (rig.b.card.read(IMS) & ICR_RXT0) != 0, "b's receive thread waits on RXT0");
            long before = b.counters().packetsIn(Layer.UDP);

            sender.sendTo(ByteBuffer.wrap(new byte[] {42}), dev.netstack.wire.Ipv4Address.parse("10.0.2.2"), 5001);

            // the interrupt woke b's receive thread, which ran the pipeline; no application polled
            TestPeer.awaitTrue(() -> b.counters().packetsIn(Layer.UDP) == before + 1, "b's receive thread takes the datagram");
            ByteBuffer in = ByteBuffer.allocate(8);
            assertThat(quiet.tryReceiveFrom(in)).isNotEqualTo(UdpSocket.NOTHING);
            assertThat(in.get(0)).isEqualTo((byte) 42);
        }
    }
}
