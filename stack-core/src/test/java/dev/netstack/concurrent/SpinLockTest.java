package dev.netstack.concurrent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SpinLockTest {

    /** Plain fields, written only under the lock: a lost update or a torn pair shows a broken exclusion. */
    static final class Guarded {
        long count;
        long shadow;
    }

    @Test
    void fourThreadsOnTwoCoresLoseNoUpdate() throws Exception {
        SpinLock lock = new SpinLock();
        Guarded guarded = new Guarded();
        int threads = 4;
        int rounds = 200_000;
        AtomicBoolean torn = new AtomicBoolean();
        List<Thread> workers = new ArrayList<>();
        CountDownLatch start = new CountDownLatch(1);
        for (int t = 0; t < threads; t++) {
            Thread worker = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < rounds; i++) {
                    lock.lock();
                    try {
                        if (guarded.count != guarded.shadow) {
                            torn.set(true);
                        }
                        guarded.count++;
                        guarded.shadow++;
                    } finally {
                        lock.unlock();
                    }
                }
            });
            workers.add(worker);
            worker.start();
        }
        start.countDown();
        for (Thread worker : workers) {
            worker.join();
        }
        assertThat(torn).as("another thread's half-done update seen inside the lock").isFalse();
        assertThat(guarded.count).isEqualTo((long) threads * rounds);
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void theHolderTakesItAgainAndOthersWaitUntilTheLastUnlock() throws Exception {
        SpinLock lock = new SpinLock();
        lock.lock();
        assertThat(lock.tryLock()).isTrue();
        lock.lock();
        assertThat(lock.isHeldByCurrentThread()).isTrue();
        assertThat(CompletableFuture.supplyAsync(lock::tryLock).get(5, TimeUnit.SECONDS)).isFalse();
        lock.unlock();
        lock.unlock();
        assertThat(CompletableFuture.supplyAsync(lock::tryLock).get(5, TimeUnit.SECONDS))
                .as("still held once").isFalse();
        lock.unlock();
        assertThat(lock.isHeldByCurrentThread()).isFalse();
        assertThat(CompletableFuture.supplyAsync(() -> {
            boolean taken = lock.tryLock();
            lock.unlock();
            return taken;
        }).get(5, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void onlyTheHolderMayUnlock() throws Exception {
        SpinLock lock = new SpinLock();
        assertThatThrownBy(lock::unlock).isInstanceOf(IllegalMonitorStateException.class);
        lock.lock();
        CompletableFuture<Void> stranger = CompletableFuture.runAsync(lock::unlock);
        assertThatThrownBy(() -> stranger.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(IllegalMonitorStateException.class);
        assertThat(lock.isHeldByCurrentThread()).isTrue();
        lock.unlock();
    }

    @Test
    void aWaiterGetsTheLockAfterALongHoldWithoutBeingWoken() throws Exception {
        SpinLock lock = new SpinLock();
        lock.lock();
        CountDownLatch waiting = new CountDownLatch(1);
        CompletableFuture<Long> waiter = CompletableFuture.supplyAsync(() -> {
            waiting.countDown();
            lock.lock();   // spins, yields, then sleeps between looks: nobody wakes it
            try {
                return System.nanoTime();
            } finally {
                lock.unlock();
            }
        });
        waiting.await();
        Thread.sleep(100);   // well past the spinning and yielding
        assertThat(waiter).isNotDone();
        long released = System.nanoTime();
        lock.unlock();
        long took = waiter.get(5, TimeUnit.SECONDS);
        assertThat(took).isGreaterThanOrEqualTo(released);
    }

    @Test
    void anInterruptEndsAWaitAndTheLockStaysWithItsHolder() throws Exception {
        SpinLock lock = new SpinLock();
        lock.lock();
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        Thread waiter = new Thread(() -> {
            try {
                lock.lockInterruptibly();
                outcome.complete(null);
            } catch (InterruptedException e) {
                outcome.complete(e);
            }
        });
        waiter.start();
        Thread.sleep(50);
        waiter.interrupt();
        assertThat(outcome.get(5, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
        assertThat(lock.isHeldByCurrentThread()).isTrue();
        lock.unlock();
        assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void lockWaitsThroughAnInterruptAsleepAndLeavesItSet() throws Exception {
        SpinLock lock = new SpinLock();
        lock.lock();
        CompletableFuture<Boolean> stillInterrupted = new CompletableFuture<>();
        Thread waiter = new Thread(() -> {
            Thread.currentThread().interrupt();
            lock.lock();
            try {
                stillInterrupted.complete(Thread.currentThread().isInterrupted());
            } finally {
                lock.unlock();
            }
        });
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        waiter.start();
        Thread.sleep(500);
        long cpu = threads.getThreadCpuTime(waiter.getId());
        assertThat(stillInterrupted).isNotDone();
        lock.unlock();
        assertThat(stillInterrupted.get(5, TimeUnit.SECONDS)).as("the interrupt is still set").isTrue();
        // with the interrupt left set, every sleep between looks returns at once: a waiter spinning
        // for the whole half second would have used most of it
        assertThat(cpu).as("CPU ns of a waiter half a second behind a held lock").isLessThan(TimeUnit.MILLISECONDS.toNanos(200));
    }

    @Test
    void aTimedTryGivesUpAtItsDeadline() throws Exception {
        SpinLock lock = new SpinLock();
        lock.lock();
        long start = System.nanoTime();
        boolean taken = CompletableFuture.supplyAsync(() -> {
            try {
                return lock.tryLock(30, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }).get(5, TimeUnit.SECONDS);
        assertThat(taken).isFalse();
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(30));
        lock.unlock();
    }

    @Test
    void hasNoConditions() {
        assertThatThrownBy(() -> new SpinLock().newCondition()).isInstanceOf(UnsupportedOperationException.class);
    }
}
