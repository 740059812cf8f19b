package dev.netstack.ipv4;

import dev.netstack.buffer.Mbuf;
import dev.netstack.wire.Ipv4Header;
import java.nio.ByteBuffer;

/**
 * Reassembles fragmented IPv4 datagrams (RFC 791 §3.2, RFC 815) into mbuf chains, with bounded
 * memory and safe handling of overlapping fragments.
 *
 * <h2>State</h2>
 * A datagram under reassembly is a <em>slot</em> in a fixed table of {@code maxDatagrams}, keyed by
 * (source, destination, protocol, identification) as RFC 791 requires and found by a linear scan:
 * no hashing, boxing or key object per fragment. Its data is a list of <em>pieces</em>, sorted by
 * offset, disjoint and non-empty; each piece is one received fragment whose data window has been cut
 * down to the payload bytes it contributes. Piece records live in fixed parallel arrays of
 * {@code maxBuffers} entries chained by index, so holding a fragment allocates nothing and the
 * buffer bound is the size of that table.
 * <pre>
 *  slot: key, first fragment time, header length of the offset-0 fragment, end (once MF=0 seen)
 *    │
 *    ▼  piece list, sorted by start
 *  [0, 1480) ──▶ [1480, 2960) ──▶ [4440, 5920) ──▶ ...     (a hole at [2960, 4440))
 *   mbuf window = payload only; the offset-0 fragment's header stays just before its window
 * </pre>
 * The datagram is complete when the end is known and the pieces hold exactly {@code end} bytes:
 * disjoint pieces inside {@code [0, end)} that add up to {@code end} leave no hole.
 *
 * <h2>Overlaps (RFC 791, RFC 5722, the "teardrop" attack)</h2>
 * The pieces already held are never modified; only the newcomer is cut, with {@link Mbuf#pull} and
 * {@link Mbuf#trim}, as in BSD's {@code ip_reass}:
 * <ul>
 *   <li>the bytes it shares with any held piece are compared first; if any differ, nobody can tell
 *       which copy is right, so the whole datagram is dropped ({@link DropReason#OVERLAP_CONFLICT});</li>
 *   <li>a front overlap with the preceding piece is pulled off the newcomer;</li>
 *   <li>held pieces the newcomer covers completely are freed (they are {@link DropReason#DUPLICATE}s
 *       of the newcomer's bytes), so a re-fragmented retransmission can replace small pieces;</li>
 *   <li>a tail overlap with the following piece is trimmed off the newcomer;</li>
 *   <li>a newcomer left with no new byte is a {@link DropReason#DUPLICATE}.</li>
 * </ul>
 * So the result never holds a byte twice, never reads outside a fragment's window, and a datagram
 * re-sent with other fragment boundaries still reassembles to the original.
 *
 * <h2>Bounds</h2>
 * When a new datagram finds every slot taken, or a fragment finds every piece entry taken, the
 * <em>oldest</em> other datagram (earliest first fragment) is evicted and its fragments counted as
 * {@link DropReason#NO_ROOM}, as FreeBSD's {@code ip_reass} does when over its limits: under a flood of
 * never-completing fragments memory stays bounded and the newest traffic, which is the most likely
 * to complete, keeps making progress. A datagram that alone would need more than {@code maxBuffers}
 * pieces can never complete and is dropped whole. Nothing here sends ICMP: a datagram that times out
 * is reported to the caller of {@link #expire(long, ExpiredListener)}; an evicted one is not.
 *
 * <p>Counters count fragments (mbufs taken by {@link #add}), so at any time
 * {@code received() == fragments delivered in reassembled chains + heldBuffers() + sum of dropped(...)}.
 *
 * <p>Not thread-safe: only the device's receive thread calls it, like the rest of the receive path.
 */
public final class Reassembler {
    /** Datagrams under reassembly at once. */
    public static final int DEFAULT_MAX_DATAGRAMS = 64;
    /** Fragments (mbufs) held in total. */
    public static final int DEFAULT_MAX_BUFFERS = 512;
    /** Reassembly time limit from a datagram's first fragment. RFC 791 suggests 15 s; Linux uses 30 s. */
    public static final long DEFAULT_TIMEOUT_NANOS = 30_000_000_000L;

    /** Why a fragment was discarded; a bounded set, fit for a metric tag. */
    public enum DropReason {
        /** The datagram was not complete within the timeout (counted by {@link #expire}). */
        TIMEOUT("timeout"),
        /** The reassembled datagram would exceed 65535 bytes (the "ping of death"); dropped whole. */
        TOO_LARGE("too_large"),
        /**
         * Fragments disagree: overlapping bytes differ, or a fragment ends beyond the datagram's end,
         * or two last fragments give different ends. The whole datagram is dropped.
         */
        OVERLAP_CONFLICT("overlap_conflict"),
        /** The fragment added no new byte, or a held fragment was wholly replaced by a newcomer's same bytes. */
        DUPLICATE("duplicate"),
        /** A bound was hit: the datagram was evicted to make room, or alone needs more than the buffer bound. */
        NO_ROOM("no_room"),
        /**
         * The fragment itself is malformed: a non-final fragment whose payload is not a multiple of 8
         * bytes, an empty payload, or a header that does not match its buffer. Only that fragment is dropped.
         */
        BAD_FRAGMENT("bad_fragment");

        private final String tag;

        DropReason(String tag) {
            this.tag = tag;
        }

        /** Lowercase name for a metric's {@code reason} tag. */
        public String tag() {
            return tag;
        }
    }

    /**
     * Told about a timed-out datagram whose offset-0 fragment had arrived, so that the caller can send
     * ICMP time exceeded, code 1 "fragment reassembly time exceeded" (RFC 792). Create one instance up
     * front and pass it to every {@link #expire(long, ExpiredListener)} call: nothing is allocated.
     */
    @FunctionalInterface
    public interface ExpiredListener {
        /**
         * Called just before the datagram is freed. {@code firstFragment}'s data window is the offset-0
         * fragment's IPv4 header as received (fragment fields unchanged) followed by the payload bytes
         * kept from it, at least one byte; the ICMP message quotes the header and the first 8 of them.
         * The mbuf still belongs to the reassembler: copy what is needed, do not keep, change or free it.
         *
         * @param source      the datagram's source address (network order, as {@link Ipv4Header#source()})
         * @param destination the datagram's destination address
         */
        void firstFragmentExpired(int source, int destination, Mbuf firstFragment);
    }

    private static final int NONE = -1;
    private static final int FRAGMENT_OFFSET_MASK = 0x1fff;
    private static final int UNKNOWN_END = -1;
    /** The largest payload end any datagram can have: 65535 minus the smallest header. */
    private static final int MAX_PAYLOAD_END = Ipv4Header.MAX_PACKET_LENGTH - Ipv4Header.MIN_HEADER_LENGTH;

    private static final int TIMEOUT = DropReason.TIMEOUT.ordinal();
    private static final int TOO_LARGE = DropReason.TOO_LARGE.ordinal();
    private static final int OVERLAP_CONFLICT = DropReason.OVERLAP_CONFLICT.ordinal();
    private static final int DUPLICATE = DropReason.DUPLICATE.ordinal();
    private static final int NO_ROOM = DropReason.NO_ROOM.ordinal();
    private static final int BAD_FRAGMENT = DropReason.BAD_FRAGMENT.ordinal();

    private final int maxDatagrams;
    private final int maxBuffers;
    private final long timeoutNanos;

    // Datagram slots.
    private final boolean[] slotInUse;
    private final int[] slotSource;
    private final int[] slotDestination;
    private final int[] slotProtocolAndId;        // protocol << 16 | identification
    private final long[] slotStarted;             // arrival time of the first fragment
    private final int[] slotFirstPiece;           // head of the sorted piece list
    private final int[] slotHeldBytes;            // payload bytes in the pieces
    private final int[] slotEnd;                  // payload length, from the MF=0 fragment; UNKNOWN_END before
    private final int[] slotHeaderLength;         // of the offset-0 fragment; 0 until it is held

    // Piece entries: an index-linked free list when not in use.
    private final Mbuf[] pieceMbuf;
    private final int[] pieceStart;               // payload offset of the window's first byte
    private final int[] pieceNext;
    private int freePiece;

    private int pendingDatagrams;
    private int heldBuffers;

    private final long[] dropped = new long[DropReason.values().length];
    private long received;
    private long reassembled;

    private final Ipv4Header header = new Ipv4Header();

    /** A reassembler with {@link #DEFAULT_MAX_DATAGRAMS}, {@link #DEFAULT_MAX_BUFFERS} and {@link #DEFAULT_TIMEOUT_NANOS}. */
    public Reassembler() {
        this(DEFAULT_MAX_DATAGRAMS, DEFAULT_MAX_BUFFERS, DEFAULT_TIMEOUT_NANOS);
    }

    /**
     * @param maxDatagrams datagrams under reassembly at once (at least 1)
     * @param maxBuffers   fragments held in total (at least 1)
     * @param timeoutNanos time limit from a datagram's first fragment (positive)
     */
    public Reassembler(int maxDatagrams, int maxBuffers, long timeoutNanos) {
        if (maxDatagrams < 1) {
            throw new IllegalArgumentException("maxDatagrams must be at least 1, got " + maxDatagrams);
        }
        if (maxBuffers < 1) {
            throw new IllegalArgumentException("maxBuffers must be at least 1, got " + maxBuffers);
        }
        if (timeoutNanos <= 0) {
            throw new IllegalArgumentException("reassembly timeout must be positive, got " + timeoutNanos + " ns");
        }
        this.maxDatagrams = maxDatagrams;
        this.maxBuffers = maxBuffers;
        this.timeoutNanos = timeoutNanos;
        slotInUse = new boolean[maxDatagrams];
        slotSource = new int[maxDatagrams];
        slotDestination = new int[maxDatagrams];
        slotProtocolAndId = new int[maxDatagrams];
        slotStarted = new long[maxDatagrams];
        slotFirstPiece = new int[maxDatagrams];
        slotHeldBytes = new int[maxDatagrams];
        slotEnd = new int[maxDatagrams];
        slotHeaderLength = new int[maxDatagrams];
        pieceMbuf = new Mbuf[maxBuffers];
        pieceStart = new int[maxBuffers];
        pieceNext = new int[maxBuffers];
        for (int i = 0; i < maxBuffers; i++) {
            pieceNext[i] = i + 1 < maxBuffers ? i + 1 : NONE;
        }
        freePiece = 0;
    }

    /**
     * Takes ownership of one fragment: an mbuf whose data window starts at a validated IPv4 header
     * (version 4, IHL >= 5, checksum valid, total length == data length, MF set or offset != 0).
     *
     * <p>Returns {@code null} while the datagram is incomplete (the fragment is kept, or dropped and
     * counted), or the complete datagram as an mbuf chain: the first mbuf's window is the IPv4 header
     * of the offset-0 fragment (options kept) followed by the first payload bytes; every following
     * chained mbuf's window is only payload, in order, with no gap and no overlap. In the returned
     * header the total length covers the whole datagram, MF and the fragment offset are cleared, the
     * other flags (DF) are kept and the checksum is refilled. A datagram that would exceed 65535 bytes
     * is dropped instead.
     *
     * <p>A packet that is not a fragment (MF clear, offset 0) is returned as it is. A header that
     * does not match its buffer, or a packet already chained, is dropped as {@link DropReason#BAD_FRAGMENT}.
     */
    public Mbuf add(Mbuf fragment, long nowNanos) {
        int length = fragment.length();
        if (fragment.chained() != null || !header.wrap(fragment.buffer(), fragment.head(), length)
                || header.version() != 4 || header.headerLength() < Ipv4Header.MIN_HEADER_LENGTH
                || header.headerLength() > length || header.totalLength() != length) {
            received++;
            return drop(fragment, BAD_FRAGMENT);
        }
        int headerLength = header.headerLength();
        int flags = header.flagsAndFragment();
        boolean moreFragments = (flags & Ipv4Header.FLAG_MORE_FRAGMENTS) != 0;
        int start = (flags & FRAGMENT_OFFSET_MASK) * 8;
        if (!moreFragments && start == 0) {
            return fragment;                 // not a fragment: nothing to reassemble
        }
        received++;
        int payloadLength = length - headerLength;
        int end = start + payloadLength;
        int source = header.source();
        int destination = header.destination();
        int protocolAndId = header.protocol() << 16 | header.identification();
        if (payloadLength == 0 || (moreFragments && (payloadLength & 7) != 0)) {
            return drop(fragment, BAD_FRAGMENT);
        }
        int slot = find(source, destination, protocolAndId);
        if (end > MAX_PAYLOAD_END) {
            return dropDatagram(slot, fragment, TOO_LARGE);
        }
        if (slot != NONE && !endAgrees(slot, end, moreFragments)) {
            return dropDatagram(slot, fragment, OVERLAP_CONFLICT);
        }

        fragment.pull(headerLength);         // the window is now payload [start, end)
        int previous = NONE;
        int next = NONE;
        if (slot != NONE) {
            if (!moreFragments) {
                slotEnd[slot] = end;         // agreed above; kept even if this fragment turns out a duplicate
            }
            next = slotFirstPiece[slot];
            while (next != NONE && pieceStart[next] <= start) {
                previous = next;
                next = pieceNext[next];
            }
            if (previous != NONE) {
                int previousEnd = pieceStart[previous] + pieceMbuf[previous].length();
                if (previousEnd > start) {
                    if (!sameBytes(fragment, start, previous, start, Math.min(previousEnd, end))) {
                        return dropDatagram(slot, fragment, OVERLAP_CONFLICT);
                    }
                    if (previousEnd >= end) {
                        return dropDuplicate(slot, fragment);
                    }
                    fragment.pull(previousEnd - start);
                    start = previousEnd;
                }
            }
            while (next != NONE && pieceStart[next] < end) {
                int nextStart = pieceStart[next];
                int nextEnd = nextStart + pieceMbuf[next].length();
                if (!sameBytes(fragment, start, next, nextStart, Math.min(nextEnd, end))) {
                    return dropDatagram(slot, fragment, OVERLAP_CONFLICT);
                }
                if (nextEnd > end) {
                    fragment.trim(end - nextStart);
                    end = nextStart;
                    break;
                }
                next = removePiece(slot, previous, next);
            }
            if (end <= start) {
                return dropDuplicate(slot, fragment);
            }
        } else {
            slot = openSlot(source, destination, protocolAndId, nowNanos);
            if (!moreFragments) {
                slotEnd[slot] = end;
            }
        }

        int piece = takePiece(slot);
        if (piece == NONE) {
            return dropDatagram(slot, fragment, NO_ROOM);
        }
        pieceMbuf[piece] = fragment;
        pieceStart[piece] = start;
        pieceNext[piece] = next;
        if (previous == NONE) {
            slotFirstPiece[slot] = piece;
        } else {
            pieceNext[previous] = piece;
        }
        slotHeldBytes[slot] += end - start;
        if (start == 0) {                    // only an untrimmed offset-0 fragment lands at 0
            slotHeaderLength[slot] = headerLength;
        }
        if (slotHeldBytes[slot] == slotEnd[slot]) {
            return complete(slot);
        }
        return null;
    }

    /** Frees every datagram whose first fragment is at least the timeout old; returns how many expired. */
    public int expire(long nowNanos) {
        return expire(nowNanos, null);
    }

    /**
     * Frees every datagram whose first fragment is at least the timeout old, counting its fragments as
     * {@link DropReason#TIMEOUT}, and tells {@code listener} (may be null) about each one whose
     * offset-0 fragment had arrived, before freeing it. Call it regularly from the receive thread,
     * e.g. once per receive batch or once a second. Returns how many datagrams expired.
     */
    public int expire(long nowNanos, ExpiredListener listener) {
        int expired = 0;
        for (int slot = 0; slot < maxDatagrams; slot++) {
            if (slotInUse[slot] && nowNanos - slotStarted[slot] >= timeoutNanos) {
                int headerLength = slotHeaderLength[slot];
                if (listener != null && headerLength != 0) {
                    Mbuf first = pieceMbuf[slotFirstPiece[slot]];
                    first.push(headerLength);
                    listener.firstFragmentExpired(slotSource[slot], slotDestination[slot], first);
                }
                freeSlot(slot, TIMEOUT);
                expired++;
            }
        }
        return expired;
    }

    /** Frees everything held, without counting it as dropped (for shutdown). */
    public void clear() {
        for (int slot = 0; slot < maxDatagrams; slot++) {
            if (slotInUse[slot]) {
                freeSlot(slot, NONE);
            }
        }
    }

    /** Datagrams under reassembly. */
    public int pendingDatagrams() {
        return pendingDatagrams;
    }

    /** Fragments (mbufs) held, at most the buffer bound. */
    public int heldBuffers() {
        return heldBuffers;
    }

    /** Fragments taken by {@link #add}, packets that were not fragments excluded. */
    public long received() {
        return received;
    }

    /** Datagrams reassembled and returned. */
    public long reassembled() {
        return reassembled;
    }

    /** Fragments discarded for {@code reason}, including held ones discarded with their whole datagram. */
    public long dropped(DropReason reason) {
        return dropped[reason.ordinal()];
    }

    // ---------------------------------------------------------------------------------------------

    private int find(int source, int destination, int protocolAndId) {
        for (int slot = 0; slot < maxDatagrams; slot++) {
            if (slotInUse[slot] && slotProtocolAndId[slot] == protocolAndId && slotSource[slot] == source
                    && slotDestination[slot] == destination) {
                return slot;
            }
        }
        return NONE;
    }

    /**
     * Whether a fragment ending at {@code end} fits what is known of the datagram's end: a last
     * fragment must not end before held data nor disagree with an earlier last fragment; no fragment
     * may reach past a known end.
     */
    private boolean endAgrees(int slot, int end, boolean moreFragments) {
        int knownEnd = slotEnd[slot];
        if (moreFragments) {
            return knownEnd == UNKNOWN_END || end <= knownEnd;
        }
        if (knownEnd != UNKNOWN_END) {
            return end == knownEnd;
        }
        int last = slotFirstPiece[slot];
        while (pieceNext[last] != NONE) {
            last = pieceNext[last];
        }
        return pieceStart[last] + pieceMbuf[last].length() <= end;
    }

    /**
     * Compares the newcomer's bytes with a held piece's over payload range [from, to): the newcomer's
     * window starts at payload offset {@code fragmentStart}, the piece's at {@code pieceFrom}.
     */
    private boolean sameBytes(Mbuf fragment, int fragmentStart, int piece, int from, int to) {
        Mbuf held = pieceMbuf[piece];
        ByteBuffer a = fragment.buffer();
        ByteBuffer b = held.buffer();
        int at = fragment.head() + (from - fragmentStart);
        int bt = held.head() + (from - pieceStart[piece]);
        int n = to - from;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            if (a.getLong(at + i) != b.getLong(bt + i)) {
                return false;
            }
        }
        for (; i < n; i++) {
            if (a.get(at + i) != b.get(bt + i)) {
                return false;
            }
        }
        return true;
    }

    /** Frees a held piece the newcomer covers; returns the piece that followed it. */
    private int removePiece(int slot, int previous, int piece) {
        int following = pieceNext[piece];
        if (previous == NONE) {
            slotFirstPiece[slot] = following;
        } else {
            pieceNext[previous] = following;
        }
        Mbuf mbuf = pieceMbuf[piece];
        slotHeldBytes[slot] -= mbuf.length();
        releasePiece(piece);
        mbuf.free();
        dropped[DUPLICATE]++;
        return following;
    }

    private int openSlot(int source, int destination, int protocolAndId, long nowNanos) {
        int slot = NONE;
        for (int i = 0; i < maxDatagrams; i++) {
            if (!slotInUse[i]) {
                slot = i;
                break;
            }
        }
        if (slot == NONE) {
            slot = oldestSlotExcept(NONE);
            freeSlot(slot, NO_ROOM);
        }
        slotInUse[slot] = true;
        slotSource[slot] = source;
        slotDestination[slot] = destination;
        slotProtocolAndId[slot] = protocolAndId;
        slotStarted[slot] = nowNanos;
        slotFirstPiece[slot] = NONE;
        slotHeldBytes[slot] = 0;
        slotEnd[slot] = UNKNOWN_END;
        slotHeaderLength[slot] = 0;
        pendingDatagrams++;
        return slot;
    }

    /** A free piece entry, evicting the oldest other datagram when none is free; NONE if {@code slot} holds them all. */
    private int takePiece(int slot) {
        if (freePiece == NONE) {
            int victim = oldestSlotExcept(slot);
            if (victim == NONE) {
                return NONE;
            }
            freeSlot(victim, NO_ROOM);
        }
        int piece = freePiece;
        freePiece = pieceNext[piece];
        heldBuffers++;
        return piece;
    }

    private void releasePiece(int piece) {
        pieceMbuf[piece] = null;
        pieceNext[piece] = freePiece;
        freePiece = piece;
        heldBuffers--;
    }

    private int oldestSlotExcept(int excluded) {
        int oldest = NONE;
        for (int slot = 0; slot < maxDatagrams; slot++) {
            if (slotInUse[slot] && slot != excluded
                    && (oldest == NONE || slotStarted[slot] - slotStarted[oldest] < 0)) {
                oldest = slot;
            }
        }
        return oldest;
    }

    private Mbuf drop(Mbuf fragment, int reason) {
        fragment.freePacket();
        dropped[reason]++;
        return null;
    }

    /**
     * Drops a newcomer that adds no byte. Its MF=0 may still have told the end, the one thing missing
     * when a sender set MF on a piece that reaches the end: then the datagram is complete now.
     */
    private Mbuf dropDuplicate(int slot, Mbuf fragment) {
        drop(fragment, DUPLICATE);
        return slotHeldBytes[slot] == slotEnd[slot] ? complete(slot) : null;
    }

    /** Drops the newcomer and, when {@code slot} is not NONE, its whole datagram. */
    private Mbuf dropDatagram(int slot, Mbuf fragment, int reason) {
        if (slot != NONE) {
            freeSlot(slot, reason);
        }
        return drop(fragment, reason);
    }

    /** Frees a datagram's pieces, counting them as {@code reason} unless it is NONE, and the slot. */
    private void freeSlot(int slot, int reason) {
        int piece = slotFirstPiece[slot];
        while (piece != NONE) {
            int following = pieceNext[piece];
            Mbuf mbuf = pieceMbuf[piece];
            releasePiece(piece);
            mbuf.free();
            if (reason != NONE) {
                dropped[reason]++;
            }
            piece = following;
        }
        slotFirstPiece[slot] = NONE;
        slotInUse[slot] = false;
        pendingDatagrams--;
    }

    /** Turns a complete piece list into the returned chain, or drops it when over 65535 bytes. */
    private Mbuf complete(int slot) {
        int headerLength = slotHeaderLength[slot];
        int totalLength = headerLength + slotEnd[slot];
        if (totalLength > Ipv4Header.MAX_PACKET_LENGTH) {
            freeSlot(slot, TOO_LARGE);
            return null;
        }
        int piece = slotFirstPiece[slot];
        Mbuf first = pieceMbuf[piece];
        first.push(headerLength);
        header.wrap(first.buffer(), first.head(), first.length());
        header.totalLength(totalLength);
        header.flagsAndFragment(header.flagsAndFragment() & ~(Ipv4Header.FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK));
        header.fillChecksum();
        Mbuf last = null;
        while (piece != NONE) {
            int following = pieceNext[piece];
            Mbuf mbuf = pieceMbuf[piece];
            if (last != null) {
                last.chain(mbuf);
            }
            last = mbuf;
            releasePiece(piece);
            piece = following;
        }
        last.chain(null);
        slotFirstPiece[slot] = NONE;
        slotInUse[slot] = false;
        pendingDatagrams--;
        reassembled++;
        return first;
    }
}
