package dev.netstack.ipv4;

import dev.netstack.arp.ArpLayer;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.icmp.IcmpLayer;
import dev.netstack.metrics.Drop;
import dev.netstack.metrics.Layer;
import dev.netstack.metrics.StackCounters;
import dev.netstack.udp.UdpLayer;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.Ipv4Subnet;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * IPv4 for a host with one interface (RFC 791, RFC 1122): validates and delivers incoming packets
 * addressed to us, reassembles fragments, and routes, fragments and sends outgoing datagrams.
 * This host does not forward.
 *
 * <p>Outgoing transport data is given as an 8-byte transport header (a UDP header or the first word
 * pair of an ICMP message, packed big-endian in a {@code long}) followed by a payload taken either
 * from a ByteBuffer or from an mbuf chain. That covers every sender in the stack and lets the
 * header be built with no object at all.
 */
public final class Ipv4Layer {
    /** {@link #send} results. */
    public static final int SENT = 0, NO_ROUTE = -1, TOO_LONG = -2, NO_BUFFER = -3, NO_ADDRESS = -4;
    /** Bytes below the IP header reserved in every outgoing mbuf. */
    public static final int LINK_HEADROOM = EthernetHeader.HEADER_LENGTH;
    private static final int TRANSPORT_HEADER = 8;

    private static final ThreadLocal<Ipv4Header> TX_HEADER = ThreadLocal.withInitial(Ipv4Header::new);

    private final ArpLayer arp;
    private final MbufPool pool;
    private final StackCounters counters;
    private final LongSupplier clock;
    private final Reassembler reassembler;
    private final int mtu;
    private final Ipv4Header rxHeader = new Ipv4Header();   // receive thread only
    private final AtomicInteger identification = new AtomicInteger((int) System.nanoTime());
    private IcmpLayer icmp;
    private UdpLayer udp;
    private Reassembler.ExpiredListener reassemblyExpired;
    /** Serialises the receive pipeline; datagrams to our own address run it on the sender's thread. */
    private java.util.concurrent.locks.Lock pipeline = new java.util.concurrent.locks.ReentrantLock();

    private volatile int address;
    private volatile int mask;
    private volatile int gateway;

    public Ipv4Layer(ArpLayer arp, MbufPool pool, StackCounters counters, LongSupplier clock,
            Reassembler reassembler, int mtu) {
        this.arp = arp;
        this.pool = pool;
        this.counters = counters;
        this.clock = clock;
        this.reassembler = reassembler;
        this.mtu = mtu;
        counters.countElsewhere(Drop.IPV4_FRAGMENT_TIMEOUT, () -> reassembler.dropped(Reassembler.DropReason.TIMEOUT));
        counters.countElsewhere(Drop.IPV4_FRAGMENT_TOO_LARGE, () -> reassembler.dropped(Reassembler.DropReason.TOO_LARGE));
        counters.countElsewhere(Drop.IPV4_FRAGMENT_OVERLAP_CONFLICT, () -> reassembler.dropped(Reassembler.DropReason.OVERLAP_CONFLICT));
        counters.countElsewhere(Drop.IPV4_FRAGMENT_DUPLICATE, () -> reassembler.dropped(Reassembler.DropReason.DUPLICATE));
        counters.countElsewhere(Drop.IPV4_FRAGMENT_NO_ROOM, () -> reassembler.dropped(Reassembler.DropReason.NO_ROOM));
        counters.countElsewhere(Drop.IPV4_FRAGMENT_BAD, () -> reassembler.dropped(Reassembler.DropReason.BAD_FRAGMENT));
    }

    public void connect(IcmpLayer icmp, UdpLayer udp) {
        this.icmp = icmp;
        this.udp = udp;
        this.reassemblyExpired = icmp::reassemblyTimedOut;
    }

    /**
     * The lock that serialises the receive pipeline (the stack's receive thread holds it per batch).
     * It must be reentrant: a datagram to ourselves may be answered to ourselves (an echo request)
     * from inside the pipeline.
     */
    public void pipelineLock(java.util.concurrent.locks.Lock lock) {
        this.pipeline = lock;
    }

    /** Sets our address, prefix and gateway (0 for none). */
    public void configure(int address, int prefixLength, int gateway) {
        this.mask = Ipv4Subnet.maskOf(prefixLength);
        this.gateway = gateway;
        this.address = address;
    }

    public int address() {
        return address;
    }

    public int gateway() {
        return gateway;
    }

    public int mtu() {
        return mtu;
    }

    /** The directed broadcast address of our subnet. */
    public int subnetBroadcast() {
        return address | ~mask;
    }

    // --- input (receive thread) ----------------------------------------------------------------

    /** An IPv4 packet from the Ethernet layer, window at the IP header (maybe padded); consumed. */
    public void input(Mbuf packet) {
        input(packet, true);
    }

    /** {@code fromLink} is false for our own datagrams handed back by {@link #deliverLocally}. */
    private void input(Mbuf packet, boolean fromLink) {
        int available = packet.length();
        counters.received(Layer.IPV4, available);
        Ipv4Header ip = rxHeader;
        if (!ip.wrap(packet.buffer(), packet.head(), available) || ip.version() != 4 || ip.ihl() < 5) {
            drop(packet, Drop.IPV4_MALFORMED);
            return;
        }
        int headerLength = ip.headerLength();
        int totalLength = ip.totalLength();
        if (headerLength > available || totalLength < headerLength || totalLength > available) {
            drop(packet, Drop.IPV4_BAD_LENGTH);
            return;
        }
        if (!ip.isChecksumValid()) {
            drop(packet, Drop.IPV4_BAD_CHECKSUM);
            return;
        }
        packet.trim(available - totalLength);   // Ethernet pads short frames; the padding is not ours
        int destination = ip.destination();
        int me = address;
        if (fromLink && me != 0 && ip.source() == me) {
            // a martian: only we send from our address, and our own datagrams never cross the link
            drop(packet, Drop.IPV4_MARTIAN_SOURCE);
            return;
        }
        if (destination != me && destination != -1 && (me == 0 || destination != (me | ~mask))) {
            drop(packet, Drop.IPV4_NOT_FOR_US);
            return;
        }
        if (ip.isFragment()) {
            packet = reassembler.add(packet, clock.getAsLong());
            if (packet == null) {
                return;   // kept for later, or dropped and counted by the reassembler
            }
            ip.wrap(packet.buffer(), packet.head(), packet.length());
        }
        packet.networkOffset = packet.head();
        packet.transportOffset = packet.head() + headerLength;
        switch (ip.protocol()) {
            case Ipv4Header.PROTOCOL_UDP:
                counters.accepted(Layer.IPV4);
                udp.input(packet);
                break;
            case Ipv4Header.PROTOCOL_ICMP:
                counters.accepted(Layer.IPV4);
                icmp.input(packet);
                break;
            default:
                counters.drop(Drop.IPV4_UNKNOWN_PROTOCOL);
                icmp.sendError(packet, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PROTOCOL_UNREACHABLE);
                packet.freePacket();
        }
    }

    /** Expires stale reassemblies (and reports them with ICMP time exceeded); receive thread. */
    public void tick() {
        reassembler.expire(clock.getAsLong(), reassemblyExpired);
    }

    // --- output (any thread) -------------------------------------------------------------------

    /** The next hop for {@code destination}: itself on our subnet, the gateway otherwise, -1 for broadcast, 0 for none. */
    public int route(int destination) {
        int me = address;
        if (destination == -1 || (me != 0 && destination == (me | ~mask))) {
            return -1;
        }
        if (me == 0) {
            return 0;
        }
        if ((destination & mask) == (me & mask)) {
            return destination;
        }
        return gateway;
    }

    /**
     * Sends {@code header} (8 bytes) followed by the remaining bytes of {@code payload} (position
     * unchanged) to {@code destination}, fragmenting over the MTU.
     *
     * @return {@link #SENT}, {@link #NO_ROUTE}, {@link #NO_ADDRESS}, {@link #TOO_LONG} or {@link #NO_BUFFER}
     */
    public int send(int destination, int protocol, long header, ByteBuffer payload, int ttl) {
        return send(destination, protocol, header, payload, payload.position(), null, 0, payload.remaining(), ttl);
    }

    /** As {@link #send(int, int, long, ByteBuffer, int)} with the payload taken from a packet's mbuf chain, starting {@code offset} bytes into its data. */
    public int send(int destination, int protocol, long header, Mbuf payload, int offset, int length, int ttl) {
        return send(destination, protocol, header, null, 0, payload, offset, length, ttl);
    }

    private int send(int destination, int protocol, long header, ByteBuffer buffer, int position,
            Mbuf chain, int chainOffset, int payloadLength, int ttl) {
        int source = address;
        if (source == 0) {
            return NO_ADDRESS;
        }
        int transportLength = TRANSPORT_HEADER + payloadLength;
        if (transportLength > Ipv4Header.MAX_PACKET_LENGTH - Ipv4Header.MIN_HEADER_LENGTH) {
            return TOO_LONG;
        }
        int nextHop = route(destination);
        if (nextHop == 0) {
            counters.drop(Drop.IPV4_NO_ROUTE);
            return NO_ROUTE;
        }
        int id = identification.getAndIncrement() & 0xffff;
        // a UDP header's last field is its checksum, and 0 there means the sender left it out
        boolean withoutTransportChecksum = protocol == Ipv4Header.PROTOCOL_UDP && (header & 0xffff) == 0;
        int perFragment = (mtu - Ipv4Header.MIN_HEADER_LENGTH) & ~7;
        Mbuf first = null;
        Mbuf last = null;
        Ipv4Header ip = TX_HEADER.get();
        for (int offset = 0; offset < transportLength; offset += perFragment) {
            int length = Math.min(perFragment, transportLength - offset);
            Mbuf m = pool.allocate(LINK_HEADROOM + Ipv4Header.MIN_HEADER_LENGTH);
            if (m == null) {
                counters.drop(Drop.IPV4_NO_BUFFER);
                if (first != null) {
                    first.freePacket();
                }
                return NO_BUFFER;
            }
            int at = m.put(length);
            m.withoutTransportChecksum = withoutTransportChecksum;
            ByteBuffer b = m.buffer();
            int dataFrom = offset;
            int dataAt = at;
            int dataLength = length;
            if (offset == 0) {
                b.putLong(at, header);
                dataFrom = 0;
                dataAt = at + TRANSPORT_HEADER;
                dataLength = length - TRANSPORT_HEADER;
            } else {
                dataFrom = offset - TRANSPORT_HEADER;
            }
            if (buffer != null) {
                b.put(dataAt, buffer, position + dataFrom, dataLength);
            } else {
                copyFromChain(chain, chainOffset + dataFrom, b, dataAt, dataLength);
            }
            boolean more = offset + length < transportLength;
            int flags = (more ? Ipv4Header.FLAG_MORE_FRAGMENTS : 0) | (offset >>> 3);
            int ipAt = m.push(Ipv4Header.MIN_HEADER_LENGTH);
            ip.wrap(b, ipAt, Ipv4Header.MIN_HEADER_LENGTH);
            ip.set(Ipv4Header.MIN_HEADER_LENGTH + length, id, flags, ttl, protocol, source, destination);
            counters.sent(Layer.IPV4, m.length());
            if (first == null) {
                first = m;
            } else {
                last.chain(m);   // a train of fragments, sent (or queued for ARP) together
            }
            last = m;
        }
        if (destination == source) {
            deliverLocally(first);
        } else {
            arp.output(first, nextHop);
        }
        return SENT;
    }

    /**
     * A datagram to our own address never reaches the link (no card hears its own transmission):
     * it goes straight back into {@link #input}, on the sender's thread, as a host's local route does.
     */
    private void deliverLocally(Mbuf train) {
        pipeline.lock();
        try {
            Mbuf packet = train;
            while (packet != null) {
                Mbuf following = packet.chained();
                packet.chain(null);
                input(packet, false);
                packet = following;
            }
        } finally {
            pipeline.unlock();
        }
    }

    /** Copies {@code length} bytes starting {@code offset} bytes into the data of packet {@code chain}. */
    static void copyFromChain(Mbuf chain, int offset, ByteBuffer target, int at, int length) {
        Mbuf m = chain;
        int skip = offset;
        while (m != null && skip >= m.length()) {
            skip -= m.length();
            m = m.chained();
        }
        int copied = 0;
        while (copied < length && m != null) {
            int n = Math.min(length - copied, m.length() - skip);
            target.put(at + copied, m.buffer(), m.head() + skip, n);
            copied += n;
            skip = 0;
            m = m.chained();
        }
        if (copied != length) {
            throw new IllegalArgumentException("packet holds " + copied + " of the " + length + " bytes asked for");
        }
    }

    private void drop(Mbuf packet, Drop reason) {
        counters.drop(reason);
        packet.freePacket();
    }

    /** Frees whatever reassembly holds; used when the stack closes. */
    public void clear() {
        reassembler.clear();
    }
}
