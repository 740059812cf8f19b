package dev.netstack;

import dev.netstack.arp.ArpLayer;
import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.concurrent.SpinLock;
import dev.netstack.concurrent.VarHandles;
import dev.netstack.ethernet.EthernetLayer;
import dev.netstack.icmp.IcmpLayer;
import dev.netstack.icmp.PingReply;
import dev.netstack.ipv4.Ipv4Layer;
import dev.netstack.ipv4.Reassembler;
import dev.netstack.link.NetDevice;
import dev.netstack.metrics.NetStackMetrics;
import dev.netstack.metrics.StackCounters;
import dev.netstack.socket.NetworkException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.udp.UdpLayer;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Subnet;
import dev.netstack.wire.MacAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An IPv4 host on one network device: the layers from Ethernet to UDP sockets, a receive thread
 * that runs them, and the API a Java program uses (sockets, ping).
 *
 * <pre>{@code
 * try (NetStack stack = NetStack.builder()
 *         .device(nic)                       // an E1000Driver, a VirtualDevice, ...
 *         .address("10.0.2.15/24")
 *         .gateway("10.0.2.2")
 *         .build();
 *      UdpSocket socket = stack.openUdpSocket().bind(2000)) {
 *     socket.sendTo(ByteBuffer.wrap("hello".getBytes()), Ipv4Address.parse("10.0.2.2"), 25603);
 * }
 * }</pre>
 *
 * <p>One receive thread per stack runs the device's receive loop and the whole pipeline in
 * batches, up to the socket queues; it also runs the timers (ARP retries, reassembly expiry).
 * Application threads send on their own threads. Replies made while receiving (ARP, echo) are
 * transmitted with no receive-side lock held.
 */
public final class NetStack implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NetStack.class);
    private static final long TIMER_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /** Busy-poll mode: how often an idle receive thread looks at the device once it stopped spinning. */
    private static final long BUSY_POLL_IDLE_PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(50);

    private final NetDevice device;
    private final MbufPool pool;
    private final StackCounters counters = new StackCounters();
    private final LongSupplier clock;
    private final EthernetLayer ethernet;
    private final ArpLayer arp;
    private final Ipv4Layer ipv4;
    private final IcmpLayer icmp;
    private final UdpLayer udp;
    private final Ipv4Subnet subnet;
    private final Ipv4Address address;
    private final Ipv4Address gateway;
    private final Ipv4Address dnsServer;
    private final int receiveBudget;
    private final int socketQueueDatagrams;
    private final int socketQueueBytes;
    private final Thread receiveThread;
    private final long busyPollSpinNanos;
    /**
     * Busy-poll mode: bumped by application threads as they poll, at each poll of the device and each
     * datagram a polling socket takes. Opaque accesses with no clock read, so it is cheap to bump on
     * every datagram; two threads may lose an update, which is harmless, as any change counts.
     */
    @SuppressWarnings("unused")
    private long applicationActivity;
    private static final java.lang.invoke.VarHandle APPLICATION_ACTIVITY =
            VarHandles.field(java.lang.invoke.MethodHandles.lookup(), "applicationActivity", long.class);
    /** Set by an application thread that stops polling to wait; cleared by the receive thread. */
    private volatile boolean applicationStopped;
    /** Receive thread only: the activity it last saw. */
    private long activitySeen;
    /**
     * How long the receive thread stands back once it saw application threads poll, at most; it
     * looks again after each period, and stands back again if they polled meanwhile. A device that
     * tells when frames back up ({@link NetDevice#awaitBacklog}) wakes it sooner when the pollers
     * fall behind; others wake it every 100 µs. This bounds how long frames wait when a poller stops
     * without waiting (it went off to do other work): every look costs a timer and a wake-up, which
     * on a 2-vCPU VM took 3-19% of a core at one look per 100 µs.
     */
    private static final long APPLICATION_POLL_GRACE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    /**
     * Held by the receive thread while it runs the pipeline or the timers, and by a caller of
     * {@link #runTimers()}: the receive path (reassembly, ARP scratch, the ICMP rate limiter) is
     * confined to one thread at a time. Never taken on the transmit path, so a reply sent from inside
     * the pipeline cannot wait on it. A {@link SpinLock}: its release does not wait for the stores
     * of the batch (descriptors handed back to the card) to reach the other core.
     */
    private final SpinLock pipeline = new SpinLock();
    /** Frames taken from the device by the receive thread and by application threads; written under {@link #pipeline}. */
    private final AtomicLong framesByReceiveThread = new AtomicLong();
    private final AtomicLong framesByApplications = new AtomicLong();
    private volatile boolean running = true;

    private NetStack(Builder b) {
        this.device = b.device;
        this.pool = device.pool();
        this.clock = b.clock;
        this.address = b.address;
        this.subnet = b.address == null ? null : Ipv4Subnet.of(b.address, b.prefixLength);
        this.gateway = b.gateway;
        this.dnsServer = b.dnsServer;
        this.receiveBudget = b.receiveBudget;
        this.socketQueueDatagrams = b.socketQueueDatagrams;
        this.socketQueueBytes = b.socketQueueBytes;

        counters.guardReceiveSide(pipeline::isHeldByCurrentThread);
        ethernet = new EthernetLayer(device, counters);
        arp = new ArpLayer(ethernet, pool, counters, clock, b.arp);
        // by default reassembly may hold at most a quarter of the pool: a flood of fragments that never
        // complete must not starve the device of receive buffers (that would stop all input until the
        // reassembly timeout)
        Reassembler reassembler = b.reassembler != null ? b.reassembler
                : new Reassembler(Reassembler.DEFAULT_MAX_DATAGRAMS,
                        Math.max(1, Math.min(Reassembler.DEFAULT_MAX_BUFFERS, pool.capacity() / 4)),
                        Reassembler.DEFAULT_TIMEOUT_NANOS);
        ipv4 = new Ipv4Layer(arp, pool, counters, clock, reassembler, device.mtu());
        icmp = new IcmpLayer(ipv4, counters, clock, b.icmpErrorsPerSecond);
        udp = new UdpLayer(ipv4, icmp, counters);
        ipv4.pipelineLock(pipeline);
        udp.transmitBursts(ethernet::beginBurst, ethernet::endBurst);
        ethernet.connect(arp, ipv4);
        ipv4.connect(icmp, udp);
        icmp.connect(udp);
        arp.onUnreachable((packet, nextHop) ->
                icmp.localError(packet, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_HOST_UNREACHABLE));

        if (address != null) {
            ipv4.configure(address.bits(), b.prefixLength, gateway == null ? 0 : gateway.bits());
        }
        this.busyPollSpinNanos = b.busyPollSpinNanos;
        if (device.canAwaitReceiveBeside()) {
            udp.awaitFramesWith(this::awaitFrames);   // sockets' readers and pings
        }
        if (device.busyPoll()) {
            udp.busyPoll(this::pollDevice, this::applicationActive, this::applicationStoppedPolling, busyPollSpinNanos,
                    b.busyPollHoldOffNanos);
        }
        receiveThread = new Thread(this::receiveLoop, "netstack-rx-" + device.name());
        receiveThread.setDaemon(true);
        receiveThread.start();
        if (address != null) {
            arp.configure(address.bits(), subnet.broadcast().bits());   // announces the address: the receive thread must be there for the answers
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    // --- the receive thread --------------------------------------------------------------------

    private void receiveLoop() {
        long nextTimers = System.nanoTime() + TIMER_INTERVAL_NANOS;
        boolean busyPoll = device.busyPoll();
        long idleSince = System.nanoTime();
        while (running) {
            try {
                int received;
                if (!busyPoll) {
                    pipeline.lockInterruptibly();
                } else {
                    // an application thread is polling the device: stand back until frames back up in
                    // it (then take a batch beside the pollers, and look again), for a grace period, or
                    // until the poller stops to wait (it unparks us); wake for the timers
                    if (applicationPolling() && System.nanoTime() - nextTimers < 0
                            && !device.awaitBacklog(Math.min(APPLICATION_POLL_GRACE_NANOS, nextTimers - System.nanoTime()))) {
                        continue;
                    }
                    if (!pipeline.tryLock()) {
                        // never spin on the lock beside the poller, taking a core it may need; and
                        // never wait on the device another thread is polling (its frames would wake
                        // us): look again shortly
                        LockSupport.parkNanos(this, BUSY_POLL_IDLE_PARK_NANOS);
                        continue;
                    }
                }
                try {
                    received = device.receive(ethernet, receiveBudget);
                    count(framesByReceiveThread, received);
                    long now = System.nanoTime();
                    if (now - nextTimers >= 0) {
                        arp.tick();
                        ipv4.tick();
                        nextTimers = now + TIMER_INTERVAL_NANOS;
                    }
                } finally {
                    pipeline.unlock();
                }
                if (received == 0) {
                    if (busyPoll) {
                        idleSince = busyPollIdle(idleSince, nextTimers);
                    } else {
                        device.awaitReceive(TIMER_INTERVAL_NANOS);
                    }
                } else if (busyPoll) {
                    idleSince = System.nanoTime();
                }
            } catch (InterruptedException e) {
                break;
            } catch (RuntimeException | Error e) {
                // a bug in a layer must not stop the host from receiving; it is logged, not hidden
                log.error("netstack receive thread of {}: unexpected error, continuing", device.name(), e);
            }
        }
    }

    /**
     * Busy-poll mode, nothing received: spin for {@code busyPollSpinNanos} after the last frame, then
     * wait for the device's interrupt until the timers are due (a NAPI driver unmasks it for the
     * wait), so an idle stack costs no CPU. A device that cannot wait returns at once, and then the
     * thread polls every {@link #BUSY_POLL_IDLE_PARK_NANOS}. Receiving application threads poll the
     * device themselves ({@link #pollDevice()}). Returns the (unchanged) start of the idle period.
     */
    private long busyPollIdle(long idleSince, long nextTimers) throws InterruptedException {
        long now = System.nanoTime();
        if (now - idleSince < busyPollSpinNanos) {
            Thread.onSpinWait();
            return idleSince;
        }
        long wait = Math.max(0, nextTimers - now);
        if (!device.awaitReceive(wait) && System.nanoTime() - now < wait / 2) {
            LockSupport.parkNanos(this, BUSY_POLL_IDLE_PARK_NANOS);
        }
        return idleSince;
    }

    /** An application thread polled, or took a datagram while polling: the receive thread stands back. */
    private void applicationActive() {
        APPLICATION_ACTIVITY.setOpaque(this, (long) APPLICATION_ACTIVITY.getOpaque(this) + 1);
    }

    /**
     * An application thread stopped busy-polling to wait for the receive thread: hand the device back
     * at once rather than after the grace period.
     */
    private void applicationStoppedPolling() {
        applicationStopped = true;
        LockSupport.unpark(receiveThread);
    }

    /**
     * Receive thread only: true when application threads polled since the last look, so that the
     * thread stands back for another grace period. A poller that stopped to wait ends this at once.
     */
    private boolean applicationPolling() {
        long activity = (long) APPLICATION_ACTIVITY.getOpaque(this);
        if (applicationStopped) {
            applicationStopped = false;
            activitySeen = activity;
            return false;
        }
        if (activity == activitySeen) {
            return false;
        }
        activitySeen = activity;
        return true;
    }

    /**
     * Interrupt mode: a receiving application thread whose socket is empty waits for the card's
     * interrupt itself and runs one batch of the receive pipeline when it rises, so that its datagram
     * reaches it with one thread wake-up instead of two (the card waking the receive thread, which
     * then wakes the reader). The receive thread is woken as well, and takes over whatever the batch
     * leaves. Returns false, before any wait, when this thread cannot wait so (another one does, or
     * the device cannot): it then parks on its socket as before. True: look at the socket again,
     * never park straight away, since the wait here may have taken the wake-up that a delivery to the
     * socket meant for it (two unparks leave one permit).
     */
    private boolean awaitFrames(long timeoutNanos) {
        if (!running) {
            return false;
        }
        if (!device.receivePending()) {
            int woken = device.awaitReceiveBeside(timeoutNanos);
            if (woken == NetDevice.NOT_WAITING) {
                return false;
            }
            if (woken == 0) {
                return true;   // the timeout, an unpark (maybe for the datagram) or an interrupt
            }
        }
        if (!pipeline.tryLock()) {
            // The receive thread (or runTimers) has the pipeline. It delivers and unparks us if it is
            // receiving; if it is past its look at the ring, the causes this thread took would leave
            // it asleep over the frames: make it look again, and let it run.
            device.wakeReceiver();
            Thread.yield();
            return true;
        }
        try {
            count(framesByApplications, device.receive(ethernet, receiveBudget));
        } finally {
            pipeline.unlock();
        }
        if (device.receivePending()) {
            device.wakeReceiver();   // more than a batch: the rest is the receive thread's
        }
        return true;
    }

    /**
     * Busy-poll from an application thread: runs one batch of the receive pipeline on the caller's
     * thread unless another thread is running it. Returns the frames handled (0 when none, or when
     * the pipeline was busy).
     */
    private int pollDevice() {
        applicationActive();   // also when the receive thread has the pipeline: it stands back next time
        // an empty look costs one load instead of the lock's compare-and-set and release
        if (!running || !device.receivePending() || !pipeline.tryLock()) {
            return 0;
        }
        try {
            int received = device.receive(ethernet, receiveBudget);
            count(framesByApplications, received);
            return received;
        } finally {
            pipeline.unlock();
        }
    }

    /**
     * Runs the timers now (ARP retries and expiry, reassembly expiry); the receive thread does this
     * every 100 ms. Safe from any thread: it waits for the receive thread to finish its batch.
     */
    public void runTimers() {
        pipeline.lock();
        try {
            arp.tick();
            ipv4.tick();
        } finally {
            pipeline.unlock();
        }
    }

    /**
     * Runs the receive pipeline on the caller's thread until the device has no frame waiting, under
     * the same lock as the receive thread. When it returns, every frame the device held at the call
     * has been through the layers (the receive thread finishes any it took before releasing the lock).
     * Returns how many frames this call handled. For tests and fuzzers that need a frame's effects
     * (counters, replies, the pool) settled before they look.
     */
    public int receiveNow() {
        pipeline.lock();
        try {
            int total = 0;
            int n;
            while ((n = device.receive(ethernet, receiveBudget)) > 0) {
                total += n;
            }
            count(framesByApplications, total);
            return total;
        } finally {
            pipeline.unlock();
        }
    }

    /** Adds to a counter written only under the pipeline lock: no atomic read-modify-write needed. */
    private static void count(AtomicLong frames, int n) {
        if (n > 0) {
            frames.setRelease(frames.getPlain() + n);
        }
    }

    // --- API -----------------------------------------------------------------------------------

    /**
     * Frames the stack's receive thread took from the device. In busy-poll mode this stays low while
     * the application's receiving threads poll the device themselves ({@link #framesReceivedByApplications()}).
     */
    public long framesReceivedByReceiveThread() {
        return framesByReceiveThread.get();
    }

    /**
     * Frames application threads took from the device: busy-polling sockets, in interrupt mode the
     * reader waiting for the card's interrupt itself, and {@link #receiveNow()}.
     */
    public long framesReceivedByApplications() {
        return framesByApplications.get();
    }

    /** Opens an unbound UDP socket with the stack's default queue bounds. */
    public UdpSocket openUdpSocket() {
        return openUdpSocket(socketQueueDatagrams, socketQueueBytes);
    }

    /** Opens an unbound UDP socket whose receive queue holds at most the given datagrams and bytes. */
    public UdpSocket openUdpSocket(int queueDatagrams, int queueBytes) {
        ensureRunning();
        return new UdpSocket(udp, queueDatagrams, queueBytes);
    }

    /**
     * Sends an ICMP echo request with {@code payloadSize} data bytes and waits for the reply.
     *
     * @throws dev.netstack.socket.PingTimeoutException     no reply within {@code timeout}
     * @throws dev.netstack.socket.HostUnreachableException ARP failed, or an ICMP error came back
     * @throws dev.netstack.socket.NoRouteException         off-subnet with no gateway
     */
    public PingReply ping(Ipv4Address destination, int payloadSize, Duration timeout) throws InterruptedException {
        ensureRunning();
        return icmp.ping(destination, payloadSize, timeout.toNanos());
    }

    private void ensureRunning() {
        if (!running) {
            throw new NetworkException("the stack on " + device.name() + " is closed");
        }
    }

    public Ipv4Address address() {
        return address;
    }

    public Ipv4Subnet subnet() {
        return subnet;
    }

    public Ipv4Address gateway() {
        return gateway;
    }

    /** The DNS server the stack was configured with, or null. */
    public Ipv4Address dnsServer() {
        return dnsServer;
    }

    public MacAddress macAddress() {
        return device.macAddress();
    }

    public NetDevice device() {
        return device;
    }

    public MbufPool pool() {
        return pool;
    }

    /** Packet, byte and drop counters. */
    public StackCounters counters() {
        return counters;
    }

    /** The counters as plain values at this moment. */
    public StackCounters.Snapshot statistics() {
        return counters.snapshot();
    }

    /** Entries in the ARP cache. */
    public int arpCacheSize() {
        return arp.size();
    }

    /** The MAC of {@code neighbour} in the ARP cache, or null. */
    public MacAddress arpLookup(Ipv4Address neighbour) {
        long mac = arp.lookup(neighbour.bits());
        return mac < 0 ? null : MacAddress.of(mac);
    }

    public int boundSockets() {
        return udp.boundSockets();
    }

    /** A Micrometer binder for this stack's meters (tag {@code device}). */
    public NetStackMetrics metrics() {
        return new NetStackMetrics(this, udp, arp);
    }

    /**
     * Stops the receive thread, closes the device and frees every buffer the stack holds (socket
     * queues, ARP queues, reassembly). Sockets still open are closed; blocked receivers wake with
     * {@link dev.netstack.socket.SocketClosedException}.
     */
    @Override
    public void close() {
        if (!running) {
            return;
        }
        running = false;
        receiveThread.interrupt();
        try {
            receiveThread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        udp.closeAll();
        arp.clear();
        ipv4.clear();
        device.close();
    }

    @Override
    public String toString() {
        return "NetStack[" + device.name() + " " + device.macAddress() + " " + (address == null ? "unconfigured" : address + "/" + subnet.prefixLength()) + "]";
    }

    /** How to make a {@link NetStack}. Only the device is required. */
    public static final class Builder {
        private NetDevice device;
        private DeviceFactory deviceFactory;
        private MacAddress mac = MacAddress.parse("52:54:00:12:34:56");
        private int poolSize = 1024;
        private int deviceMemoryBytes = 1 << 20;
        private Ipv4Address address;
        private int prefixLength = 24;
        private Ipv4Address gateway;
        private Ipv4Address dnsServer;
        private LongSupplier clock = System::nanoTime;
        private int receiveBudget = 64;
        private long busyPollSpinNanos = TimeUnit.MICROSECONDS.toNanos(50);
        private long busyPollHoldOffNanos = TimeUnit.MICROSECONDS.toNanos(1);
        private int socketQueueDatagrams = UdpSocket.DEFAULT_QUEUE_DATAGRAMS;
        private int socketQueueBytes = UdpSocket.DEFAULT_QUEUE_BYTES;
        private int icmpErrorsPerSecond = 100;
        private final ArpLayer.Config arp = new ArpLayer.Config();
        private Reassembler reassembler;

        private Builder() {
        }

        /** The device the stack sends and receives through; it brings its MAC and mbuf pool. */
        public Builder device(NetDevice device) {
            this.device = Objects.requireNonNull(device, "device");
            this.deviceFactory = null;
            return this;
        }

        /**
         * A device made by {@link #build()} from the {@link #mac} and a pool of {@link #poolSize}
         * buffers carved from new guest memory, with {@link #deviceMemory} bytes left over for the
         * device's own structures (descriptor rings). For example
         * {@code .mac("52:54:00:12:34:56").poolSize(2048).device((mac, pool) -> new VirtualDevice("a", mac, pool))}.
         */
        public Builder device(DeviceFactory factory) {
            this.deviceFactory = Objects.requireNonNull(factory, "factory");
            this.device = null;
            return this;
        }

        /** The MAC handed to a {@link DeviceFactory} (default 52:54:00:12:34:56, QEMU's first guest). */
        public Builder mac(String mac) {
            return mac(MacAddress.parse(mac));
        }

        public Builder mac(MacAddress mac) {
            if (mac.isMulticast() || mac.bits() == 0) {
                throw new IllegalArgumentException(mac + " cannot be a station address (multicast or zero)");
            }
            this.mac = mac;
            return this;
        }

        /** Buffers in the pool made for a {@link DeviceFactory} (default 1024 × 2048 bytes). */
        public Builder poolSize(int buffers) {
            if (buffers < 16) {
                throw new IllegalArgumentException("pool size must be at least 16 buffers, was " + buffers);
            }
            this.poolSize = buffers;
            return this;
        }

        /** Guest memory left for the device beyond the pool, for its rings (default 1 MiB). */
        public Builder deviceMemory(int bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("device memory must not be negative, was " + bytes);
            }
            this.deviceMemoryBytes = bytes;
            return this;
        }

        /** Our address and prefix length, e.g. {@code "10.0.2.15/24"}. */
        public Builder address(String cidr) {
            int slash = cidr.indexOf('/');
            if (slash < 0) {
                return address(Ipv4Address.parse(cidr), 24);
            }
            Ipv4Subnet.parse(cidr);   // validates the prefix
            return address(Ipv4Address.parse(cidr.substring(0, slash)), Integer.parseInt(cidr.substring(slash + 1).trim()));
        }

        public Builder address(Ipv4Address address, int prefixLength) {
            if (prefixLength < 1 || prefixLength > 30) {
                throw new IllegalArgumentException("prefix length must be 1-30 for a host address, was " + prefixLength);
            }
            if (address.isAny() || address.isBroadcast() || address.isMulticast()) {
                throw new IllegalArgumentException(address + " cannot be a host address");
            }
            this.address = address;
            this.prefixLength = prefixLength;
            return this;
        }

        public Builder gateway(String gateway) {
            return gateway(Ipv4Address.parse(gateway));
        }

        public Builder gateway(Ipv4Address gateway) {
            this.gateway = gateway;
            return this;
        }

        public Builder dnsServer(String server) {
            return dnsServer(Ipv4Address.parse(server));
        }

        public Builder dnsServer(Ipv4Address server) {
            this.dnsServer = server;
            return this;
        }

        /** The clock (nanoseconds) for ARP lifetimes, reassembly timeouts and RTTs; tests control it. */
        public Builder clock(LongSupplier nanoClock) {
            this.clock = Objects.requireNonNull(nanoClock, "clock");
            return this;
        }

        /** Frames handled per device poll (default 64). */
        public Builder receiveBudget(int frames) {
            if (frames <= 0) {
                throw new IllegalArgumentException("receive budget must be positive, was " + frames);
            }
            this.receiveBudget = frames;
            return this;
        }

        /**
         * Busy-poll devices only: how long a receiving socket (and the idle receive thread) keeps
         * polling the device before it waits (default 50 µs, like Linux's {@code net.core.busy_read}).
         */
        public Builder busyPollSpin(Duration spin) {
            if (spin.isNegative()) {
                throw new IllegalArgumentException("busy-poll spin must not be negative, was " + spin);
            }
            this.busyPollSpinNanos = spin.toNanos();
            return this;
        }

        /**
         * Busy-poll devices only: how long a receiving socket that has sent nothing since the
         * datagram it last took waits, after a look at the device that found nothing, before it looks
         * again (default 1 µs; zero: it looks continuously). Such a socket is reading a one-way stream,
         * and looking a little less often lets a few of its frames gather per look, so that the card
         * writing the ring is not met by a read of the same cache line after every frame (64-byte
         * streams between two cards: 1.00-1.24 times the datagrams per second in four benchmark
         * comparisons, about 1.06 typically). The price is up to this much latency for a datagram
         * that arrives while the socket waits. A socket that has sent since it last took a datagram
         * (waiting for a reply) always looks continuously.
         */
        public Builder busyPollHoldOff(Duration holdOff) {
            if (holdOff.isNegative()) {
                throw new IllegalArgumentException("busy-poll hold-off must not be negative, was " + holdOff);
            }
            this.busyPollHoldOffNanos = holdOff.toNanos();
            return this;
        }

        /** Default bounds of new sockets' receive queues. */
        public Builder socketQueue(int datagrams, int bytes) {
            if (datagrams <= 0 || bytes <= 0) {
                throw new IllegalArgumentException("socket queue bounds must be positive");
            }
            this.socketQueueDatagrams = datagrams;
            this.socketQueueBytes = bytes;
            return this;
        }

        public Builder arpCacheSize(int entries) {
            arp.capacity = entries;
            return this;
        }

        public Builder arpLifetime(Duration lifetime) {
            arp.lifetimeNanos = lifetime.toNanos();
            return this;
        }

        /** Packets that may wait for one unresolved next hop (default 3). */
        public Builder arpQueuePerDestination(int packets) {
            arp.pendingPerDestination = packets;
            return this;
        }

        /**
         * The IPv4 reassembler (its bounds and timeout); default {@code new Reassembler()}. The stack
         * owns it from now on; a caller may keep the reference to read its counters.
         */
        public Builder reassembler(Reassembler reassembler) {
            this.reassembler = Objects.requireNonNull(reassembler, "reassembler");
            return this;
        }

        /** Rate limit of the ICMP errors the stack sends (default 100 per second). */
        public Builder icmpErrorsPerSecond(int rate) {
            this.icmpErrorsPerSecond = rate;
            return this;
        }

        /** Builds the stack and starts its receive thread; announces the address with a gratuitous ARP. */
        public NetStack build() {
            if (deviceFactory != null) {
                MbufPool pool = newPool(poolSize, deviceMemoryBytes);
                device = Objects.requireNonNull(deviceFactory.create(mac, pool), "the device factory returned null");
            }
            if (device == null) {
                throw new IllegalStateException("a NetStack needs a device: builder().device(...)");
            }
            if (gateway != null && address != null
                    && !Ipv4Subnet.of(address, prefixLength).contains(gateway)) {
                throw new IllegalArgumentException("gateway " + gateway + " is not on " + Ipv4Subnet.of(address, prefixLength));
            }
            return new NetStack(this);
        }
    }

    /** Makes the device of a stack from its MAC and a pool carved from fresh guest memory ({@link MbufPool#memory()}). */
    @FunctionalInterface
    public interface DeviceFactory {
        NetDevice create(MacAddress mac, MbufPool pool);
    }

    /** Convenience for tests and examples: guest memory and a pool of {@code buffers} mbufs carved from it, with {@code spareBytes} left for rings. */
    public static MbufPool newPool(int buffers, int spareBytes) {
        DmaMemory memory = DmaMemory.allocate(Math.multiplyExact(buffers, Mbuf.SIZE) + spareBytes + 4096);
        return MbufPool.carve(memory, buffers);
    }
}
