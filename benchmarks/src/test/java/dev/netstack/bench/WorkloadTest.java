package dev.netstack.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The harness's two workload shapes over a stand-in link (a queue), where what is in flight can be
 * watched: the one-way blast must keep its credit window and count what the receiver took, the
 * ping-pong must time rounds and order its percentiles. No assertion here is about speed.
 */
class WorkloadTest {
    /** A link whose receiver is slower than its sender, so that only the window holds the sender back. */
    private static final class SlowLink {
        final ConcurrentLinkedQueue<Long> queue = new ConcurrentLinkedQueue<>();
        final AtomicInteger depth = new AtomicInteger();
        final AtomicInteger deepest = new AtomicInteger();
        final AtomicLong taken = new AtomicLong();

        int send(int datagrams) {
            for (int i = 0; i < datagrams; i++) {
                queue.add(1L);
                deepest.accumulateAndGet(depth.incrementAndGet(), Math::max);
            }
            return datagrams;
        }

        boolean receive() {
            long until = System.nanoTime() + 2_000;   // 2 µs per datagram: the receiver is the bottleneck
            while (System.nanoTime() < until) {
                Thread.onSpinWait();
            }
            if (queue.poll() == null) {
                return false;
            }
            depth.decrementAndGet();
            taken.incrementAndGet();
            return true;
        }
    }

    @Test
    void blastKeepsNoMoreThanTheWindowInFlight() {
        SlowLink link = new SlowLink();
        Workload.Rate rate = Workload.blast(new Workload.Op[] {() -> link.send(1) == 1}, link::receive, List.of(),
                null, 0.05, 0.2, 64);

        assertThat(link.deepest.get()).isLessThanOrEqualTo(64).isGreaterThan(1);
        assertThat(rate.received).isPositive().isLessThanOrEqualTo(link.taken.get());
        // sent and received are counted over the same window, so the window's worth in flight at its
        // end shows as "loss": at most 64 of the tens of thousands sent
        assertThat(rate.loss).isLessThan(0.01);
        assertThat(rate.cpuNanosPerDatagram).isPositive();
    }

    @Test
    void aBurstOvershootsTheWindowByLessThanOneBurst() {
        SlowLink link = new SlowLink();
        Workload.blast(new Workload.BurstOp[] {() -> link.send(8)}, link::receive, List.of(), null, 0.05, 0.2, 64);

        assertThat(link.deepest.get()).isLessThanOrEqualTo(64 + 8 - 1);
    }

    @Test
    void sendersShareOneWindow() {
        SlowLink link = new SlowLink();
        Workload.Op send = () -> link.send(1) == 1;
        Workload.Rate rate = Workload.blast(new Workload.Op[] {send, send, send}, link::receive, List.of(), null,
                0.05, 0.2, 60);

        assertThat(link.deepest.get()).isLessThanOrEqualTo(60);
        assertThat(rate.received).isPositive();
    }

    @Test
    void pingPongTimesEachRoundAndOrdersItsPercentiles() {
        AtomicLong served = new AtomicLong();
        Workload.Op round = () -> {
            long until = System.nanoTime() + 20_000;   // a round takes at least 20 µs
            while (System.nanoTime() < until) {
                Thread.onSpinWait();
            }
            return true;
        };
        Workload.Op serve = () -> {
            served.incrementAndGet();
            Thread.sleep(1);
            return true;
        };
        Workload.Latency l = Workload.pingPong(round, serve, List.of(), null, 0.02, 0.1);

        assertThat(l.rounds).isPositive();
        assertThat(l.p50).isGreaterThanOrEqualTo(20_000);
        assertThat(l.p50).isLessThanOrEqualTo(l.p99);
        assertThat(l.p99).isLessThanOrEqualTo(l.p999);
        assertThat(l.p999).isLessThanOrEqualTo(l.max);
        assertThat(l.roundsPerSecond).isPositive();
        assertThat(served.get()).isPositive();   // the echo side ran on its own thread
    }

    @Test
    void aRoundThatFailsEndsTheMeasurement() {
        AtomicInteger rounds = new AtomicInteger();
        Workload.Latency l = Workload.pingPong(() -> rounds.incrementAndGet() <= 10,
                () -> true, List.of(), null, 0, 1);

        assertThat(l.rounds).isEqualTo(10);
        assertThat(liveHarnessThreads()).isEmpty();   // the echo loop, whose op touches nothing shared, stopped
    }

    @Test
    void blastThreadsStopAfterTheWindowEvenWithOpsThatTouchNothingShared() {
        Workload.blast(new Workload.Op[] {() -> true}, () -> true, List.of(), null, 0.02, 0.05, Long.MAX_VALUE);

        assertThat(liveHarnessThreads()).isEmpty();
    }

    private static List<String> liveHarnessThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(name -> name.startsWith("bench-")).toList();
    }

    @Test
    void percentilesAreTheNearestRankOfTheFirstNValues() {
        long[] values = {50, 10, 40, 30, 20, 999};   // the last one is past n and must not count
        long[] sorted = Measure.sortedCopy(values, 5);

        assertThat(sorted).containsExactly(10, 20, 30, 40, 50);
        assertThat(Measure.percentile(sorted, 5, 0.5)).isEqualTo(30);
        assertThat(Measure.percentile(sorted, 5, 0.99)).isEqualTo(50);
        assertThat(Measure.percentile(sorted, 5, 0.0)).isEqualTo(10);
        assertThat(Measure.percentile(sorted, 0, 0.5)).isZero();
    }

    @Test
    void aCounterSeesEveryAddOfItsOneWriter() throws InterruptedException {
        Measure.Counter counter = new Measure.Counter();
        Thread writer = new Thread(() -> {
            for (int i = 0; i < 100_000; i++) {
                counter.add(3);
            }
        });
        writer.start();
        long seen = 0;
        while (writer.isAlive()) {
            long now = counter.get();
            assertThat(now).isGreaterThanOrEqualTo(seen);   // a reader never sees the count go back
            seen = now;
        }
        writer.join();
        assertThat(counter.get()).isEqualTo(300_000);
    }

    @Test
    void aRateWindowDividesByItsOwnLength() {
        Workload.Rate r = Workload.Rate.of(1_000, 900, 500_000_000L, 1_800);

        assertThat(r.receivedPerSecond).isEqualTo(1_800.0);
        assertThat(r.sentPerSecond).isEqualTo(2_000.0);
        assertThat(r.loss).isCloseTo(0.1, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(r.bytesAllocatedPerDatagram).isEqualTo(2.0);
        assertThat(Workload.Rate.of(0, 0, 1, 0).bytesAllocatedPerDatagram).isNaN();
    }
}
