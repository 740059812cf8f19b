package dev.netstack.buffer;

import java.nio.ByteBuffer;

/**
 * One fixed-size packet buffer in guest memory, with a movable data window, as xv6's
 * {@code struct mbuf}.
 *
 * <pre>
 *  0                head                    head+length            SIZE
 *  +-----------------+-----------------------+----------------------+
 *  |    headroom     |         data          |       tailroom       |
 *  +-----------------+-----------------------+----------------------+
 *        push(n) ◀──┘ └──▶ pull(n)     trim(n) ◀──┘ └──▶ put(n)
 * </pre>
 *
 * A layer prepends its header with {@link #push} (no copy, thanks to the headroom) and strips it
 * with {@link #pull}. Offsets returned and taken are indexes into {@link #buffer()}, a network-order
 * view whose index 0 is the buffer's first byte at physical address {@link #address()}.
 *
 * <p>An mbuf has exactly one owner at a time; the owner passes it on or {@link #free()}s it. The
 * object is created once by its {@link MbufPool} and reused forever. In checking mode (tests) every
 * accessor verifies the mbuf is allocated, so use after free and double free fail loudly.
 */
public final class Mbuf {
    /** Bytes per buffer, as xv6's MBUF_SIZE. */
    public static final int SIZE = 2048;
    /** Default headroom: enough for Ethernet + IPv4 with options + UDP, and then some. */
    public static final int DEFAULT_HEADROOM = 128;

    private final MbufPool pool;
    private final int index;
    private final long address;
    private final ByteBuffer buffer;

    private int head;
    private int length;

    /** Offset of the network-layer header in {@link #buffer()}, recorded as a frame climbs the stack; -1 when unknown. */
    public int networkOffset = -1;
    /** Offset of the transport-layer header in {@link #buffer()}; -1 when unknown. */
    public int transportOffset = -1;
    /**
     * Set on an outgoing datagram whose transport checksum was left out on purpose (a UDP checksum
     * of 0, "none" in RFC 768): a device with checksum offload sends it as it is rather than fill
     * one in, as Linux's drivers offload only what the stack marks for it.
     */
    public boolean withoutTransportChecksum;

    /** Intrusive link for {@link MbufQueue}; owned by whichever queue holds the mbuf. */
    Mbuf next;

    /**
     * Next buffer of the same packet, for packets larger than one buffer (a reassembled datagram):
     * the first buffer holds the headers, the following ones only payload. BSD's {@code m_next},
     * where {@link #next} is its {@code m_nextpkt}.
     */
    private Mbuf chained;

    Mbuf(MbufPool pool, int index, long address, ByteBuffer buffer) {
        this.pool = pool;
        this.index = index;
        this.address = address;
        this.buffer = buffer;
    }

    /** The pool this buffer belongs to. */
    public MbufPool pool() {
        return pool;
    }

    /** Index of this buffer inside its pool, stable for the pool's life. */
    public int index() {
        return index;
    }

    /** Physical address of the buffer's first byte (offset 0). */
    public long address() {
        return address;
    }

    /** Physical address of the first data byte: what a driver puts in a transmit descriptor. */
    public long dataAddress() {
        return address + head;
    }

    /** Network-order view of the whole buffer, index 0 = {@link #address()}. Use absolute accessors only. */
    public ByteBuffer buffer() {
        check();
        return buffer;
    }

    /** Offset of the first data byte. */
    public int head() {
        return head;
    }

    /** Number of data bytes. */
    public int length() {
        return length;
    }

    /** Offset just past the last data byte. */
    public int tail() {
        return head + length;
    }

    public int headroom() {
        return head;
    }

    public int tailroom() {
        return SIZE - head - length;
    }

    /**
     * Prepends {@code n} bytes and returns the new head offset (xv6 {@code mbufpush}).
     *
     * @throws IllegalStateException when the headroom is too small: a layer reserved too little, a bug
     */
    public int push(int n) {
        check();
        if (n < 0 || n > head) {
            throw new IllegalStateException("mbuf push of " + n + " bytes with " + head + " bytes of headroom");
        }
        head -= n;
        length += n;
        return head;
    }

    /** Strips {@code n} bytes from the front and returns their offset, or -1 when fewer remain (xv6 {@code mbufpull}). */
    public int pull(int n) {
        check();
        if (n < 0 || n > length) {
            return -1;
        }
        int at = head;
        head += n;
        length -= n;
        return at;
    }

    /** Appends {@code n} bytes and returns their offset, or -1 when the tailroom is too small (xv6 {@code mbufput}). */
    public int put(int n) {
        check();
        if (n < 0 || n > tailroom()) {
            return -1;
        }
        int at = head + length;
        length += n;
        return at;
    }

    /** Strips {@code n} bytes from the end and returns the new tail offset, or -1 when fewer remain (xv6 {@code mbuftrim}). */
    public int trim(int n) {
        check();
        if (n < 0 || n > length) {
            return -1;
        }
        length -= n;
        return head + length;
    }

    /** Empties the data window and places the head after {@code headroom} bytes. */
    public Mbuf reset(int headroom) {
        check();
        if (headroom < 0 || headroom > SIZE) {
            throw new IllegalArgumentException("headroom " + headroom + " outside [0, " + SIZE + "]");
        }
        head = headroom;
        length = 0;
        chained = null;
        networkOffset = -1;
        transportOffset = -1;
        withoutTransportChecksum = false;
        return this;
    }

    /** Sets the data window directly, e.g. after a device DMA-wrote a frame of {@code length} bytes at {@code head}. */
    public void setData(int head, int length) {
        check();
        if (head < 0 || length < 0 || head > SIZE - length) {
            throw new IllegalArgumentException("data window [" + head + ", " + head + "+" + length + ") outside the mbuf");
        }
        this.head = head;
        this.length = length;
    }

    /** Copies the data bytes into {@code target} from its position, advancing it; returns the count copied (at most target's room). */
    public int copyDataTo(ByteBuffer target) {
        check();
        int n = Math.min(length, target.remaining());
        target.put(target.position(), buffer, head, n);
        target.position(target.position() + n);
        return n;
    }

    /** Appends the remaining bytes of {@code source} (position unchanged); false when they do not fit. */
    public boolean append(ByteBuffer source) {
        int n = source.remaining();
        int at = put(n);
        if (at < 0) {
            return false;
        }
        buffer.put(at, source, source.position(), n);
        return true;
    }

    /** The next buffer of this packet, or {@code null} for the last (usually only) one. */
    public Mbuf chained() {
        return chained;
    }

    /** Links {@code next} as the following buffer of this packet; the packet owns it from now on. */
    public void chain(Mbuf next) {
        check();
        this.chained = next;
    }

    /** Data bytes of the whole packet: this buffer and every chained one. */
    public int packetLength() {
        int total = length;
        for (Mbuf m = chained; m != null; m = m.chained) {
            total += m.length;
        }
        return total;
    }

    /** Returns this buffer to its pool. The caller must not touch it afterwards. */
    public void free() {
        pool.free(this);
    }

    /** Frees this buffer and every buffer chained after it. */
    public void freePacket() {
        Mbuf m = this;
        while (m != null) {
            Mbuf following = m.chained;
            m.chained = null;
            m.pool.free(m);
            m = following;
        }
    }

    private void check() {
        if (pool.checking) {
            pool.checkAllocated(this);
        }
    }

    @Override
    public String toString() {
        return "Mbuf[" + index + " head=" + head + " length=" + length + "]";
    }
}
