package dev.netstack.e1000;

import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The card's interrupt pin as a driver thread sees it: asserted while {@code (ICR & IMS) != 0}
 * (and interrupt throttling allows), with a way to sleep until it is.
 *
 * <p>The level is not stored here but computed from the card's registers on every look, so a
 * raise racing with an ICR read can never leave a stale "asserted" or "deasserted" behind. Waking
 * is cheap: the card only calls {@link LockSupport#unpark} when a thread is actually parked here.
 * One thread waits at a time in {@link #await} (a device's receive thread; a second waiter there
 * replaces the first), and one more may wait beside it in {@link #awaitBeside}.
 */
public final class InterruptLine {
    private final E1000Device card;
    private volatile Thread waiter;
    private volatile boolean kicked;
    private final AtomicReference<Thread> beside = new AtomicReference<>();

    InterruptLine(E1000Device card) {
        this.card = card;
    }

    /** True while an unmasked interrupt cause is pending. */
    public boolean isAsserted() {
        return card.interruptAsserted();
    }

    /**
     * Waits until the line is asserted, {@code timeoutNanos} pass, or {@link #wakeUp()} is called.
     * Returns whether the line is asserted on return.
     */
    public boolean await(long timeoutNanos) throws InterruptedException {
        if (isAsserted()) {
            return true;
        }
        long deadline = System.nanoTime() + timeoutNanos;
        // Publish ourselves before re-checking the level: a raise either sees us and unparks, or
        // happened before our check and we see it (both sides use volatile accesses).
        waiter = Thread.currentThread();
        try {
            while (!isAsserted()) {
                if (kicked) {
                    kicked = false;
                    return isAsserted();
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                LockSupport.parkNanos(this, left);
                if (Thread.interrupted()) {
                    throw new InterruptedException();
                }
            }
            return true;
        } finally {
            waiter = null;
        }
    }

    /**
     * As {@link #await}, but returns at the first wake-up of any kind, also an unpark that has nothing
     * to do with the card (the caller looks at its own reasons to stop waiting). Returns whether the
     * line is asserted on return.
     */
    public boolean awaitWakeUp(long timeoutNanos) throws InterruptedException {
        if (isAsserted()) {
            return true;
        }
        waiter = Thread.currentThread();
        try {
            if (!isAsserted() && !kicked) {
                LockSupport.parkNanos(this, timeoutNanos);
                if (Thread.interrupted()) {
                    throw new InterruptedException();
                }
            }
            kicked = false;
            return isAsserted();
        } finally {
            waiter = null;
        }
    }

    /**
     * One wait of an application thread beside the receive thread, which the line wakes as well:
     * returns 1 when the line is asserted, 0 when {@code timeoutNanos} passed or the thread was
     * unparked or interrupted (the caller looks at its own reasons), and -1 at once when another
     * thread already waits here.
     */
    public int awaitBeside(long timeoutNanos) {
        Thread me = Thread.currentThread();
        if (!beside.compareAndSet(null, me)) {
            return -1;
        }
        try {
            // published before the look, as in await: a raise either sees us or is seen here. A kick
            // (wakeUp) is the receive thread's to take; it unparks this thread too, and the caller,
            // looking again, finds the device closed when that is why.
            if (!isAsserted()) {
                LockSupport.parkNanos(this, timeoutNanos);
            }
            return isAsserted() ? 1 : 0;
        } finally {
            beside.set(null);
        }
    }

    /** Releases a waiting thread without an interrupt (a driver closing). */
    public void wakeUp() {
        kicked = true;
        signal();
    }

    /** Called by the card after it raised a cause or unmasked one. */
    void signal() {
        Thread b = beside.get();
        if (b != null) {
            LockSupport.unpark(b);
        }
        Thread w = waiter;
        if (w != null) {
            LockSupport.unpark(w);
        }
    }
}
