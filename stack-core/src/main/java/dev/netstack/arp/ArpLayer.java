package dev.netstack.arp;

import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.buffer.MbufQueue;
import dev.netstack.ethernet.EthernetLayer;
import dev.netstack.metrics.Drop;
import dev.netstack.metrics.Layer;
import dev.netstack.metrics.StackCounters;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * ARP (RFC 826) for one Ethernet interface: a bounded cache with lifetimes and LRU eviction,
 * answers for our address, and resolution of next hops with a small queue of packets waiting per
 * destination.
 *
 * <p>The cache is a fixed set of slots in parallel primitive arrays, scanned linearly: a few hundred
 * neighbours on one link is the normal case, and a scan of an {@code int[]} beats hashing at that
 * size while allocating nothing. One lock guards every change; nothing is transmitted while
 * holding it.
 *
 * <p>Sending to a resolved next hop takes no lock. A direct-mapped hint table maps a next hop to
 * the slot that last answered for it, and each slot carries a sequence number (a seqlock): a
 * writer makes it odd before it changes the slot's address, state, MAC or lifetime and even again
 * after (release); a reader takes the number (acquire), reads the slot, and trusts what it read
 * only if the number was even and has not moved. Anything else (a stale hint, a pending entry, a
 * slot being written) falls back to the locked path, which also refreshes the hint.
 *
 * <p>That path reads no clock either: a clock read costs about as much as the rest of it (a
 * {@code clock_gettime} each time). An entry past its lifetime is freed by the next {@link #tick()},
 * the stack's timer, so a sender may go on using it for up to one timer interval (Linux's
 * neighbour states also move on timers); everything else ({@link #lookup}, the locked path,
 * learning) sees the lifetime exactly. LRU eviction orders entries by a count of uses, not by time.
 *
 * <p>A packet waiting for resolution may be a train of frames linked through {@link Mbuf#chained()}
 * (the fragments of one datagram), so a fragmented datagram counts as one queue entry.
 */
public final class ArpLayer {
    /** Told about each packet dropped because its next hop never answered. */
    @FunctionalInterface
    public interface UnreachableHandler {
        /** {@code ipPacket}'s window starts at the IPv4 header; the handler must not keep it. */
        void unreachable(Mbuf ipPacket, int nextHop);
    }

    /** Tunables with the usual defaults. */
    public static final class Config {
        public int capacity = 256;
        public long lifetimeNanos = TimeUnit.SECONDS.toNanos(60);
        public int pendingPerDestination = 3;
        public long retryIntervalNanos = TimeUnit.SECONDS.toNanos(1);
        public int maxRequests = 3;
    }

    private static final byte FREE = 0, PENDING = 1, RESOLVED = 2;
    private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);
    /** Requests are sent from application threads and the receive thread: one view per thread. */
    private static final ThreadLocal<ArpPacket> TX_ARP = ThreadLocal.withInitial(ArpPacket::new);

    private final EthernetLayer ethernet;
    private final MbufPool pool;
    private final StackCounters counters;
    private final java.util.function.LongSupplier clock;
    private final Config config;
    private final long ourMac;
    private volatile int ourIp;
    private volatile int ourSubnetBroadcast = -1;
    private UnreachableHandler unreachableHandler = (packet, nextHop) -> { };

    private final ReentrantLock lock = new ReentrantLock();
    private final int[] ips;
    private final long[] macs;
    private final byte[] states;
    private final long[] expiresAt;
    /** Per slot: the {@link #uses} count at its last use, for LRU eviction. */
    private final long[] lastUsed;
    /**
     * A logical clock of uses: LRU needs their order, not their time. Bumped with plain writes, also
     * by senders without the lock: a lost or repeated number only bends the eviction order a little.
     */
    private long uses;
    private final long[] lastRequestAt;
    private final int[] requestsSent;
    private final MbufQueue[] waiting;
    /** Per slot: odd while the slot is being written (seqlock for {@link #resolvedWithoutLock}). */
    private final int[] sequence;
    /** Next hop hash to slot + 1 (0: no hint); written under the lock, read without it. */
    private final int[] hints;
    private final int hintMask;
    private int used;
    private long evictions;

    // receive-thread scratch: requests to send and packets to release, gathered under the lock
    private final ArpPacket rxArp = new ArpPacket();
    private final int[] requestScratch;
    private final MbufQueue releaseScratch = new MbufQueue();
    private final MbufQueue failScratch = new MbufQueue();
    private final int[] failHopScratch;

    public ArpLayer(EthernetLayer ethernet, MbufPool pool, StackCounters counters,
            java.util.function.LongSupplier clock, Config config) {
        if (config.capacity <= 0 || config.pendingPerDestination <= 0 || config.maxRequests <= 0) {
            throw new IllegalArgumentException("ARP cache capacity, queue length and request count must be positive");
        }
        this.ethernet = ethernet;
        this.pool = pool;
        this.counters = counters;
        this.clock = clock;
        this.config = config;
        this.ourMac = ethernet.macAddress();
        int n = config.capacity;
        ips = new int[n];
        macs = new long[n];
        states = new byte[n];
        expiresAt = new long[n];
        lastUsed = new long[n];
        lastRequestAt = new long[n];
        requestsSent = new int[n];
        waiting = new MbufQueue[n];
        for (int i = 0; i < n; i++) {
            waiting[i] = new MbufQueue();
        }
        sequence = new int[n];
        int hintSize = Integer.highestOneBit(Math.max(16, n * 2 - 1)) << 1;
        hints = new int[hintSize];
        hintMask = hintSize - 1;
        requestScratch = new int[n];
        failHopScratch = new int[n * config.pendingPerDestination];
    }

    public void onUnreachable(UnreachableHandler handler) {
        this.unreachableHandler = handler;
    }

    /** Sets our address (0 for none) and announces it with a gratuitous ARP. */
    public void configure(int address) {
        configure(address, -1);
    }

    /**
     * Sets our address (0 for none) and our subnet's directed broadcast address (never cached as a
     * neighbour), and announces the address with a gratuitous ARP.
     */
    public void configure(int address, int subnetBroadcast) {
        this.ourSubnetBroadcast = subnetBroadcast;
        this.ourIp = address;
        if (address != 0) {
            sendArp(ArpPacket.OP_REQUEST, MacAddress.BROADCAST_BITS, 0L, address, address);
        }
    }

    // --- input (receive thread) ----------------------------------------------------------------

    /** An ARP packet from the Ethernet layer, window at the ARP header; consumed. */
    public void input(Mbuf packet) {
        counters.received(Layer.ARP, packet.length());
        ArpPacket arp = rxArp;
        if (!arp.wrap(packet.buffer(), packet.head(), packet.length()) || !arp.isEthernetIpv4()
                || (arp.operation() != ArpPacket.OP_REQUEST && arp.operation() != ArpPacket.OP_REPLY)) {
            drop(packet, Drop.ARP_MALFORMED);
            return;
        }
        int operation = arp.operation();
        int senderIp = arp.senderIp();
        long senderMac = arp.senderMac();
        int targetIp = arp.targetIp();
        packet.free();

        int me = ourIp;
        boolean forUs = me != 0 && targetIp == me;
        if (!isUsableNeighbour(senderIp, senderMac, me) || senderIp == ourSubnetBroadcast) {
            // 0.0.0.0 (an RFC 5227 probe), broadcast, multicast, or our own address: never cached
            if (senderIp == 0 && forUs && operation == ArpPacket.OP_REQUEST && !MacAddress.isMulticast(senderMac)) {
                counters.accepted(Layer.ARP);
                sendArp(ArpPacket.OP_REPLY, senderMac, senderMac, me, 0);
            } else {
                counters.drop(Drop.ARP_BAD_SENDER);
            }
            return;
        }
        // RFC 826: update the sender if known; add it if the packet is for us
        learn(senderIp, senderMac, forUs);
        if (forUs) {
            counters.accepted(Layer.ARP);
        }
        if (forUs && operation == ArpPacket.OP_REQUEST) {
            sendArp(ArpPacket.OP_REPLY, senderMac, senderMac, me, senderIp);
        } else if (!forUs) {
            counters.drop(Drop.ARP_NOT_FOR_US);
        }
    }

    private static boolean isUsableNeighbour(int ip, long mac, int me) {
        return ip != 0 && ip != -1 && !Ipv4Address.isMulticast(ip) && ip != me
                && !MacAddress.isMulticast(mac) && mac != 0;
    }

    private void learn(int ip, long mac, boolean create) {
        long now = clock.getAsLong();
        MbufQueue release = releaseScratch;
        lock.lock();
        try {
            int slot = find(ip);
            if (slot < 0) {
                if (!create) {
                    return;
                }
                slot = claim(ip);
            }
            beginWrite(slot);
            macs[slot] = mac;
            states[slot] = RESOLVED;
            expiresAt[slot] = now + config.lifetimeNanos;
            endWrite(slot);
            hint(ip, slot);
            lastUsed[slot] = ++uses;
            requestsSent[slot] = 0;
            MbufQueue q = waiting[slot];
            for (Mbuf m = q.poll(); m != null; m = q.poll()) {
                release.add(m);
            }
        } finally {
            lock.unlock();
        }
        for (Mbuf train = release.poll(); train != null; train = release.poll()) {
            transmitTrain(train, mac);
        }
    }

    // --- output (any thread) -------------------------------------------------------------------

    /**
     * Sends an IPv4 packet (or a train of fragments) to {@code nextHop}: at once when its MAC is
     * known, otherwise after resolution. Consumes the mbufs in every case.
     */
    public void output(Mbuf train, int nextHop) {
        if (nextHop == -1) {
            transmitTrain(train, MacAddress.BROADCAST_BITS);
            return;
        }
        long mac = resolvedWithoutLock(nextHop);
        if (mac != -1) {
            transmitTrain(train, mac);
            return;
        }
        long now = clock.getAsLong();
        boolean request = false;
        boolean full = false;
        lock.lock();
        try {
            int slot = find(nextHop);
            if (slot >= 0 && states[slot] == RESOLVED && expiresAt[slot] > now) {
                lastUsed[slot] = ++uses;
                mac = macs[slot];
                hint(nextHop, slot);
            } else {
                if (slot < 0) {
                    slot = claim(nextHop);
                } else if (states[slot] == RESOLVED) {
                    // expired: ask again, keep nothing of the old answer
                    beginWrite(slot);
                    states[slot] = PENDING;
                    endWrite(slot);
                    requestsSent[slot] = 0;
                    lastRequestAt[slot] = Long.MIN_VALUE / 2;
                }
                lastUsed[slot] = ++uses;
                MbufQueue q = waiting[slot];
                if (q.size() >= config.pendingPerDestination) {
                    full = true;
                } else {
                    q.add(train);
                }
                if (requestsSent[slot] == 0 && now - lastRequestAt[slot] >= config.retryIntervalNanos) {
                    requestsSent[slot] = 1;
                    lastRequestAt[slot] = now;
                    request = true;
                }
            }
        } finally {
            lock.unlock();
        }
        if (mac != -1) {
            transmitTrain(train, mac);
            return;
        }
        if (full) {
            counters.drop(Drop.ARP_QUEUE_FULL);
            train.freePacket();
        }
        if (request) {
            sendArp(ArpPacket.OP_REQUEST, MacAddress.BROADCAST_BITS, 0L, ourIp, nextHop);
        }
    }

    private void transmitTrain(Mbuf train, long mac) {
        Mbuf frame = train;
        while (frame != null) {
            Mbuf following = frame.chained();
            frame.chain(null);
            ethernet.transmit(frame, mac, EthernetHeader.TYPE_IPV4);
            frame = following;
        }
    }

    // --- timers (receive thread) ---------------------------------------------------------------

    /** Retries unanswered requests once a second, gives up after the last, and expires old entries. */
    public void tick() {
        long now = clock.getAsLong();
        int requests = 0;
        int failed = 0;
        MbufQueue fail = failScratch;
        lock.lock();
        try {
            for (int slot = 0; slot < states.length; slot++) {
                if (states[slot] == RESOLVED && expiresAt[slot] <= now && waiting[slot].isEmpty()) {
                    release(slot);
                } else if (states[slot] == PENDING && now - lastRequestAt[slot] >= config.retryIntervalNanos) {
                    if (requestsSent[slot] >= config.maxRequests) {
                        MbufQueue q = waiting[slot];
                        for (Mbuf m = q.poll(); m != null; m = q.poll()) {
                            fail.add(m);
                            failHopScratch[failed++] = ips[slot];
                        }
                        release(slot);
                    } else {
                        requestsSent[slot]++;
                        lastRequestAt[slot] = now;
                        requestScratch[requests++] = ips[slot];
                    }
                }
            }
        } finally {
            lock.unlock();
        }
        for (int i = 0; i < requests; i++) {
            sendArp(ArpPacket.OP_REQUEST, MacAddress.BROADCAST_BITS, 0L, ourIp, requestScratch[i]);
        }
        for (int i = 0; i < failed; i++) {
            Mbuf train = fail.poll();
            counters.drop(Drop.ARP_UNRESOLVED);
            unreachableHandler.unreachable(train, failHopScratch[i]);
            train.freePacket();
        }
    }

    // --- the lock-free read side -----------------------------------------------------------------

    /**
     * The MAC of a resolved next hop found through its hint, or -1 (ask under the lock). An entry
     * past its lifetime still answers here until the next {@link #tick()} frees it. Stamps the
     * entry's last use with plain writes: a lost or late update only bends the eviction order a
     * little, it never changes what is sent.
     */
    private long resolvedWithoutLock(int ip) {
        int slot = (int) INTS.getOpaque(hints, hintIndex(ip)) - 1;
        if (slot < 0) {
            return -1;
        }
        int before = (int) INTS.getAcquire(sequence, slot);
        if ((before & 1) != 0) {
            return -1;
        }
        int slotIp = ips[slot];
        byte state = states[slot];
        long mac = macs[slot];
        VarHandle.loadLoadFence();   // the reads above complete before the sequence is read again
        if ((int) INTS.getOpaque(sequence, slot) != before || slotIp != ip || state != RESOLVED) {
            return -1;
        }
        lastUsed[slot] = ++uses;
        return mac;
    }

    private int hintIndex(int ip) {
        int h = ip * 0x9E3779B1;
        return (h ^ (h >>> 16)) & hintMask;
    }

    /** Lock held. */
    private void hint(int ip, int slot) {
        INTS.setOpaque(hints, hintIndex(ip), slot + 1);
    }

    /** Lock held: the slot's sequence goes odd before its fields change. */
    private void beginWrite(int slot) {
        INTS.setOpaque(sequence, slot, sequence[slot] + 1);
        VarHandle.storeStoreFence();
    }

    /** Lock held: the slot's fields are published before its sequence goes even (release). */
    private void endWrite(int slot) {
        INTS.setRelease(sequence, slot, sequence[slot] + 1);
    }

    // --- cache slots (lock held) ---------------------------------------------------------------

    private int find(int ip) {
        for (int slot = 0; slot < ips.length; slot++) {
            if (ips[slot] == ip && states[slot] != FREE) {
                return slot;
            }
        }
        return -1;
    }

    /** A slot for a new pending entry: a free one, else the least recently used (resolved first). */
    private int claim(int ip) {
        int victim = -1;
        if (used < ips.length) {
            for (int slot = 0; slot < states.length; slot++) {
                if (states[slot] == FREE) {
                    victim = slot;
                    break;
                }
            }
        } else {
            victim = leastRecentlyUsed(RESOLVED);
            if (victim < 0) {
                victim = leastRecentlyUsed(PENDING);
            }
            int dropped = waiting[victim].freeAll();
            for (int i = 0; i < dropped; i++) {
                counters.drop(Drop.ARP_UNRESOLVED);
            }
            release(victim);
            evictions++;
        }
        used++;
        beginWrite(victim);
        ips[victim] = ip;
        states[victim] = PENDING;
        macs[victim] = 0;
        expiresAt[victim] = 0;
        endWrite(victim);
        lastUsed[victim] = ++uses;
        requestsSent[victim] = 0;
        lastRequestAt[victim] = Long.MIN_VALUE / 2;
        return victim;
    }

    private int leastRecentlyUsed(byte state) {
        int victim = -1;
        for (int slot = 0; slot < states.length; slot++) {
            if (states[slot] == state && (victim < 0 || lastUsed[slot] - lastUsed[victim] < 0)) {
                victim = slot;
            }
        }
        return victim;
    }

    private void release(int slot) {
        beginWrite(slot);
        states[slot] = FREE;
        ips[slot] = 0;
        endWrite(slot);
        used--;
    }

    // --- sending ARP ---------------------------------------------------------------------------

    private void sendArp(int operation, long ethernetDestination, long targetMac, int senderIp, int targetIp) {
        Mbuf m = pool.allocate();
        if (m == null) {
            return;   // the pool counted it; ARP retries cover the loss
        }
        int at = m.put(ArpPacket.LENGTH);
        ArpPacket arp = TX_ARP.get();
        arp.wrap(m.buffer(), at, ArpPacket.LENGTH);
        arp.set(operation, ourMac, senderIp, targetMac, targetIp);
        // pad to the Ethernet minimum so the frame needs no padding below us
        int pad = m.put(EthernetHeader.MIN_FRAME_LENGTH - EthernetHeader.HEADER_LENGTH - ArpPacket.LENGTH);
        m.buffer().putLong(pad, 0L).putLong(pad + 8, 0L).putShort(pad + 16, (short) 0);
        counters.sent(Layer.ARP, ArpPacket.LENGTH);
        ethernet.transmit(m, ethernetDestination, EthernetHeader.TYPE_ARP);
    }

    private void drop(Mbuf packet, Drop reason) {
        counters.drop(reason);
        packet.freePacket();
    }

    // --- inspection ----------------------------------------------------------------------------

    /** Entries in the cache, resolved or pending. */
    public int size() {
        lock.lock();
        try {
            return used;
        } finally {
            lock.unlock();
        }
    }

    /** How many entries were evicted to make room. */
    public long evictions() {
        lock.lock();
        try {
            return evictions;
        } finally {
            lock.unlock();
        }
    }

    /** The resolved MAC for {@code ip} as the low 48 bits, or -1 when none (or expired). */
    public long lookup(int ip) {
        long now = clock.getAsLong();
        lock.lock();
        try {
            int slot = find(ip);
            return slot >= 0 && states[slot] == RESOLVED && expiresAt[slot] > now ? macs[slot] : -1;
        } finally {
            lock.unlock();
        }
    }

    /** Frees every queued packet; used when the stack closes. */
    public void clear() {
        lock.lock();
        try {
            for (int slot = 0; slot < states.length; slot++) {
                waiting[slot].freeAll();
                if (states[slot] != FREE) {
                    release(slot);
                }
            }
        } finally {
            lock.unlock();
        }
    }
}
