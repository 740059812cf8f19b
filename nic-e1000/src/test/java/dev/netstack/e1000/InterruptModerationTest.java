package dev.netstack.e1000;

import static dev.netstack.e1000.E1000Registers.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.testing.PoolChecks;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** RDTR, RADV, ITR and RDTR.FPD on a clock the test turns by hand. */
class InterruptModerationTest {
    /** One RDTR/RADV unit: 1.024 µs. */
    private static final long UNIT = 1024;

    private final long[] now = {1_000_000};
    private Rig rig;

    private Rig rig(int rdtr, int radv, int itr) {
        E1000Config config = E1000Config.defaults().withRingSizes(64, 64);
        rig = new Rig(config.withName("a"), config.withName("b").withInterruptModeration(rdtr, radv, itr), () -> now[0]);
        rig.b.card.read(ICR);   // the link change from plugging in the cable
        return rig;
    }

    private void advance(long nanos) {
        now[0] += nanos;
        rig.b.card.tick();
    }

    private void send(int sequence) {
        rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, sequence));
    }

    @AfterEach
    void poolsAreWhole() {
        rig.close();
        PoolChecks.assertWhole(rig.a.pool);
        PoolChecks.assertWhole(rig.b.pool);
    }

    @Test
    void receiveDelayTimerRestartsOnEveryFrame() {
        E1000Device card = rig(10, 0, 0).b.card;
        send(1);
        assertThat(card.interruptAsserted()).as("RDTR holds RXT0 back").isFalse();
        advance(8 * UNIT);
        send(2);   // restarts the 10-unit packet timer
        advance(8 * UNIT);
        assertThat(card.interruptAsserted()).isFalse();
        advance(2 * UNIT);
        assertThat(card.interruptAsserted()).isTrue();
        assertThat(card.read(ICR) & ICR_RXT0).isNotZero();
        assertThat(rig.b.receive(8)).extracting(Rig::sequenceOf).containsExactly(1, 2);
    }

    @Test
    void absoluteDelayCapsTheWait() {
        E1000Device card = rig(10, 20, 0).b.card;
        for (int i = 0; i < 4; i++) {   // a frame every 6 units keeps restarting RDTR...
            send(i);
            advance(6 * UNIT);
            if (i < 3) {
                assertThat(card.interruptAsserted()).as("after frame %d", i).isFalse();
            }
        }
        // ...but RADV fired 20 units after the first frame
        assertThat(card.interruptAsserted()).isTrue();
        assertThat(rig.b.receive(8)).hasSize(4);
    }

    @Test
    void flushPartialDescriptorFiresAtOnce() {
        E1000Device card = rig(100, 0, 0).b.card;
        send(1);
        assertThat(card.interruptAsserted()).isFalse();
        card.write(RDTR, 100 | RDTR_FPD);
        assertThat(card.interruptAsserted()).isTrue();
        assertThat(rig.b.receive(8)).hasSize(1);
    }

    @Test
    void throttlingKeepsInterruptsApart() throws InterruptedException {
        E1000Device card = rig(0, 0, 400).b.card;   // 400 x 256 ns = 102.4 µs between interrupts
        assertThat(card.interruptAsserted()).isFalse();
        advance(200_000);   // taking the link-change interrupt started a throttle interval; let it pass
        send(1);
        assertThat(card.interruptAsserted()).isTrue();
        assertThat(rig.b.driver.awaitReceive(TimeUnit.MILLISECONDS.toNanos(10))).isTrue();   // reads ICR
        assertThat(rig.b.receive(8)).hasSize(1);
        send(2);
        assertThat(card.interruptAsserted()).as("too soon after the last interrupt").isFalse();
        advance(100_000);
        assertThat(card.interruptAsserted()).isFalse();
        advance(2_500);
        assertThat(card.interruptAsserted()).isTrue();
        assertThat(rig.b.receive(8)).hasSize(1);
    }

    @Test
    void withoutModerationEveryDeliveryInterrupts() {
        E1000Device card = rig(0, 0, 0).b.card;
        send(1);
        assertThat(card.interruptAsserted()).isTrue();
        card.read(ICR);
        send(2);
        assertThat(card.interruptAsserted()).isTrue();
        assertThat(rig.b.receive(8)).hasSize(2);
    }

    @Test
    void theTimerThreadFiresDelayedInterruptsOnTheRealClock() throws InterruptedException {
        E1000Config config = E1000Config.defaults().withRingSizes(16, 16);
        rig = new Rig(config.withName("a"), config.withName("b").withInterruptModeration(5000, 0, 0));   // ~5 ms
        rig.b.card.read(ICR);
        long start = System.nanoTime();   // before the frame: the deadline lies after it, whatever the scheduling
        send(1);
        assertThat(rig.b.driver.awaitReceive(TimeUnit.SECONDS.toNanos(5))).isTrue();
        assertThat(System.nanoTime() - start).as("RDTR of 5000 x 1.024 µs").isGreaterThanOrEqualTo(5_000_000);
        assertThat(rig.b.receive(8)).hasSize(1);
        rig.b.card.powerOff();
    }
}
