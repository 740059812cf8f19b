package dev.netstack.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class PerThreadCountersTest {
    @Test
    void addsFromManyThreadsAtOnceAreAllCounted() throws InterruptedException {
        PerThreadCounters counters = new PerThreadCounters(4);
        int threads = 8;
        int adds = 100_000;
        CountDownLatch start = new CountDownLatch(1);
        Thread[] adders = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            adders[t] = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                for (int i = 0; i < adds; i++) {
                    counters.add(1, 1, 3, 100);
                }
            });
            adders[t].start();
        }
        start.countDown();
        for (Thread a : adders) {
            a.join();
        }

        assertThat(counters.sum(1)).isEqualTo((long) threads * adds);
        assertThat(counters.sum(3)).isEqualTo(100L * threads * adds);
        assertThat(counters.sum(0)).isZero();
        assertThat(counters.sum(2)).isZero();
    }

    @Test
    void aReaderSeesCountsWhileTheyGrow() throws InterruptedException {
        PerThreadCounters counters = new PerThreadCounters(2);
        CountDownLatch halfway = new CountDownLatch(1);
        CountDownLatch looked = new CountDownLatch(1);
        Thread adder = new Thread(() -> {
            for (int i = 0; i < 1000; i++) {
                counters.add(0, 1, 1, 2);
            }
            halfway.countDown();
            try {
                looked.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            for (int i = 0; i < 1000; i++) {
                counters.add(0, 1, 1, 2);
            }
        });
        adder.start();
        halfway.await();

        assertThat(counters.sum(0)).isEqualTo(1000);   // the latch orders the adds before this read
        looked.countDown();
        adder.join();
        assertThat(counters.sum(0)).isEqualTo(2000);
        assertThat(counters.sum(1)).isEqualTo(4000);
    }

    @Test
    void threadsThatEndedKeepTheirCountsButNotTheirCells() throws InterruptedException {
        PerThreadCounters counters = new PerThreadCounters(2);
        for (int t = 0; t < 200; t++) {
            Thread shortLived = new Thread(() -> counters.add(0, 1, 1, 64));
            shortLived.start();
            shortLived.join();
        }
        counters.add(0, 1, 1, 64);   // this thread registers, retiring the ended ones' cells

        assertThat(counters.sum(0)).isEqualTo(201);
        assertThat(counters.sum(1)).isEqualTo(201 * 64);
        assertThat(counters.cellCount()).as("cells held after 200 threads came and went").isEqualTo(1);
    }

    @Test
    void aBusyThreadTakesTheFastPathBackFromOneThatAddedOnce() throws InterruptedException {
        PerThreadCounters counters = new PerThreadCounters(2);
        counters.add(0, 1, 1, 1);   // the busy thread registers first
        Thread once = new Thread(() -> counters.add(0, 1, 1, 1));   // as a receive thread's ARP reply
        once.start();
        once.join();
        assertThat(counters.recentOwner()).isSameAs(once);

        for (int i = 0; i < 64; i++) {
            counters.add(0, 1, 1, 1);
        }

        assertThat(counters.recentOwner()).isSameAs(Thread.currentThread());
        assertThat(counters.sum(0)).isEqualTo(66);
    }
}
