package dev.netstack.icmp;

import dev.netstack.buffer.Mbuf;
import dev.netstack.ipv4.Ipv4Layer;
import dev.netstack.metrics.Drop;
import dev.netstack.metrics.Layer;
import dev.netstack.metrics.StackCounters;
import dev.netstack.socket.HostUnreachableException;
import dev.netstack.socket.MessageTooLongException;
import dev.netstack.socket.NetworkException;
import dev.netstack.socket.NoRouteException;
import dev.netstack.socket.PingTimeoutException;
import dev.netstack.udp.UdpLayer;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntSupplier;
import java.util.function.LongPredicate;
import java.util.function.LongSupplier;

/**
 * ICMPv4 (RFC 792, RFC 1122 §3.2.2): answers echo requests with exactly their data, sends echo
 * requests for {@link #ping}, sends rate-limited errors (port and protocol unreachable, reassembly
 * time exceeded), and delivers errors that arrive to the UDP socket or ping they concern.
 */
public final class IcmpLayer {
    /** Largest error message: RFC 1812 §4.3.2.3 keeps the whole datagram under 576 bytes. */
    private static final int MAX_ERROR_QUOTE = 576 - Ipv4Header.MIN_HEADER_LENGTH - IcmpHeader.HEADER_LENGTH;
    private static final int DEFAULT_TTL = Ipv4Header.DEFAULT_TTL;

    private final Ipv4Layer ipv4;
    private final StackCounters counters;
    private final LongSupplier clock;
    private final IcmpHeader rxIcmp = new IcmpHeader();      // receive thread only
    private final Ipv4Header rxIp = new Ipv4Header();        // receive thread only
    private final Ipv4Header rxQuoted = new Ipv4Header();    // receive thread only
    private UdpLayer udp;

    // token bucket for the errors we send (RFC 1812 §4.3.2.8); receive thread only
    private final long errorIntervalNanos;
    private final long errorBurst;
    private long errorTokensAt;

    private final Pings pings = new Pings();

    public IcmpLayer(Ipv4Layer ipv4, StackCounters counters, LongSupplier clock, int errorsPerSecond) {
        if (errorsPerSecond <= 0) {
            throw new IllegalArgumentException("ICMP error rate must be positive, was " + errorsPerSecond);
        }
        this.ipv4 = ipv4;
        this.counters = counters;
        this.clock = clock;
        this.errorIntervalNanos = TimeUnit.SECONDS.toNanos(1) / errorsPerSecond;
        this.errorBurst = Math.max(1, errorsPerSecond / 10);
        this.errorTokensAt = clock.getAsLong() - errorBurst * errorIntervalNanos;
    }

    public void connect(UdpLayer udp) {
        this.udp = udp;
    }

    // --- input (receive thread) ----------------------------------------------------------------

    /** An ICMP packet, window at the IP header, {@code transportOffset} at the ICMP header; consumed. */
    public void input(Mbuf packet) {
        Ipv4Header ip = rxIp;
        ip.wrap(packet.buffer(), packet.head(), packet.length());
        int ipHeaderLength = ip.headerLength();
        int icmpLength = packet.packetLength() - ipHeaderLength;
        counters.received(Layer.ICMP, icmpLength);
        IcmpHeader icmp = rxIcmp;
        if (!icmp.wrap(packet.buffer(), packet.transportOffset, packet.length() - ipHeaderLength)) {
            drop(packet, Drop.ICMP_MALFORMED);
            return;
        }
        if (InternetChecksum.finish(PacketChecksum.add(packet, ipHeaderLength, icmpLength, 0)) != 0) {
            drop(packet, Drop.ICMP_BAD_CHECKSUM);
            return;
        }
        switch (icmp.type()) {
            case IcmpHeader.TYPE_ECHO_REQUEST:
                counters.accepted(Layer.ICMP);   // answered, or (to a broadcast) deliberately ignored
                answerEcho(packet, ip, icmp, ipHeaderLength, icmpLength);
                break;
            case IcmpHeader.TYPE_ECHO_REPLY:
                if (pings.answered(icmp.identifier(), icmp.sequence(), ip.source(), icmpLength, ip.ttl(), clock.getAsLong())) {
                    counters.accepted(Layer.ICMP);
                } else {
                    counters.drop(Drop.ICMP_UNMATCHED_REPLY);
                }
                break;
            case IcmpHeader.TYPE_DESTINATION_UNREACHABLE:
            case IcmpHeader.TYPE_TIME_EXCEEDED:
                errorArrived(packet, icmp.type(), icmp.code(), packet.transportOffset + IcmpHeader.HEADER_LENGTH,
                        packet.length() - ipHeaderLength - IcmpHeader.HEADER_LENGTH);
                break;
            default:
                counters.drop(Drop.ICMP_UNHANDLED_TYPE);
        }
        packet.freePacket();
    }

    private void answerEcho(Mbuf packet, Ipv4Header ip, IcmpHeader icmp, int ipHeaderLength, int icmpLength) {
        if (ip.destination() != ipv4.address()) {
            return;   // RFC 1122 §3.2.2.6 allows ignoring broadcast echo requests; like Linux, we do
        }
        // only the type changes, 8 -> 0: patch the checksum (RFC 1624) instead of summing the data again
        int checksum = InternetChecksum.update16(icmp.checksum(), IcmpHeader.TYPE_ECHO_REQUEST << 8, IcmpHeader.TYPE_ECHO_REPLY << 8);
        long header = ((long) IcmpHeader.TYPE_ECHO_REPLY << 56) | ((long) icmp.code() << 48) | ((long) checksum << 32) | (icmp.restOfHeader() & 0xffff_ffffL);
        int result = ipv4.send(ip.source(), Ipv4Header.PROTOCOL_ICMP, header, packet,
                ipHeaderLength + IcmpHeader.HEADER_LENGTH, icmpLength - IcmpHeader.HEADER_LENGTH, DEFAULT_TTL);
        if (result == Ipv4Layer.SENT) {
            counters.sent(Layer.ICMP, icmpLength);
        }
    }

    /** An ICMP error about one of our packets: the quoted IP header starts at {@code quoteAt}. */
    private void errorArrived(Mbuf packet, int type, int code, int quoteAt, int quoteLength) {
        Ipv4Header quoted = rxQuoted;
        if (!quoted.wrap(packet.buffer(), quoteAt, quoteLength) || quoted.version() != 4 || quoted.ihl() < 5
                || quoteLength < quoted.headerLength() + 8 || quoted.source() != ipv4.address()) {
            counters.drop(Drop.ICMP_MALFORMED);
            return;
        }
        counters.accepted(Layer.ICMP);
        deliverError(packet.buffer(), quoteAt, quoted, type, code);
    }

    private void deliverError(ByteBuffer b, int quoteAt, Ipv4Header quoted, int type, int code) {
        int transport = quoteAt + quoted.headerLength();
        if (quoted.protocol() == Ipv4Header.PROTOCOL_UDP) {
            udp.errorArrived(b.getShort(transport) & 0xffff, quoted.destination(), b.getShort(transport + 2) & 0xffff, type, code);
        } else if (quoted.protocol() == Ipv4Header.PROTOCOL_ICMP && (b.get(transport) & 0xff) == IcmpHeader.TYPE_ECHO_REQUEST) {
            pings.failed(b.getShort(transport + 4) & 0xffff, b.getShort(transport + 6) & 0xffff, type, code);
        }
    }

    /**
     * One of our own packets could not be sent (ARP gave up on its next hop): tell its socket or
     * ping as if an ICMP host unreachable had come back. {@code ipPacket}'s window is the IP header.
     */
    public void localError(Mbuf ipPacket, int type, int code) {
        Ipv4Header quoted = new Ipv4Header();
        if (quoted.wrap(ipPacket.buffer(), ipPacket.head(), ipPacket.length())
                && ipPacket.length() >= quoted.headerLength() + 8 && quoted.fragmentOffsetBytes() == 0) {
            deliverError(ipPacket.buffer(), ipPacket.head(), quoted, type, code);
        }
    }

    // --- errors we send (receive thread) -------------------------------------------------------

    /**
     * Sends an ICMP error about {@code offending} (window at its IP header), unless RFC 1122
     * §3.2.2 forbids it or the rate limit says no. Does not consume the packet.
     */
    public void sendError(Mbuf offending, int type, int code) {
        Ipv4Header ip = rxIp;
        ip.wrap(offending.buffer(), offending.head(), offending.length());
        int source = ip.source();
        int destination = ip.destination();
        if (ip.fragmentOffsetBytes() != 0 || source == 0 || source == -1 || Ipv4Address.isMulticast(source)
                || destination == -1 || Ipv4Address.isMulticast(destination) || destination == ipv4.subnetBroadcast()
                || isIcmpError(offending, ip) || cameAsLinkBroadcast(offending)) {
            return;
        }
        if (!takeErrorToken()) {
            counters.drop(Drop.ICMP_RATE_LIMITED);
            return;
        }
        int quote = Math.min(offending.packetLength(), MAX_ERROR_QUOTE);
        long header = ((long) type << 56) | ((long) code << 48);
        long sum = InternetChecksum.add32(InternetChecksum.add32(0, (int) (header >>> 32)), (int) header);
        int checksum = InternetChecksum.finish(PacketChecksum.add(offending, 0, quote, sum));
        header |= (long) checksum << 32;
        if (ipv4.send(source, Ipv4Header.PROTOCOL_ICMP, header, offending, 0, quote, DEFAULT_TTL) == Ipv4Layer.SENT) {
            counters.sent(Layer.ICMP, IcmpHeader.HEADER_LENGTH + quote);
        }
    }

    /**
     * RFC 1122 §3.2.2: no error about a datagram that came as a link-layer broadcast or multicast.
     * The Ethernet layer pulls its header without moving it, so the destination MAC still sits in
     * front of the IP header of a received packet.
     */
    private static boolean cameAsLinkBroadcast(Mbuf packet) {
        int ethernetAt = packet.head() - EthernetHeader.HEADER_LENGTH;
        return ethernetAt >= 0 && MacAddress.isMulticast(MacAddress.read(packet.buffer(), ethernetAt));
    }

    /** RFC 1122: never send an error about an ICMP error. */
    private static boolean isIcmpError(Mbuf packet, Ipv4Header ip) {
        if (ip.protocol() != Ipv4Header.PROTOCOL_ICMP || packet.length() < ip.headerLength() + 1) {
            return false;
        }
        int type = packet.buffer().get(packet.head() + ip.headerLength()) & 0xff;
        return type != IcmpHeader.TYPE_ECHO_REQUEST && type != IcmpHeader.TYPE_ECHO_REPLY;
    }

    private boolean takeErrorToken() {
        long now = clock.getAsLong();
        long oldest = now - errorBurst * errorIntervalNanos;
        if (errorTokensAt - oldest < 0) {
            errorTokensAt = oldest;
        }
        // errorTokensAt is when the next token was earned; one earned at 'now' or later is not there yet
        // (with '>' a full bucket let burst + 1 errors through)
        if (errorTokensAt - now >= 0) {
            return false;
        }
        errorTokensAt += errorIntervalNanos;
        return true;
    }

    /** Reassembly of a datagram whose first fragment we hold timed out (RFC 792 time exceeded, code 1). */
    public void reassemblyTimedOut(int source, int destination, Mbuf firstFragment) {
        sendError(firstFragment, IcmpHeader.TYPE_TIME_EXCEEDED, IcmpHeader.CODE_REASSEMBLY_TIME_EXCEEDED);
    }

    // --- ping (application threads) ------------------------------------------------------------

    /**
     * Sends one echo request with {@code payloadSize} bytes of data and waits for the reply.
     *
     * @throws PingTimeoutException     when no reply comes within the timeout
     * @throws HostUnreachableException when the host or gateway does not answer ARP, or an ICMP error comes back
     * @throws NoRouteException         when there is no route to {@code destination}
     */
    public PingReply ping(Ipv4Address destination, int payloadSize, long timeoutNanos) throws InterruptedException {
        if (payloadSize < 0 || payloadSize > 65507) {
            throw new MessageTooLongException("ping payload must be 0-65507 bytes, was " + payloadSize);
        }
        int sequence = pings.nextSequence();
        ByteBuffer data = ByteBuffer.allocate(payloadSize);
        for (int i = 0; i < payloadSize; i++) {
            data.put(i, (byte) (0x10 + i));   // the pattern iputils ping uses after its timestamp
        }
        long header = ((long) IcmpHeader.TYPE_ECHO_REQUEST << 56) | ((long) pings.identifier << 16) | sequence;
        long sum = InternetChecksum.add32(InternetChecksum.add32(0, (int) (header >>> 32)), (int) header);
        int checksum = InternetChecksum.finish(InternetChecksum.add(data, 0, payloadSize, sum));
        header |= (long) checksum << 32;
        long started = System.nanoTime();
        int slot = pings.register(sequence, clock.getAsLong());
        try {
            int result = ipv4.send(destination.bits(), Ipv4Header.PROTOCOL_ICMP, header, data, DEFAULT_TTL);
            switch (result) {
                case Ipv4Layer.SENT:
                    counters.sent(Layer.ICMP, IcmpHeader.HEADER_LENGTH + payloadSize);
                    break;
                case Ipv4Layer.NO_ROUTE:
                    throw new NoRouteException("no route to " + destination + ": it is not on our subnet and no gateway is configured");
                case Ipv4Layer.NO_ADDRESS:
                    throw new NoRouteException("no route to " + destination + ": the stack has no IPv4 address");
                case Ipv4Layer.TOO_LONG:
                    throw new MessageTooLongException("ping of " + payloadSize + " bytes is larger than an IPv4 datagram");
                default:
                    throw new NetworkException("ping to " + destination + " not sent: no packet buffer free");
            }
            // a ping waits as a socket's reader does, through the hooks the stack gave the UDP layer
            IntSupplier poller = udp == null ? null : udp.busyPoller();
            if (poller != null && timeoutNanos > 0) {
                // Busy-poll: run the receive pipeline on this thread for a while, as a socket's
                // receive does, then fall back to waiting for the stack's receive thread.
                if (!pings.pollFor(slot, poller, Math.min(timeoutNanos, udp.busyPollSpinNanos()))) {
                    udp.busyPollStopped();   // the receive thread takes the device back now
                }
            }
            return pings.await(slot, destination, started, timeoutNanos, udp == null ? null : udp.frameWaiter());
        } finally {
            pings.release(slot);
        }
    }

    /** Outstanding echo requests, matched by identifier and sequence. */
    private final class Pings {
        private static final int SLOTS = 64;
        final int identifier = ThreadLocalRandom.current().nextInt(1, 0x10000);
        private final AtomicInteger sequences = new AtomicInteger();
        private final ReentrantLock lock = new ReentrantLock();
        private final Condition changed = lock.newCondition();
        private final int[] sequence = new int[SLOTS];
        private final boolean[] busy = new boolean[SLOTS];
        private final long[] sentAt = new long[SLOTS];
        private final long[] answeredAt = new long[SLOTS];
        private final int[] replyBytes = new int[SLOTS];
        private final int[] replyTtl = new int[SLOTS];
        private final int[] replyFrom = new int[SLOTS];
        private final int[] errorType = new int[SLOTS];
        private final int[] errorCode = new int[SLOTS];
        private final boolean[] done = new boolean[SLOTS];
        /** The pinging thread while it waits for the card's interrupt rather than on {@link #changed}. */
        private final Thread[] waitingForFrames = new Thread[SLOTS];
        /** Pings answered or failed so far: a busy-polling pinger looks at its slot when this moves. */
        private volatile int completions;

        int nextSequence() {
            return sequences.getAndIncrement() & 0xffff;
        }

        int register(int seq, long now) {
            lock.lock();
            try {
                for (int i = 0; i < SLOTS; i++) {
                    if (!busy[i]) {
                        busy[i] = true;
                        done[i] = false;
                        errorType[i] = -1;
                        sequence[i] = seq;
                        sentAt[i] = now;
                        return i;
                    }
                }
                throw new NetworkException("too many pings in flight (at most " + SLOTS + ")");
            } finally {
                lock.unlock();
            }
        }

        void release(int slot) {
            lock.lock();
            try {
                busy[slot] = false;
            } finally {
                lock.unlock();
            }
        }

        boolean answered(int id, int seq, int from, int bytes, int ttl, long now) {
            if (id != identifier) {
                return false;
            }
            lock.lock();
            try {
                for (int i = 0; i < SLOTS; i++) {
                    if (busy[i] && !done[i] && sequence[i] == seq) {
                        done[i] = true;
                        answeredAt[i] = now;
                        replyBytes[i] = bytes;
                        replyTtl[i] = ttl;
                        replyFrom[i] = from;
                        wake(i);
                        return true;
                    }
                }
                return false;
            } finally {
                lock.unlock();
            }
        }

        void failed(int id, int seq, int type, int code) {
            if (id != identifier) {
                return;
            }
            lock.lock();
            try {
                for (int i = 0; i < SLOTS; i++) {
                    if (busy[i] && !done[i] && sequence[i] == seq) {
                        done[i] = true;
                        errorType[i] = type;
                        errorCode[i] = code;
                        wake(i);
                    }
                }
            } finally {
                lock.unlock();
            }
        }

        /** Under the lock: the ping of {@code slot} is done; wakes its thread however it waits. */
        private void wake(int slot) {
            completions = completions + 1;   // under the lock: no update is lost
            changed.signalAll();
            Thread waiting = waitingForFrames[slot];
            if (waiting != null) {
                LockSupport.unpark(waiting);
            }
        }

        /**
         * Busy-poll: runs the receive pipeline through {@code poller} on this thread until the ping of
         * {@code slot} is done (true) or {@code spinNanos} have passed since it first found no frame
         * (false). The slot is looked at, under the lock, only when some ping was completed.
         */
        boolean pollFor(int slot, IntSupplier poller, long spinNanos) throws InterruptedException {
            int seen = completions;
            long start = 0;
            int idle = 0;
            while (true) {
                int now = completions;
                if (now != seen) {
                    seen = now;
                    if (isDone(slot)) {
                        return true;
                    }
                }
                if (poller.getAsInt() > 0) {
                    continue;
                }
                if (++idle == 1) {
                    start = System.nanoTime();
                } else if ((idle & 15) == 0) {   // the clock costs more than an empty look
                    if (System.nanoTime() - start >= spinNanos) {
                        return isDone(slot);
                    }
                    if (Thread.interrupted()) {
                        throw new InterruptedException();
                    }
                }
                if ((idle & 255) == 0) {
                    Thread.yield();   // on a busy machine let the peer we wait for run
                } else {
                    Thread.onSpinWait();
                }
            }
        }

        private boolean isDone(int slot) {
            lock.lock();
            try {
                return done[slot];
            } finally {
                lock.unlock();
            }
        }

        /**
         * Waits for the reply to the ping of {@code slot}. With {@code frames} (interrupt mode) the
         * thread waits for the card's interrupt and runs the receive pipeline itself, unless another
         * thread already waits so; it then waits on {@link #changed} instead. A reply delivered by
         * the receive thread meanwhile unparks it, and after any wait it looks at its slot again.
         */
        PingReply await(int slot, Ipv4Address destination, long startedNanos, long timeoutNanos, LongPredicate frames)
                throws InterruptedException {
            long deadline = startedNanos + timeoutNanos;
            lock.lock();
            try {
                while (!done[slot]) {
                    long remaining = deadline - System.nanoTime();
                    if (remaining <= 0) {
                        throw new PingTimeoutException("no echo reply from " + destination + " within "
                                + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms (icmp_seq=" + sequence[slot] + ")");
                    }
                    if (frames != null && awaitFrames(slot, frames, remaining)) {
                        continue;
                    }
                    changed.awaitNanos(remaining);
                }
                if (errorType[slot] >= 0) {
                    throw new HostUnreachableException(describe(destination, errorType[slot], errorCode[slot]));
                }
                return new PingReply(Ipv4Address.of(replyFrom[slot]), sequence[slot], replyBytes[slot],
                        replyTtl[slot], answeredAt[slot] - sentAt[slot]);
            } finally {
                lock.unlock();
            }
        }

        /**
         * Called and returns with the lock held, which it lets go of while it waits: the pipeline the
         * wait may run takes it to record the reply. False when this thread could not wait for frames.
         */
        private boolean awaitFrames(int slot, LongPredicate frames, long remaining) throws InterruptedException {
            waitingForFrames[slot] = Thread.currentThread();
            lock.unlock();
            boolean waited;
            try {
                waited = frames.test(remaining);
            } finally {
                lock.lock();
                waitingForFrames[slot] = null;
            }
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            return waited;
        }
    }

    private void drop(Mbuf packet, Drop reason) {
        counters.drop(reason);
        packet.freePacket();
    }

    /** A message naming an ICMP error the way ping prints it. */
    public static String describe(Ipv4Address destination, int type, int code) {
        if (type == IcmpHeader.TYPE_TIME_EXCEEDED) {
            return destination + ": time to live exceeded";
        }
        switch (code) {
            case IcmpHeader.CODE_NET_UNREACHABLE:
                return destination + ": destination net unreachable";
            case IcmpHeader.CODE_HOST_UNREACHABLE:
                return destination + ": destination host unreachable";
            case IcmpHeader.CODE_PROTOCOL_UNREACHABLE:
                return destination + ": destination protocol unreachable";
            case IcmpHeader.CODE_PORT_UNREACHABLE:
                return destination + ": destination port unreachable";
            default:
                return destination + ": destination unreachable (code " + code + ")";
        }
    }
}
