package dev.netstack.udp;

import dev.netstack.buffer.Mbuf;
import dev.netstack.icmp.IcmpLayer;
import dev.netstack.icmp.PacketChecksum;
import dev.netstack.ipv4.Ipv4Layer;
import dev.netstack.metrics.Drop;
import dev.netstack.metrics.Layer;
import dev.netstack.metrics.StackCounters;
import dev.netstack.socket.PortInUseException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.UdpHeader;
import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * UDP (RFC 768, RFC 1122 §4.1): checks and demultiplexes incoming datagrams to sockets, and sends
 * datagrams for them.
 *
 * <p>Sockets are found by local port in a 65536-entry table whose entries are small immutable
 * arrays replaced on bind and close (copy on write), so the receive thread looks a datagram up
 * without a lock or an allocation, whether one socket is bound or thousands. Among the sockets on a
 * port the most specific wins: connected 4-tuple, then bound address, then wildcard.
 */
public final class UdpLayer {
    /** Ephemeral ports as IANA recommends (RFC 6335). */
    public static final int EPHEMERAL_FIRST = 49152, EPHEMERAL_LAST = 65535;

    private final Ipv4Layer ipv4;
    private final IcmpLayer icmp;
    private final StackCounters counters;
    private final AtomicReferenceArray<UdpSocket[]> ports = new AtomicReferenceArray<>(65536);
    private final Object bindLock = new Object();
    private final Ipv4Header rxIp = new Ipv4Header();     // receive thread only
    private final UdpHeader rxUdp = new UdpHeader();      // receive thread only
    private int boundSockets;                              // guarded by bindLock
    private volatile java.util.function.IntSupplier busyPoller;
    private volatile java.util.function.LongPredicate frameWaiter;
    private volatile long busyPollSpinNanos;
    private volatile long busyPollHoldOffNanos;
    private volatile Runnable busyPollStopped;
    private volatile Runnable busyPollActive;
    private volatile Runnable beginBurst;
    private volatile Runnable endBurst;

    public UdpLayer(Ipv4Layer ipv4, IcmpLayer icmp, StackCounters counters) {
        this.ipv4 = ipv4;
        this.icmp = icmp;
        this.counters = counters;
    }

    public Ipv4Layer ipv4() {
        return ipv4;
    }

    public StackCounters counters() {
        return counters;
    }

    /**
     * Busy-poll: a socket whose queue is empty may call {@code poller} to run the receive pipeline on
     * its own thread (it returns the frames handled, 0 when none or when another thread is running
     * the pipeline), as Linux's SO_BUSY_POLL lets a reader poll the card's queue instead of waiting
     * for the interrupt and a thread hand-off; {@code active} is told each time a polling socket takes
     * a datagram that was already queued (it is polling, though it has not needed to call
     * {@code poller}), so it must be cheap; {@code stopped} is told when a socket gives up polling to
     * wait. A socket polls for {@code spinNanos} before it waits, and one that has sent nothing since
     * it last took a datagram pauses {@code holdOffNanos} after each look that found nothing. Null:
     * sockets only wait. Set once by the stack.
     */
    public void busyPoll(java.util.function.IntSupplier poller, Runnable active, Runnable stopped, long spinNanos,
            long holdOffNanos) {
        this.busyPollActive = active;
        this.busyPollStopped = stopped;
        this.busyPollSpinNanos = spinNanos;
        this.busyPollHoldOffNanos = holdOffNanos;
        this.busyPoller = poller;
    }

    /**
     * Interrupt mode: how a socket's reader, finding its queue empty, waits for frames itself
     * (nanoseconds at most; true: it waited or received, look again; false: it could not, park). Set
     * once by the stack when its device can wait so. A ping waiting for its reply uses it too, as it
     * uses {@link #busyPoller()} in busy-poll mode.
     */
    public void awaitFramesWith(java.util.function.LongPredicate waiter) {
        this.frameWaiter = waiter;
    }

    /** The interrupt-mode wait for frames, or null when readers only park. */
    public java.util.function.LongPredicate frameWaiter() {
        return frameWaiter;
    }

    /** Called by a busy-polling socket for each datagram it found already queued. */
    public void busyPollActive() {
        runIfSet(busyPollActive);
    }

    /** Called by a socket that polled and now waits for the stack's receive thread instead. */
    public void busyPollStopped() {
        runIfSet(busyPollStopped);
    }

    /** The busy-poll hook, or null when sockets only wait. */
    public java.util.function.IntSupplier busyPoller() {
        return busyPoller;
    }

    /** How long a receiving socket polls the device before it waits instead. */
    public long busyPollSpinNanos() {
        return busyPollSpinNanos;
    }

    /** How long a socket reading a one-way stream pauses after a look that found nothing. */
    public long busyPollHoldOffNanos() {
        return busyPollHoldOffNanos;
    }

    /**
     * Where a socket's burst send opens and closes its transmit burst (the Ethernet layer's, see
     * {@link dev.netstack.ethernet.EthernetLayer#beginBurst()}). Unset: datagrams go out one by one.
     * Set once by the stack.
     */
    public void transmitBursts(Runnable begin, Runnable end) {
        this.beginBurst = begin;
        this.endBurst = end;
    }

    /** Opens a transmit burst on the calling thread; match with {@link #endBurst()} in a finally. */
    public void beginBurst() {
        runIfSet(beginBurst);
    }

    /** Closes the calling thread's transmit burst, handing its frames to the device. */
    public void endBurst() {
        runIfSet(endBurst);
    }

    private static void runIfSet(Runnable hook) {
        if (hook != null) {
            hook.run();
        }
    }

    // --- input (receive thread) ----------------------------------------------------------------

    /** A UDP datagram, window at the IP header, {@code transportOffset} at the UDP header; consumed. */
    public void input(Mbuf packet) {
        Ipv4Header ip = rxIp;
        ip.wrap(packet.buffer(), packet.head(), packet.length());
        int ipHeaderLength = ip.headerLength();
        int available = packet.packetLength() - ipHeaderLength;
        counters.received(Layer.UDP, available);
        UdpHeader udp = rxUdp;
        if (!udp.wrap(packet.buffer(), packet.transportOffset, packet.length() - ipHeaderLength)) {
            drop(packet, Drop.UDP_MALFORMED);
            return;
        }
        int length = udp.length();
        if (length < UdpHeader.HEADER_LENGTH || length > available) {
            drop(packet, Drop.UDP_MALFORMED);
            return;
        }
        int source = ip.source();
        int destination = ip.destination();
        if (udp.checksum() != 0) {
            long sum = InternetChecksum.pseudoHeader(source, destination, Ipv4Header.PROTOCOL_UDP, length);
            if (InternetChecksum.finish(PacketChecksum.add(packet, ipHeaderLength, length, sum)) != 0) {
                drop(packet, Drop.UDP_BAD_CHECKSUM);
                return;
            }
        }
        int sourcePort = udp.sourcePort();
        UdpSocket socket = lookup(destination, udp.destinationPort(), source, sourcePort);
        if (socket == null) {
            counters.drop(Drop.UDP_NO_SOCKET);
            if (destination == ipv4.address()) {
                icmp.sendError(packet, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE);
            }
            packet.freePacket();
            return;
        }
        trimPacket(packet, available - length);   // an IP payload longer than the UDP length: the rest is not data
        packet.pull(ipHeaderLength + UdpHeader.HEADER_LENGTH);   // window = payload; headers stay readable in front
        counters.accepted(Layer.UDP);   // the socket queues it or counts queue_full / socket_closed
        socket.deliver(packet);
    }

    /** Removes {@code extra} bytes from the end of a (possibly chained) packet. */
    private static void trimPacket(Mbuf packet, int extra) {
        if (extra <= 0) {
            return;
        }
        int keep = packet.packetLength() - extra;
        for (Mbuf m = packet; m != null; m = m.chained()) {
            if (keep >= m.length()) {
                keep -= m.length();
                continue;
            }
            m.trim(m.length() - keep);
            keep = 0;
            Mbuf rest = m.chained();
            if (rest != null) {
                m.chain(null);
                rest.freePacket();
            }
            return;
        }
    }

    private UdpSocket lookup(int destination, int port, int source, int sourcePort) {
        UdpSocket[] candidates = ports.get(port);
        if (candidates == null) {
            return null;
        }
        UdpSocket best = null;
        int bestScore = -1;
        for (UdpSocket s : candidates) {
            int score = s.matchScore(destination, source, sourcePort);
            if (score > bestScore) {
                best = s;
                bestScore = score;
            }
        }
        return best;
    }

    /** An ICMP error (or a local ARP failure) about a datagram we sent from {@code localPort}. */
    public void errorArrived(int localPort, int remoteAddress, int remotePort, int type, int code) {
        UdpSocket socket = lookup(ipv4.address(), localPort, remoteAddress, remotePort);
        if (socket != null) {
            socket.errorArrived(remoteAddress, remotePort, type, code);
        }
    }

    private void drop(Mbuf packet, Drop reason) {
        counters.drop(reason);
        packet.freePacket();
    }

    // --- output (application threads) ---------------------------------------------------------

    /**
     * Sends the remaining bytes of {@code payload} (position unchanged) from {@code sourcePort} to
     * {@code destination:destinationPort}; returns an {@link Ipv4Layer} result code. Without
     * {@code withChecksum} the datagram carries checksum 0, which IPv4 receivers take as "none"
     * (RFC 768), and its payload is not summed.
     */
    public int send(int sourcePort, int destination, int destinationPort, ByteBuffer payload, int ttl,
            boolean withChecksum) {
        int length = UdpHeader.HEADER_LENGTH + payload.remaining();
        if (length > Ipv4Header.MAX_PACKET_LENGTH - Ipv4Header.MIN_HEADER_LENGTH) {
            return Ipv4Layer.TOO_LONG;
        }
        int field = withChecksum ? checksumField(sourcePort, destination, destinationPort, payload, length) : 0;
        long header = ((long) sourcePort << 48) | ((long) destinationPort << 32) | ((long) length << 16) | field;
        int result = ipv4.send(destination, Ipv4Header.PROTOCOL_UDP, header, payload, ttl);
        if (result == Ipv4Layer.SENT) {
            counters.sent(Layer.UDP, length);
        }
        return result;
    }

    /** The checksum field of a datagram from this stack's address: never 0, which means "none". */
    private int checksumField(int sourcePort, int destination, int destinationPort, ByteBuffer payload, int length) {
        long sum = InternetChecksum.pseudoHeader(ipv4.address(), destination, Ipv4Header.PROTOCOL_UDP, length);
        sum = InternetChecksum.add16(InternetChecksum.add16(sum, sourcePort), destinationPort);
        sum = InternetChecksum.add16(sum, length);
        sum = InternetChecksum.add(payload, payload.position(), payload.remaining(), sum);
        int checksum = InternetChecksum.finish(sum);
        return checksum == 0 ? 0xffff : checksum;   // RFC 768: a computed zero is sent as all ones
    }

    // --- binding (application threads) --------------------------------------------------------

    /**
     * Adds {@code socket} to the table at {@code port} (0 = pick an ephemeral port) for local address
     * {@code address} (0 = any); returns the port.
     *
     * @throws PortInUseException when another socket holds the port for an overlapping address
     */
    public int bind(UdpSocket socket, int address, int port) {
        synchronized (bindLock) {
            if (port == 0) {
                port = pickEphemeral(address);
            } else if (conflicts(port, address, socket.reuseAddress())) {
                throw new PortInUseException("UDP port " + port + " is already bound"
                        + (address == 0 ? "" : " on " + dev.netstack.wire.Ipv4Address.toString(address)));
            }
            UdpSocket[] current = ports.get(port);
            UdpSocket[] next;
            if (current == null) {
                next = new UdpSocket[] {socket};
            } else {
                next = java.util.Arrays.copyOf(current, current.length + 1);
                next[current.length] = socket;
            }
            ports.set(port, next);
            boundSockets++;
            return port;
        }
    }

    /** Removes {@code socket} from the table. */
    public void unbind(UdpSocket socket, int port) {
        synchronized (bindLock) {
            UdpSocket[] current = ports.get(port);
            if (current == null) {
                return;
            }
            int n = 0;
            UdpSocket[] next = new UdpSocket[current.length];
            for (UdpSocket s : current) {
                if (s != socket) {
                    next[n++] = s;
                }
            }
            if (n == current.length) {
                return;
            }
            ports.set(port, n == 0 ? null : java.util.Arrays.copyOf(next, n));
            boundSockets--;
        }
    }

    private boolean conflicts(int port, int address, boolean reuse) {
        UdpSocket[] current = ports.get(port);
        if (current == null) {
            return false;
        }
        for (UdpSocket s : current) {
            if (reuse && s.reuseAddress()) {
                continue;   // both agreed to share the port
            }
            int other = s.localAddressBits();
            if (other == 0 || address == 0 || other == address) {
                return true;
            }
        }
        return false;
    }

    private int pickEphemeral(int address) {
        int range = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
        int start = ThreadLocalRandom.current().nextInt(range);
        for (int i = 0; i < range; i++) {
            int candidate = EPHEMERAL_FIRST + (start + i) % range;
            if (!conflicts(candidate, address, false)) {
                return candidate;
            }
        }
        throw new PortInUseException("all " + range + " ephemeral UDP ports (" + EPHEMERAL_FIRST + "-" + EPHEMERAL_LAST + ") are in use");
    }

    /** Number of bound sockets. */
    public int boundSockets() {
        synchronized (bindLock) {
            return boundSockets;
        }
    }

    /** Datagrams waiting in all socket queues, and the deepest queue: {total, max}. */
    public long[] queueDepths() {
        long total = 0;
        long max = 0;
        for (int port = 0; port < 65536; port++) {
            UdpSocket[] sockets = ports.get(port);
            if (sockets != null) {
                for (UdpSocket s : sockets) {
                    int depth = s.queuedDatagrams();
                    total += depth;
                    max = Math.max(max, depth);
                }
            }
        }
        return new long[] {total, max};
    }

    /** Closes every bound socket; used when the stack closes. */
    public void closeAll() {
        for (int port = 0; port < 65536; port++) {
            UdpSocket[] sockets = ports.get(port);
            if (sockets != null) {
                for (UdpSocket s : sockets) {
                    s.close();
                }
            }
        }
    }
}
