package dev.netstack.socket;

import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufQueue;
import dev.netstack.icmp.IcmpLayer;
import dev.netstack.ipv4.Ipv4Layer;
import dev.netstack.metrics.Drop;
import dev.netstack.udp.UdpLayer;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.UdpHeader;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A UDP socket of a {@code NetStack}, safe for many threads.
 *
 * <p>Received datagrams wait in a queue bounded in datagrams and bytes; one that does not fit is
 * dropped and counted ({@link #droppedDatagrams()}), as a kernel drops on a full receive buffer.
 * {@code receive} copies a datagram's payload into the caller's buffer (truncating what does not fit,
 * like {@link java.nio.channels.DatagramChannel}) and frees its mbuf.
 *
 * <p>An ICMP error about a datagram this socket sent (port unreachable, host unreachable, or a next
 * hop that never answered ARP) is kept and thrown once by the next {@code send} or {@code receive}.
 *
 * <p>The {@code receiveFrom}/{@code tryReceiveFrom} variants return the sender packed in a
 * {@code long} ({@link #senderAddress(long)}, {@link #senderPort(long)}) and allocate nothing.
 */
public final class UdpSocket implements AutoCloseable {
    /** Default receive queue bounds. */
    public static final int DEFAULT_QUEUE_DATAGRAMS = 128;
    public static final int DEFAULT_QUEUE_BYTES = 256 * 1024;
    /** {@link #receiveFrom} result when nothing arrived in time. */
    public static final long NOTHING = -1L;

    private final UdpLayer udp;
    private final int maxQueuedDatagrams;
    private final long maxQueuedBytes;

    private final ReentrantLock lock = new ReentrantLock();
    /** Attempts (each a pause of well under a microsecond) before a thread queues on the lock. */
    private static final int LOCK_SPINS = 100;
    private final Condition arrived = lock.newCondition();
    /**
     * The one receiver allowed to wait by parking (guarded by lock). A condition wait allocates a
     * wait node each time; a socket almost always has a single reader, and that reader is woken
     * with {@link LockSupport#unpark} instead. Further concurrent readers wait on {@link #arrived}.
     */
    private Thread parkedReceiver;
    private final MbufQueue queue = new MbufQueue();     // guarded by lock
    private volatile boolean closed;                      // written under lock; read without it by sendTo
    private NetworkException pendingError;                // guarded by lock

    private volatile int localAddress;
    private volatile int localPort;
    private volatile int remoteAddress;
    private volatile int remotePort;
    private volatile int ttl = Ipv4Header.DEFAULT_TTL;
    private volatile boolean checksums = true;
    private volatile boolean reuseAddress;
    /**
     * Set by a send, cleared when a datagram is taken: the socket is probably waiting for an answer,
     * and a busy poll for it looks continuously instead of pausing between looks (in interrupt mode,
     * its reader may wait for the card's interrupt itself). Written only when
     * it changes, so a socket that only sends or only receives never writes it again; read without
     * ordering, as it only decides how soon the next look comes.
     */
    private boolean awaitingReply;

    private final LongAdder received = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private final LongAdder sent = new LongAdder();

    /** Made by {@code NetStack.openUdpSocket()}. */
    public UdpSocket(UdpLayer udp, int maxQueuedDatagrams, long maxQueuedBytes) {
        if (maxQueuedDatagrams <= 0 || maxQueuedBytes <= 0) {
            throw new IllegalArgumentException("socket queue bounds must be positive");
        }
        this.udp = udp;
        this.maxQueuedDatagrams = maxQueuedDatagrams;
        this.maxQueuedBytes = maxQueuedBytes;
    }

    // --- set-up --------------------------------------------------------------------------------

    /** Binds to {@code port} on any local address (0 picks an ephemeral port); returns this. */
    public UdpSocket bind(int port) {
        return bind(Ipv4Address.ANY, port);
    }

    /**
     * Binds to {@code address:port} (port 0 picks an ephemeral port from 49152-65535); returns this.
     *
     * @throws PortInUseException     when another socket has the port
     * @throws IllegalStateException  when already bound
     */
    public UdpSocket bind(Ipv4Address address, int port) {
        checkPort(port, true);
        lock.lock();
        try {
            ensureOpen();
            if (localPort != 0) {
                throw new IllegalStateException("socket already bound to port " + localPort);
            }
            localAddress = address.bits();
            localPort = udp.bind(this, address.bits(), port);
            return this;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Fixes the peer: {@link #send} goes there and only its datagrams are received. Binds an
     * ephemeral port first when unbound.
     */
    public UdpSocket connect(Ipv4Address address, int port) {
        checkPort(port, false);
        lock.lock();
        try {
            ensureOpen();
            if (localPort == 0) {
                localPort = udp.bind(this, 0, 0);
            }
            remoteAddress = address.bits();
            remotePort = port;
            return this;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Lets this socket share its port with other sockets that also allow it (SO_REUSEADDR): a
     * server socket on a port and connected sockets for single peers on the same port. Datagrams go
     * to the most specific match: connected 4-tuple, then bound address, then wildcard. Set before binding.
     *
     * @throws IllegalStateException when already bound
     */
    public UdpSocket reuseAddress(boolean allowed) {
        lock.lock();
        try {
            ensureOpen();
            if (localPort != 0) {
                throw new IllegalStateException("set reuseAddress before binding; socket is bound to port " + localPort);
            }
            this.reuseAddress = allowed;
            return this;
        } finally {
            lock.unlock();
        }
    }

    /** True when this socket may share its port ({@link #reuseAddress(boolean)}). */
    public boolean reuseAddress() {
        return reuseAddress;
    }

    /** Sets the TTL of outgoing datagrams (1-255, default 64). */
    public UdpSocket ttl(int value) {
        if (value < 1 || value > 255) {
            throw new IllegalArgumentException("TTL must be 1-255, was " + value);
        }
        this.ttl = value;
        return this;
    }

    /**
     * Whether outgoing datagrams carry a UDP checksum (default true), as Linux's {@code SO_NO_CHECK}
     * turns it off. Without one a datagram's checksum field is 0, which IPv4 receivers, this stack's
     * included, take as "no checksum" (RFC 768): they accept its payload unchecked. The sender then
     * skips a pass over every byte of the payload, and so does the receiver. Turn it off only on
     * links that cannot corrupt a frame, such as a {@code VirtualCable} between two stacks in one
     * process; the kernel's loopback never sums a UDP payload either (the device claims checksum
     * offload). Received datagrams are still checked whenever their sender put a checksum in.
     */
    public UdpSocket checksums(boolean on) {
        this.checksums = on;
        return this;
    }

    /** True when outgoing datagrams carry a UDP checksum ({@link #checksums(boolean)}). */
    public boolean checksums() {
        return checksums;
    }

    private static void checkPort(int port, boolean zeroAllowed) {
        if (port < (zeroAllowed ? 0 : 1) || port > 65535) {
            throw new IllegalArgumentException("UDP port must be " + (zeroAllowed ? 0 : 1) + "-65535, was " + port);
        }
    }

    // --- sending -------------------------------------------------------------------------------

    /** Sends the remaining bytes of {@code payload} to the connected peer; returns the bytes sent. */
    public int send(ByteBuffer payload) {
        int address = remoteAddress;
        if (remotePort == 0) {
            throw new IllegalStateException("socket is not connected; use sendTo(payload, address, port)");
        }
        return sendTo(payload, address, remotePort);
    }

    /** Sends the remaining bytes of {@code payload} as one datagram; returns the bytes sent. */
    public int sendTo(ByteBuffer payload, Ipv4Address address, int port) {
        return sendTo(payload, address.bits(), port);
    }

    /**
     * Sends the remaining bytes of {@code payload} to {@code address} (an IPv4 address as an int)
     * and {@code port}; the payload's position moves to its limit. Binds an ephemeral port first when
     * unbound.
     *
     * @throws MessageTooLongException over 65507 bytes
     * @throws NoRouteException        when the destination is off-subnet with no gateway
     * @throws SocketClosedException   after {@link #close()}
     */
    public int sendTo(ByteBuffer payload, int address, int port) {
        checkPort(port, false);
        int length = payload.remaining();
        if (length > UdpHeader.MAX_PAYLOAD) {
            throw new MessageTooLongException("UDP payload of " + length + " bytes exceeds the IPv4 maximum of "
                    + UdpHeader.MAX_PAYLOAD);
        }
        if (localPort == 0 || pendingErrorPresent() || closed) {
            prepareToSend();   // binds, throws a pending error, or throws SocketClosedException
        }
        int result = udp.send(localPort, address, port, payload, ttl, checksums);
        switch (result) {
            case Ipv4Layer.SENT:
                payload.position(payload.limit());
                if (!awaitingReply) {
                    awaitingReply = true;
                }
                sent.increment();
                return length;
            case Ipv4Layer.NO_ROUTE:
                throw new NoRouteException("no route to " + Ipv4Address.toString(address)
                        + ": it is not on our subnet and no gateway is configured");
            case Ipv4Layer.NO_ADDRESS:
                throw new NoRouteException("no route to " + Ipv4Address.toString(address) + ": the stack has no IPv4 address");
            case Ipv4Layer.TOO_LONG:
                throw new MessageTooLongException("UDP payload of " + length + " bytes is too long for IPv4");
            default:
                throw new NetworkException("datagram to " + Ipv4Address.toString(address) + ":" + port
                        + " not sent: no packet buffer free (the mbuf pool is exhausted)");
        }
    }

    /**
     * Sends {@code count} datagrams, the remaining bytes of {@code payloads[offset]} onwards, to
     * {@code address:port} as one transmit burst: the frames reach the device together (on an E1000,
     * many descriptors per tail write), the way {@code sendmmsg} batches system calls. Returns how
     * many were sent, in order; each sent payload's position moves to its limit.
     *
     * <p>When a datagram cannot be sent, the ones before it stay sent: with at least one sent the call
     * returns that count (a later call reports the problem), and with none it throws as
     * {@link #sendTo(ByteBuffer, int, int)} would.
     *
     * @throws IllegalArgumentException for a bad port
     * @throws IndexOutOfBoundsException for a range outside the array
     */
    public int sendTo(ByteBuffer[] payloads, int offset, int count, int address, int port) {
        java.util.Objects.checkFromIndexSize(offset, count, payloads.length);
        checkPort(port, false);
        int sent = 0;
        udp.beginBurst();
        try {
            for (; sent < count; sent++) {
                sendTo(payloads[offset + sent], address, port);
            }
        } catch (NetworkException e) {
            if (sent == 0) {
                throw e;
            }
        } finally {
            udp.endBurst();
        }
        return sent;
    }

    /** {@link #sendTo(ByteBuffer[], int, int, int, int)} to an {@link Ipv4Address}. */
    public int sendTo(ByteBuffer[] payloads, int offset, int count, Ipv4Address address, int port) {
        return sendTo(payloads, offset, count, address.bits(), port);
    }

    private boolean pendingErrorPresent() {
        return pendingError != null;   // racy read, confirmed under the lock
    }

    private void prepareToSend() {
        lock.lock();
        try {
            ensureOpen();
            throwPendingError();
            if (localPort == 0) {
                localPort = udp.bind(this, 0, 0);
            }
        } finally {
            lock.unlock();
        }
    }

    // --- receiving -----------------------------------------------------------------------------

    /** Waits for a datagram, copies its payload into {@code target} and returns the sender. */
    public InetSocketAddress receive(ByteBuffer target) throws InterruptedException {
        long sender = receiveFrom(target, Long.MAX_VALUE);
        return toSocketAddress(sender);
    }

    /** As {@link #receive(ByteBuffer)}, giving up after {@code timeout}: returns {@code null} then. */
    public InetSocketAddress receive(ByteBuffer target, java.time.Duration timeout) throws InterruptedException {
        long sender = receiveFrom(target, timeout.toNanos());
        return sender == NOTHING ? null : toSocketAddress(sender);
    }

    /** Takes a datagram only if one is queued; returns its sender or {@code null}. */
    public InetSocketAddress tryReceive(ByteBuffer target) {
        long sender = tryReceiveFrom(target);
        return sender == NOTHING ? null : toSocketAddress(sender);
    }

    /**
     * Waits up to {@code timeoutNanos} for a datagram and copies its payload into {@code target}
     * (truncating); returns the sender packed as {@code address << 16 | port}, or {@link #NOTHING}.
     *
     * @throws SocketClosedException when the socket is closed, also while waiting
     */
    public long receiveFrom(ByteBuffer target, long timeoutNanos) throws InterruptedException {
        long remaining = timeoutNanos;
        java.util.function.IntSupplier poller = udp.busyPoller();
        if (poller != null && timeoutNanos > 0) {
            // Busy-poll: run the receive pipeline on this thread for a while (no interrupt, no
            // thread hand-off), then fall back to waiting for the stack's receive thread.
            long start = 0;   // read at the first empty look: a datagram already there costs no clock read
            long spin = Math.min(timeoutNanos, udp.busyPollSpinNanos());
            long holdOff = udp.busyPollHoldOffNanos();
            int idle = 0;
            while (true) {
                // an empty queue on an open socket is seen without the lock: the spin stays off the
                // lock's compare-and-set and release until there is something to take
                long sender = queue.sizeWithoutLock() == 0 && !closed && !pendingErrorPresent() ? NOTHING : tryReceiveFrom(target);
                if (sender != NOTHING) {
                    // taking what the receive thread queued is polling too: without this, a receive
                    // thread that took over while we were descheduled would keep the device for as
                    // long as it keeps our queue from running empty
                    udp.busyPollActive();
                    return sender;
                }
                if (poller.getAsInt() > 0) {
                    continue;
                }
                if (++idle == 1) {
                    start = System.nanoTime();
                }
                boolean pause = holdOff > 0 && !awaitingReply;   // a one-way stream: see holdOff()
                if (pause || (idle & 15) == 0) {
                    // the clock costs more than an empty look (a load or two): read it every 16th miss,
                    // or after every pause, which reads it anyway and may be long
                    long waited = System.nanoTime() - start;
                    if (waited >= spin) {
                        remaining = timeoutNanos - waited;
                        udp.busyPollStopped();   // the stack's receive thread takes the device back now
                        break;
                    }
                    if (Thread.interrupted()) {
                        throw new InterruptedException();
                    }
                }
                if ((idle & 255) == 0) {
                    Thread.yield();   // on a busy machine let the peer we wait for run
                } else if (pause) {
                    holdOff(holdOff);   // let a few frames gather before the next look
                } else {
                    Thread.onSpinWait();
                }
            }
        }
        Mbuf datagram;
        if (!spinForLock()) {
            lock.lockInterruptibly();
        }
        try {
            while (true) {
                ensureOpen();
                throwPendingError();
                datagram = queue.poll();
                if (datagram != null) {
                    break;
                }
                if (remaining <= 0) {
                    return NOTHING;
                }
                Thread me = Thread.currentThread();
                if (parkedReceiver == null || parkedReceiver == me) {
                    remaining = parkUnlocked(me, remaining);
                } else {
                    remaining = arrived.awaitNanos(remaining);
                }
            }
        } finally {
            lock.unlock();
        }
        return consume(datagram, target);
    }

    /**
     * Lock held on entry and on return. Publishes this thread as the parked receiver, releases the
     * lock and parks; {@link #deliver}, {@link #close} and {@link #errorArrived} read the field
     * under the lock, so a wake-up between the unlock and the park leaves a permit and is not lost.
     */
    private long parkUnlocked(Thread me, long remaining) throws InterruptedException {
        parkedReceiver = me;
        long start = System.nanoTime();
        lock.unlock();
        try {
            // Interrupt mode, a socket waiting for an answer (it sent since it last took a datagram):
            // one such reader waits for the card's interrupt and runs the pipeline itself. A one-way
            // stream's reader leaves it to the receive thread, which then works beside it.
            java.util.function.LongPredicate frames = awaitingReply ? udp.frameWaiter() : null;
            if (frames == null || !frames.test(remaining)) {
                LockSupport.parkNanos(this, remaining);
            }
        } finally {
            lock.lock();
            parkedReceiver = null;
        }
        if (Thread.interrupted()) {
            if (!queue.isEmpty()) {
                arrived.signal();   // the datagram we may have been woken for goes to another reader
            }
            throw new InterruptedException();
        }
        return remaining - (System.nanoTime() - start);
    }

    /**
     * Spins for {@code nanos}. The device's ring is not looked at meanwhile: each look reads the cache
     * line holding the next descriptor, which the card writing the ring on another core must then
     * take back before it writes the next frame's status there.
     */
    private static void holdOff(long nanos) {
        long until = System.nanoTime() + nanos;
        do {
            Thread.onSpinWait();
        } while (System.nanoTime() - until < 0);
    }

    /** Non-blocking {@link #receiveFrom}: {@link #NOTHING} when the queue is empty. */
    public long tryReceiveFrom(ByteBuffer target) {
        Mbuf datagram;
        lockBriefly();
        try {
            ensureOpen();
            throwPendingError();
            datagram = queue.poll();
        } finally {
            lock.unlock();
        }
        return datagram == null ? NOTHING : consume(datagram, target);
    }

    private long consume(Mbuf datagram, ByteBuffer target) {
        ByteBuffer b = datagram.buffer();
        int source = b.getInt(datagram.networkOffset + 12);
        int sourcePort = b.getShort(datagram.transportOffset) & 0xffff;
        for (Mbuf m = datagram; m != null && target.hasRemaining(); m = m.chained()) {
            m.copyDataTo(target);
        }
        datagram.freePacket();
        if (awaitingReply) {
            awaitingReply = false;
        }
        received.increment();
        return ((source & 0xffff_ffffL) << 16) | sourcePort;
    }

    /** The IPv4 address in a packed sender. */
    public static Ipv4Address senderAddress(long sender) {
        return Ipv4Address.of((int) (sender >>> 16));
    }

    /** The IPv4 address in a packed sender, as an int. */
    public static int senderAddressBits(long sender) {
        return (int) (sender >>> 16);
    }

    /** The port in a packed sender. */
    public static int senderPort(long sender) {
        return (int) (sender & 0xffff);
    }

    private static InetSocketAddress toSocketAddress(long sender) {
        return new InetSocketAddress(senderAddress(sender).toInetAddress(), senderPort(sender));
    }

    // --- from the stack (receive thread) -------------------------------------------------------

    /** How well this socket matches a datagram: -1 not at all, higher is more specific. */
    public int matchScore(int destination, int source, int sourcePort) {
        int local = localAddress;
        if (local != 0 && local != destination) {
            return -1;
        }
        int score = local != 0 ? 1 : 0;
        if (remotePort != 0) {
            if (remoteAddress != source || remotePort != sourcePort) {
                return -1;
            }
            score += 2;
        }
        return score;
    }

    /**
     * Takes the queue lock on the data path. The lock guards a few field updates, so a thread that
     * finds it held (the receive thread delivering while the reader takes a datagram) spins a little
     * rather than queueing at once: queueing on a {@code ReentrantLock} allocates a wait node and may
     * park, which per datagram was the last allocation in interrupt mode.
     */
    private void lockBriefly() {
        if (!spinForLock()) {
            lock.lock();
        }
    }

    private boolean spinForLock() {
        for (int i = 0; i < LOCK_SPINS; i++) {
            if (lock.tryLock()) {
                return true;
            }
            Thread.onSpinWait();
        }
        return false;
    }

    /** Queues a datagram (window = payload, headers in front); drops and counts it when the queue is full. */
    public void deliver(Mbuf datagram) {
        Thread parked = null;
        boolean queued = false;
        lockBriefly();
        try {
            if (closed) {
                udp.counters().drop(Drop.UDP_SOCKET_CLOSED);
            } else if (queue.size() >= maxQueuedDatagrams || queue.bytes() + datagram.packetLength() > maxQueuedBytes) {
                udp.counters().drop(Drop.UDP_QUEUE_FULL);
                dropped.increment();
            } else {
                queue.add(datagram);
                arrived.signal();
                parked = parkedReceiver;
                queued = true;
            }
        } finally {
            lock.unlock();
        }
        if (parked != null && parked != Thread.currentThread()) {   // the reader may be running the pipeline
            LockSupport.unpark(parked);
        }
        if (!queued) {
            datagram.freePacket();
        }
    }

    /** An ICMP error about a datagram this socket sent to {@code address:port}. */
    public void errorArrived(int address, int port, int type, int code) {
        String peer = Ipv4Address.toString(address) + ":" + port;
        NetworkException error;
        if (type == IcmpHeader.TYPE_DESTINATION_UNREACHABLE && code == IcmpHeader.CODE_PORT_UNREACHABLE) {
            error = new PortUnreachableException("port unreachable: nothing listens on UDP " + peer);
        } else {
            error = new HostUnreachableException(IcmpLayer.describe(Ipv4Address.of(address), type, code)
                    + " (datagram to " + peer + ")");
        }
        Thread parked;
        lock.lock();
        try {
            pendingError = error;
            arrived.signalAll();
            parked = parkedReceiver;
        } finally {
            lock.unlock();
        }
        if (parked != null) {
            LockSupport.unpark(parked);
        }
    }

    private void throwPendingError() {
        NetworkException error = pendingError;
        if (error != null) {
            pendingError = null;
            throw error;
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new SocketClosedException("socket " + describe() + " is closed");
        }
    }

    // --- closing and inspection ----------------------------------------------------------------

    /** Unbinds, frees queued datagrams and wakes blocked receivers with {@link SocketClosedException}. */
    @Override
    public void close() {
        int port;
        Thread parked;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            port = localPort;
            queue.freeAll();
            arrived.signalAll();
            parked = parkedReceiver;
        } finally {
            lock.unlock();
        }
        if (parked != null) {
            LockSupport.unpark(parked);
        }
        if (port != 0) {
            udp.unbind(this, port);
        }
    }

    public boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    public int localPort() {
        return localPort;
    }

    public int localAddressBits() {
        return localAddress;
    }

    public Ipv4Address localAddress() {
        return Ipv4Address.of(localAddress);
    }

    public int queuedDatagrams() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    /** Datagrams handed to the application so far. */
    public long receivedDatagrams() {
        return received.sum();
    }

    /** Datagrams dropped because the receive queue was full. */
    public long droppedDatagrams() {
        return dropped.sum();
    }

    public long sentDatagrams() {
        return sent.sum();
    }

    private String describe() {
        return (localAddress == 0 ? "*" : Ipv4Address.toString(localAddress)) + ":" + (localPort == 0 ? "*" : localPort);
    }

    @Override
    public String toString() {
        return "UdpSocket[" + describe() + (remotePort != 0 ? " -> " + Ipv4Address.toString(remoteAddress) + ":" + remotePort : "") + "]";
    }

}
