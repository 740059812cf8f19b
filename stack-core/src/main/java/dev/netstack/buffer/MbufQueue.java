package dev.netstack.buffer;

/**
 * A FIFO of mbufs linked through the mbufs themselves, so queueing allocates nothing. It counts
 * both datagrams and data bytes, for queues bounded in both.
 *
 * <p>Not thread-safe: the owner (a socket, an ARP entry) guards it with its own lock.
 */
public final class MbufQueue {
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
        size++;
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
        size--;
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
