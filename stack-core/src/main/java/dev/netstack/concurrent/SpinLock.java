package dev.netstack.concurrent;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;

/**
 * A reentrant lock for the short critical sections of the data path: the emulated card's receive
 * and transmit engines, the driver's transmit ring and a stack's receive pipeline.
 *
 * <p>Why not {@code ReentrantLock}: its unlock is a volatile store, and on x86 the JIT follows a
 * volatile store with a full fence. The stores a critical section makes to cache lines another
 * core reads next (a frame written into the peer's receive ring, the descriptor after it) wait in
 * the store buffer until that core gives the lines up; a full fence makes the thread wait for all
 * of them. Here unlock is a release store: the thread goes on, and the stores drain while it
 * builds its next frame. Taking the lock is still a compare-and-set (a full fence), but by then
 * some or all of that wait has passed. On this project's 2-vCPU VM that is +6-19% datagrams per
 * second with one send per datagram when a cache line takes ~500 ns between the cores, and +1-17%
 * when it takes ~150 ns (benchmarks/RESULTS.md).
 *
 * <p>The price is that nobody is woken on unlock: a thread that finds the lock held spins, then
 * yields, then sleeps {@value #PARK_NANOS} ns between looks. Critical sections guarded by it last
 * well under that (one frame, one batch, one ring walk), so a waiter is late by at most one
 * sleep. No fairness: like a non-fair {@code ReentrantLock}, a releasing thread may take it again
 * first. No conditions.
 */
public final class SpinLock implements Lock {
    /** Looks with {@link Thread#onSpinWait} before yielding the CPU. */
    static final int SPINS = 64;
    /** Looks with {@link Thread#yield} before sleeping between looks. */
    static final int YIELDS = 256;
    /** Sleep between looks once the holder is plainly busy for a while. */
    static final long PARK_NANOS = 20_000;

    private static final VarHandle OWNER = VarHandles.field(MethodHandles.lookup(), "owner", Thread.class);

    @SuppressWarnings("unused")   // through OWNER
    private Thread owner;
    private int holds;   // the owner's only: written after the CAS that took the lock, before the release

    @Override
    public void lock() {
        Thread me = Thread.currentThread();
        if (enteredAgain(me)) {
            return;
        }
        boolean interrupted = false;
        for (int looks = 0; !OWNER.compareAndSet(this, null, me); looks++) {
            // an interrupt would make every sleep return at once: hold it back, set it again after
            interrupted |= looks >= SPINS + YIELDS && Thread.interrupted();
            waitALittle(looks);
        }
        holds = 1;
        if (interrupted) {
            me.interrupt();
        }
    }

    @Override
    public void lockInterruptibly() throws InterruptedException {
        take(Long.MAX_VALUE);
    }

    @Override
    public boolean tryLock() {
        Thread me = Thread.currentThread();
        if (enteredAgain(me)) {
            return true;
        }
        if (OWNER.getOpaque(this) == null && OWNER.compareAndSet(this, null, me)) {
            holds = 1;
            return true;
        }
        return false;
    }

    @Override
    public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
        return take(unit.toNanos(time));
    }

    /** Takes the lock unless interrupted or {@code timeoutNanos} pass first ({@code Long.MAX_VALUE}: no limit). */
    private boolean take(long timeoutNanos) throws InterruptedException {
        Thread me = Thread.currentThread();
        if (enteredAgain(me)) {
            return true;
        }
        long start = System.nanoTime();
        for (int looks = 0; !OWNER.compareAndSet(this, null, me); looks++) {
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            if (timeoutNanos != Long.MAX_VALUE && System.nanoTime() - start >= timeoutNanos) {
                return false;
            }
            waitALittle(looks);
        }
        holds = 1;
        return true;
    }

    /** The holder takes it again; only this thread ever stores itself as the owner. */
    private boolean enteredAgain(Thread me) {
        if (OWNER.getOpaque(this) == me) {
            holds++;
            return true;
        }
        return false;
    }

    /** @throws IllegalMonitorStateException when the calling thread does not hold the lock */
    @Override
    public void unlock() {
        if (OWNER.getOpaque(this) != Thread.currentThread()) {
            throw new IllegalMonitorStateException("unlock by a thread that does not hold the lock");
        }
        if (--holds == 0) {
            OWNER.setRelease(this, null);   // no full fence: see the class comment
        }
    }

    public boolean isHeldByCurrentThread() {
        return OWNER.getOpaque(this) == Thread.currentThread();
    }

    /** Whether some thread holds the lock now (for tests and monitoring, not for synchronisation). */
    public boolean isLocked() {
        return OWNER.getAcquire(this) != null;
    }

    /** Not supported: nothing here waits for a condition under these locks. */
    @Override
    public Condition newCondition() {
        throw new UnsupportedOperationException("SpinLock has no conditions");
    }

    private static void waitALittle(int looks) {
        if (looks < SPINS) {
            Thread.onSpinWait();
        } else if (looks < SPINS + YIELDS) {
            Thread.yield();
        } else {
            LockSupport.parkNanos(PARK_NANOS);
        }
    }
}
