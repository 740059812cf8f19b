package dev.netstack.link;

import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.wire.MacAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The service provider interface between the stack and a network card driver (or any other
 * device that moves Ethernet frames in mbufs).
 *
 * <p>Threads: the stack runs one receive thread per device that alternates
 * {@link #receive(FrameSink, int)} and {@link #awaitReceive(long)}; any thread may call
 * {@link #transmit(Mbuf)}. A device must not hold a lock that its receive path needs while it
 * calls the sink, so that a reply transmitted from inside the sink cannot deadlock.
 */
public interface NetDevice extends AutoCloseable {
    /** {@link #transmit} result: the device took the frame and owns the mbuf now. */
    int TRANSMITTED = 0;
    /** {@link #transmit} result: no free transmit descriptor; the caller still owns the mbuf. */
    int RING_FULL = 1;
    /** {@link #transmit} result: the link is down or the device closed; the caller still owns the mbuf. */
    int LINK_DOWN = 2;
    /** {@link #awaitReceiveBeside} result: this thread did not wait; it must wait some other way. */
    int NOT_WAITING = -1;

    /** A short name for logs and metrics tags, e.g. {@code e1000-0}. */
    String name();

    MacAddress macAddress();

    /** Largest IP packet the device carries (Ethernet payload), normally 1500. */
    int mtu();

    boolean isLinkUp();

    /** The pool the device takes receive buffers from and the stack takes transmit buffers from. */
    MbufPool pool();

    /**
     * Queues one Ethernet frame (the mbuf's data window, without FCS) for transmission.
     *
     * @return {@link #TRANSMITTED}, {@link #RING_FULL} or {@link #LINK_DOWN}
     */
    int transmit(Mbuf frame);

    /**
     * Queues {@code count} frames from {@code frames[offset]} on, in order, as one burst; returns how
     * many the device took (always a prefix of the burst). The device owns the mbufs it took and
     * clears nothing in the array; the caller keeps the rest, which did not fit (the ring filled) or
     * found the link down. A card driver overrides this to fill many descriptors and tell the card
     * once (one tail write); the default hands the frames over one by one.
     */
    default int transmit(Mbuf[] frames, int offset, int count) {
        for (int i = 0; i < count; i++) {
            if (transmit(frames[offset + i]) != TRANSMITTED) {
                return i;
            }
        }
        return count;
    }

    /**
     * Hands up to {@code budget} received frames to {@code sink}, oldest first; each mbuf's ownership
     * passes to the sink. Returns the number handed up, 0 when none was waiting.
     */
    int receive(FrameSink sink, int budget);

    /**
     * A look without a lock, for a busy-poller deciding whether {@link #receive} is worth the
     * pipeline's lock: false only when no frame is waiting as far as this thread can see. It may
     * answer true with nothing to take, or false for a frame published a moment ago (the poller looks
     * again). The default always answers true.
     */
    default boolean receivePending() {
        return true;
    }

    /**
     * Blocks until a frame may be waiting (the receive interrupt), the timeout passes or the device
     * closes. Returns true when woken for work. A busy-polling device is asked this only when polls
     * came up empty for a while: it may wait for its interrupt (unmasked for the wait, as NAPI does)
     * or return false at once, and the stack then sleeps briefly between polls instead.
     */
    boolean awaitReceive(long timeoutNanos) throws InterruptedException;

    /**
     * Whether {@link #awaitReceiveBeside} can wait for this device's receive interrupt (interrupt
     * mode only). The default cannot.
     */
    default boolean canAwaitReceiveBeside() {
        return false;
    }

    /**
     * Interrupt mode: one application thread that found its socket empty waits for the receive
     * interrupt itself, beside the stack's receive thread (which is woken as well), so that it can
     * run the receive pipeline the moment a frame arrives instead of being woken by the receive
     * thread after it did. Returns 1 when the interrupt rose (its causes are then taken, as the
     * receive thread takes them), 0 when the timeout passed or the thread was unparked or
     * interrupted, and {@link #NOT_WAITING} at once when another thread already waits so or the
     * device cannot ({@link #canAwaitReceiveBeside}).
     */
    default int awaitReceiveBeside(long timeoutNanos) {
        return NOT_WAITING;
    }

    /** Wakes the thread in {@link #awaitReceive}, to look at the device again. The default does nothing. */
    default void wakeReceiver() {
    }

    /**
     * Busy-poll mode, while application threads poll this device themselves: blocks until frames
     * back up in the device (its pollers are not keeping up, or stopped without saying so), the
     * timeout passes or the thread is unparked, and returns true only for a backlog. The stack's
     * receive thread waits here while it stands back for the pollers, and helps them when it returns
     * true. A device that cannot tell when frames back up sleeps a short while, as this default
     * does (at most 100 µs), and returns false; the stack then looks at its pollers again.
     */
    default boolean awaitBacklog(long timeoutNanos) throws InterruptedException {
        LockSupport.parkNanos(this, Math.min(timeoutNanos, TimeUnit.MICROSECONDS.toNanos(100)));
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        return false;
    }

    /** True when the stack should spin on {@link #receive} instead of waiting for an interrupt. */
    default boolean busyPoll() {
        return false;
    }

    /** Stops the device and returns every buffer it holds to the pool. */
    @Override
    void close();
}
