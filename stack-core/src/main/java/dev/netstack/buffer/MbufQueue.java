package dev.netstack.buffer;

import dev.netstack.concurrent.VarHandles;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A FIFO of mbufs linked through the mbufs themselves, so queueing allocates nothing. It counts
 * both datagrams and data bytes, for queues bounded in both.
 *
 * <p>Not thread-safe: the owner (a socket, an ARP entry) guards it with its own lock. Only
 * {@link #sizeWithoutLock()} may be called without it.
 */
public final class MbufQueue {
    private static final VarHandle SIZE = VarHandles.field(MethodHandles.lookup(), "size", int.class);

    private Mbuf first;
    private Mbuf last;
    private int size;
    private long bytes;

    /** Appends the packet {@code mbuf} (with its chained buffers); the queue owns it until {@link #poll()} hands it on. */
    public void add(Mbuf mbuf) {
        mbuf.next = null;
        if (last == null) {
            first = mbuf;
        } else {
            last.next = mbuf;
        }
        last = mbuf;
        SIZE.setOpaque(this, size + 1);
        bytes += mbuf.packetLength();
    }

    /** Removes and returns the oldest mbuf, or {@code null} when empty. */
    public Mbuf poll() {
        Mbuf mbuf = first;
        if (mbuf == null) {
            return null;
        }
        first = mbuf.next;
        if (first == null) {
            last = null;
        }
        mbuf.next = null;
        SIZE.setOpaque(this, size - 1);
        bytes -= mbuf.packetLength();
        return mbuf;
    }

    /** The oldest mbuf without removing it, or {@code null}. */
    public Mbuf peek() {
        return first;
    }

    public int size() {
        return size;
    }

    /**
     * The size as a thread without the owner's lock last saw it (an opaque read, never hoisted out of
     * a loop): a hint for a poller deciding whether to take the lock, confirmed under it.
     */
    public int sizeWithoutLock() {
        return (int) SIZE.getOpaque(this);
    }

    /** Sum of the packet lengths of the queued mbufs, as they were when added (they must not change while queued). */
    public long bytes() {
        return bytes;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    /** Frees every queued packet (with its chained buffers) and returns how many there were. */
    public int freeAll() {
        int n = 0;
        for (Mbuf m = poll(); m != null; m = poll()) {
            m.freePacket();
            n++;
        }
        return n;
    }
}
