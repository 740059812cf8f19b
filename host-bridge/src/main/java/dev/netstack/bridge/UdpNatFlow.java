package dev.netstack.bridge;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;

/**
 * One guest UDP flow, (guest address, guest port), and the host datagram socket that carries it.
 * Owned by the gateway's event loop: nothing here is touched from another thread.
 *
 * <p>The socket is connected to the flow's first destination so that the kernel reports ICMP port
 * unreachable to it (an unconnected UDP socket never hears of it); when the guest sends from the
 * same port to a second destination the socket is disconnected and sends with an address per
 * datagram from then on, losing only that error reporting.
 */
final class UdpNatFlow {
    /** Largest IPv4 header plus 8 bytes of its payload: what an ICMP error quotes (RFC 792). */
    static final int MAX_QUOTE = 60 + 8;

    final int guestAddress;
    final int guestPort;
    final long key;
    final long idleTimeoutNanos;
    long lastActiveNanos;
    /** Set when the flow left the table; a late datagram on its socket must not touch the table. */
    boolean removed;

    /** The host socket; null until opened (and in table-only tests). */
    Channel channel;
    /** True once the socket is bound and connected; datagrams wait in {@link #waiting} before. */
    boolean ready;
    /** Connected destination as an int address and port; {@code connectedPort == 0} once disconnected. */
    int connectedAddress;
    int connectedPort;
    /** The last recipient used, reused while the guest keeps the same destination. */
    InetSocketAddress recipient;
    int recipientAddress;
    int recipientPort;
    /** Datagrams sent before the socket was ready. */
    ArrayDeque<DatagramPacket> waiting;

    /**
     * Datagrams to the connected destination gathered during one drain for a single segmented send
     * (UDP GSO): {@link #batchCount} payloads of {@link #batchSegment} bytes back to back, the last
     * possibly shorter. Null when nothing is gathered.
     */
    ByteBuf batch;
    int batchSegment;
    int batchCount;
    /** False once a segmented send failed other than by port unreachable: this flow sends one by one. */
    boolean segmenting = true;
    /**
     * True once a segmented send on this socket succeeded: later ones are written without a promise
     * of their own, and a failure among them reaches the flow's handler instead.
     */
    boolean segmentingVerified;
    /** Datagrams in the flow's last segmented send written without a promise. */
    int lastSegmentedCount;

    /** The guest's IPv4 header and first 8 payload bytes of its last datagram, quoted in ICMP errors. */
    final byte[] lastQuote = new byte[MAX_QUOTE];
    int lastQuoteLength;
    /** Destination as the guest addressed it (10.0.2.2, not 127.0.0.1): the source of ICMP errors. */
    int lastGuestDestination;

    // LRU list links, owned by UdpNatTable
    UdpNatFlow older;
    UdpNatFlow newer;

    UdpNatFlow(int guestAddress, int guestPort, long idleTimeoutNanos, long nowNanos) {
        this.guestAddress = guestAddress;
        this.guestPort = guestPort;
        this.key = key(guestAddress, guestPort);
        this.idleTimeoutNanos = idleTimeoutNanos;
        this.lastActiveNanos = nowNanos;
    }

    static long key(int address, int port) {
        return (address & 0xffff_ffffL) << 16 | (port & 0xffff);
    }

    boolean isIdle(long nowNanos) {
        return nowNanos - lastActiveNanos >= idleTimeoutNanos;
    }

    @Override
    public String toString() {
        return "UdpNatFlow[" + dev.netstack.wire.Ipv4Address.toString(guestAddress) + ":" + guestPort
                + (channel == null ? "" : " via " + channel.localAddress()) + "]";
    }
}
