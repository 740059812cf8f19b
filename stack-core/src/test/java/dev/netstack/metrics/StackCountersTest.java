package dev.netstack.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class StackCountersTest {
    @Test
    void receivedAndAcceptedPacketsAreCountedOnlyWhereTheGuardHolds() {
        StackCounters counters = new StackCounters();
        AtomicBoolean pipelineHeld = new AtomicBoolean();
        counters.guardReceiveSide(pipelineHeld::get);

        assertThatThrownBy(() -> counters.received(Layer.UDP, 100)).isInstanceOf(AssertionError.class);
        assertThatThrownBy(() -> counters.accepted(Layer.UDP)).isInstanceOf(AssertionError.class);

        pipelineHeld.set(true);
        counters.received(Layer.UDP, 100);
        counters.received(Layer.UDP, 28);
        counters.accepted(Layer.UDP);
        assertThat(counters.packetsIn(Layer.UDP)).isEqualTo(2);
        assertThat(counters.bytesIn(Layer.UDP)).isEqualTo(128);
        assertThat(counters.packetsAccepted(Layer.UDP)).isEqualTo(1);
        assertThat(counters.snapshot().packetsIn(Layer.UDP)).isEqualTo(2);
    }

    @Test
    void countsMadeUnderALockAreAllSeenByAnotherThread() throws InterruptedException {
        StackCounters counters = new StackCounters();
        Object lock = new Object();
        counters.guardReceiveSide(() -> Thread.holdsLock(lock));
        Thread[] writers = new Thread[4];
        for (int t = 0; t < writers.length; t++) {
            writers[t] = new Thread(() -> {
                for (int i = 0; i < 50_000; i++) {
                    synchronized (lock) {
                        counters.received(Layer.IPV4, 1);
                        counters.accepted(Layer.IPV4);
                    }
                }
            });
            writers[t].start();
        }
        for (Thread w : writers) {
            w.join();
        }
        assertThat(counters.packetsIn(Layer.IPV4)).isEqualTo(200_000);
        assertThat(counters.bytesIn(Layer.IPV4)).isEqualTo(200_000);
        assertThat(counters.packetsAccepted(Layer.IPV4)).isEqualTo(200_000);
    }
}
