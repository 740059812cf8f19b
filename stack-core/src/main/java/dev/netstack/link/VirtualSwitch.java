package dev.netstack.link;

import dev.netstack.wire.MacAddress;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.StampedLock;
import java.util.function.LongSupplier;

/**
 * A learning Ethernet switch (IEEE 802.1D transparent bridging, without spanning tree) joining any
 * number of {@link LinkEndpoint}s: cards, the gateway, tunnels, taps.
 *
 * <p>For each frame it learns the source MAC on the ingress port, then forwards to the port that
 * destination was learned on, or floods to every other port when the destination is broadcast,
 * multicast, unknown or aged out. A frame is never sent back out of its ingress port: a frame for a
 * MAC learned on the ingress port is filtered (the destination already heard it on its own segment).
 *
 * <p>Threads: frames arrive on many threads at once (each endpoint sends on its own). The MAC table
 * is a fixed-size open-addressing table of primitive arrays behind a {@link StampedLock}: forwarding
 * lookups use optimistic reads, so the steady state (known source, known destination) takes no lock
 * and allocates nothing; the write lock is taken only to learn a new or moved MAC or to refresh an
 * entry's age at most once per {@link #refreshNanos}. Ports are called with no lock held, so an
 * endpoint may send from inside {@code receiveFrame} (a reply) without deadlocking the switch.
 */
public final class VirtualSwitch implements MeterBinder {
    /** IEEE 802.1D recommended ageing time. */
    public static final Duration DEFAULT_AGEING_TIME = Duration.ofSeconds(300);
    public static final int DEFAULT_MAC_TABLE_CAPACITY = 4096;

    private static final int ETHERNET_HEADER_LENGTH = 14;
    private static final int DESTINATION = 0;
    private static final int SOURCE = 6;
    private static final long EMPTY = -1L;   // no MAC is negative: MACs are the low 48 bits
    private static final int NO_PORT = -1;

    /** Why a switch dropped a frame; the {@code reason} tag of {@code netstack.switch.drops}. */
    public enum DropReason {
        /** Shorter than an Ethernet header. */
        RUNT("runt"),
        /** Source MAC has the group bit set: no station sends from a multicast address. */
        MULTICAST_SOURCE("multicast_source"),
        /** Destination was learned on the ingress port, so it already has the frame. */
        SAME_PORT("same_port"),
        /** A frame arrived on a port after it was disconnected. */
        DISCONNECTED("disconnected"),
        /** The egress endpoint threw; counted on the egress port. */
        EGRESS_ERROR("egress_error");

        private final String tag;

        DropReason(String tag) {
            this.tag = tag;
        }

        public String tag() {
            return tag;
        }
    }

    private final String name;
    private final long ageingNanos;
    private final long refreshNanos;
    private final LongSupplier nanoClock;

    // MAC table: linear probing over fixed arrays, never resized, so an optimistic reader racing a
    // writer can read stale values but never index out of bounds; validate() then retries.
    private final StampedLock tableLock = new StampedLock();
    private final int maxEntries;
    private final int mask;
    private final int hashShift;
    private final long[] macs;
    private final int[] portSlots;
    private final long[] lastSeen;
    private int entries;   // guarded by tableLock (write)

    // Ports: copy-on-write, read without locks on the frame path. bySlot is indexed by the slot number
    // stored in the MAC table; connected is the compact list floods walk.
    private final Object portsLock = new Object();
    private volatile SwitchPort[] bySlot = new SwitchPort[0];
    private volatile SwitchPort[] connected = new SwitchPort[0];
    private final PortCounters retired = new PortCounters();   // counts of ports already disconnected

    public VirtualSwitch() {
        this("switch", DEFAULT_MAC_TABLE_CAPACITY, DEFAULT_AGEING_TIME, System::nanoTime);
    }

    public VirtualSwitch(String name) {
        this(name, DEFAULT_MAC_TABLE_CAPACITY, DEFAULT_AGEING_TIME, System::nanoTime);
    }

    /**
     * @param name             the {@code switch} tag of this switch's metrics
     * @param macTableCapacity MACs remembered at once; when full, the least recently seen is forgotten
     * @param ageingTime       how long a MAC stays learned without being seen as a source
     * @param nanoClock        a monotonic clock in nanoseconds ({@code System::nanoTime}; a fake in tests)
     */
    public VirtualSwitch(String name, int macTableCapacity, Duration ageingTime, LongSupplier nanoClock) {
        if (macTableCapacity <= 0 || macTableCapacity > (1 << 24)) {
            throw new IllegalArgumentException("MAC table capacity must be 1-16777216, was " + macTableCapacity);
        }
        if (ageingTime.isNegative() || ageingTime.isZero()) {
            throw new IllegalArgumentException("ageing time must be positive, was " + ageingTime);
        }
        this.name = name;
        this.ageingNanos = ageingTime.toNanos();
        // Refreshing on every frame would put every frame through the write lock; an age that is
        // at most a second (or a quarter of the ageing time) stale is harmless.
        this.refreshNanos = Math.min(Duration.ofSeconds(1).toNanos(), ageingNanos / 4);
        this.nanoClock = nanoClock;
        this.maxEntries = macTableCapacity;
        int tableSize = Integer.highestOneBit(macTableCapacity) << 2;   // load factor <= 0.5
        this.mask = tableSize - 1;
        this.hashShift = 64 - Integer.numberOfTrailingZeros(tableSize);
        this.macs = new long[tableSize];
        this.portSlots = new int[tableSize];
        this.lastSeen = new long[tableSize];
        Arrays.fill(macs, EMPTY);
    }

    /**
     * Plugs {@code endpoint} into a new port: the endpoint's outgoing frames now enter the switch
     * here, and frames forwarded to this port are delivered to {@code endpoint.receiveFrame}.
     *
     * @throws IllegalStateException when {@code endpoint} is already connected to this switch
     */
    public SwitchPort connect(LinkEndpoint endpoint) {
        SwitchPort port;
        synchronized (portsLock) {
            for (SwitchPort existing : connected) {
                if (existing.endpoint == endpoint) {
                    throw new IllegalStateException(endpoint + " is already connected to " + name
                            + " on port " + existing.slot + "; disconnect it first");
                }
            }
            SwitchPort[] slots = bySlot;
            int slot = 0;
            while (slot < slots.length && slots[slot] != null) {
                slot++;
            }
            port = new SwitchPort(slot, endpoint);
            SwitchPort[] newSlots = slot < slots.length ? slots.clone() : Arrays.copyOf(slots, slot + 1);
            newSlots[slot] = port;
            SwitchPort[] newConnected = Arrays.copyOf(connected, connected.length + 1);
            newConnected[newConnected.length - 1] = port;
            bySlot = newSlots;
            connected = newConnected;
        }
        endpoint.attach(port);
        return port;
    }

    /** Unplugs {@code port}'s endpoint and forgets the MACs learned on it; a no-op if already done. */
    public void disconnect(SwitchPort port) {
        if (port.owner() != this) {
            throw new IllegalArgumentException(port + " belongs to another switch");
        }
        synchronized (portsLock) {
            if (!port.connected) {
                return;
            }
            port.connected = false;
            port.endpoint.attach(null);
            // Flush before the slot can be reused, so no entry points a new port at an old station.
            forgetPort(port.slot);
            SwitchPort[] slots = bySlot.clone();
            slots[port.slot] = null;
            SwitchPort[] old = connected;
            SwitchPort[] newConnected = new SwitchPort[old.length - 1];
            for (int i = 0, j = 0; i < old.length; i++) {
                if (old[i] != port) {
                    newConnected[j++] = old[i];
                }
            }
            bySlot = slots;
            connected = newConnected;
            retired.add(port.counters);
        }
    }

    /** The ports currently connected, in connection order. */
    public List<SwitchPort> ports() {
        return List.of(connected);
    }

    /** Number of MACs in the table (including aged entries not yet reclaimed). */
    public int macTableSize() {
        long stamp = tableLock.readLock();
        try {
            return entries;
        } finally {
            tableLock.unlockRead(stamp);
        }
    }

    /**
     * The port {@code mac} is learned on, or {@code null} when unknown or aged out. For inspection
     * and tests; forwarding uses the allocation-free path.
     */
    public SwitchPort portOf(MacAddress mac) {
        int slot = lookup(mac.bits(), nanoClock.getAsLong());
        SwitchPort[] slots = bySlot;
        return slot >= 0 && slot < slots.length ? slots[slot] : null;
    }

    // --- frame path ----------------------------------------------------------------------------

    private void forward(SwitchPort ingress, ByteBuffer frame) {
        int length = frame.remaining();
        if (!ingress.connected) {
            ingress.counters.drop(DropReason.DISCONNECTED);
            return;
        }
        ingress.counters.received(length);
        if (length < ETHERNET_HEADER_LENGTH) {
            ingress.counters.drop(DropReason.RUNT);
            return;
        }
        int at = frame.position();
        long destination = MacAddress.read(frame, at + DESTINATION);
        long source = MacAddress.read(frame, at + SOURCE);
        if (MacAddress.isMulticast(source)) {
            ingress.counters.drop(DropReason.MULTICAST_SOURCE);
            return;
        }
        long now = nanoClock.getAsLong();
        learn(source, ingress.slot, now);

        if (!MacAddress.isMulticast(destination)) {
            int slot = lookup(destination, now);
            if (slot == ingress.slot) {
                ingress.counters.drop(DropReason.SAME_PORT);
                return;
            }
            SwitchPort[] slots = bySlot;
            SwitchPort egress = slot >= 0 && slot < slots.length ? slots[slot] : null;
            if (egress != null) {
                deliver(egress, frame, length);
                return;
            }
        }
        SwitchPort[] ports = connected;
        for (int i = 0; i < ports.length; i++) {   // indexed loop: no iterator per frame
            SwitchPort egress = ports[i];
            if (egress != ingress) {
                deliver(egress, frame, length);
            }
        }
    }

    private static void deliver(SwitchPort egress, ByteBuffer frame, int length) {
        try {
            egress.endpoint.receiveFrame(frame);   // the FramePort contract keeps position and limit
            egress.counters.transmitted(length);
        } catch (RuntimeException e) {
            // One faulty endpoint must not stop the flood to the others or unwind into the sender.
            egress.counters.drop(DropReason.EGRESS_ERROR);
        }
    }

    // --- MAC table -----------------------------------------------------------------------------

    private int home(long mac) {
        return (int) ((mac * 0x9E37_79B9_7F4A_7C15L) >>> hashShift);
    }

    /** Table index of {@code mac}, or -1. Caller holds a lock or validates an optimistic stamp. */
    private int indexOf(long mac) {
        int i = home(mac);
        for (int probes = 0; probes <= mask; probes++) {   // bounded even when reading a torn table
            long key = macs[i];
            if (key == mac) {
                return i;
            }
            if (key == EMPTY) {
                return -1;
            }
            i = (i + 1) & mask;
        }
        return -1;
    }

    private int lookup(long mac, long now) {
        long stamp = tableLock.tryOptimisticRead();
        int slot = slotIfFresh(mac, now);
        if (!tableLock.validate(stamp)) {
            stamp = tableLock.readLock();
            try {
                slot = slotIfFresh(mac, now);
            } finally {
                tableLock.unlockRead(stamp);
            }
        }
        return slot;
    }

    private int slotIfFresh(long mac, long now) {
        int i = indexOf(mac);
        if (i < 0 || now - lastSeen[i] > ageingNanos) {
            return NO_PORT;
        }
        return portSlots[i];
    }

    private void learn(long mac, int slot, long now) {
        long stamp = tableLock.tryOptimisticRead();
        boolean current = isCurrent(mac, slot, now);
        if (tableLock.validate(stamp) && current) {
            return;
        }
        stamp = tableLock.writeLock();
        try {
            int i = indexOf(mac);
            if (i >= 0) {
                portSlots[i] = slot;   // a station that moved is re-learned at once
                lastSeen[i] = now;
                return;
            }
            if (entries >= maxEntries) {
                makeRoom(now);
            }
            i = home(mac);
            while (macs[i] != EMPTY) {
                i = (i + 1) & mask;
            }
            macs[i] = mac;
            portSlots[i] = slot;
            lastSeen[i] = now;
            entries++;
        } finally {
            tableLock.unlockWrite(stamp);
        }
    }

    private boolean isCurrent(long mac, int slot, long now) {
        int i = indexOf(mac);
        return i >= 0 && portSlots[i] == slot && now - lastSeen[i] < refreshNanos;
    }

    /**
     * Frees at least one entry: every aged one, or else the least recently seen. A full scan, but
     * only when a new MAC meets a full table. Caller holds the write lock.
     */
    private void makeRoom(long now) {
        int oldest = -1;
        for (int i = 0; i <= mask; ) {
            if (macs[i] != EMPTY && now - lastSeen[i] > ageingNanos) {
                removeAt(i);   // may shift a later entry into i: look at i again
                continue;
            }
            if (macs[i] != EMPTY && (oldest < 0 || lastSeen[i] - lastSeen[oldest] < 0)) {
                oldest = i;
            }
            i++;
        }
        if (entries >= maxEntries && oldest >= 0) {
            removeAt(oldest);
        }
    }

    private void forgetPort(int slot) {
        long stamp = tableLock.writeLock();
        try {
            for (int i = 0; i <= mask; ) {
                if (macs[i] != EMPTY && portSlots[i] == slot) {
                    removeAt(i);
                    continue;
                }
                i++;
            }
        } finally {
            tableLock.unlockWrite(stamp);
        }
    }

    /** Backward-shift deletion: keeps every probe chain unbroken without tombstones. */
    private void removeAt(int index) {
        int hole = index;
        int j = index;
        while (true) {
            j = (j + 1) & mask;
            long key = macs[j];
            if (key == EMPTY) {
                break;
            }
            int home = home(key);
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            boolean staysPut = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!staysPut) {
                macs[hole] = key;
                portSlots[hole] = portSlots[j];
                lastSeen[hole] = lastSeen[j];
                hole = j;
            }
        }
        macs[hole] = EMPTY;
        entries--;
    }

    // --- metrics -------------------------------------------------------------------------------

    /** Totals over all ports, connected and already disconnected. */
    private long total(int counter) {
        long sum = retired.get(counter);
        for (SwitchPort port : connected) {
            sum += port.counters.get(counter);
        }
        return sum;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        FunctionCounter.builder("netstack.switch.frames", this, s -> s.total(PortCounters.RX_FRAMES))
                .tag("switch", name).tag("direction", "rx").baseUnit("frames").register(registry);
        FunctionCounter.builder("netstack.switch.frames", this, s -> s.total(PortCounters.TX_FRAMES))
                .tag("switch", name).tag("direction", "tx").baseUnit("frames").register(registry);
        FunctionCounter.builder("netstack.switch.bytes", this, s -> s.total(PortCounters.RX_BYTES))
                .tag("switch", name).tag("direction", "rx").baseUnit("bytes").register(registry);
        FunctionCounter.builder("netstack.switch.bytes", this, s -> s.total(PortCounters.TX_BYTES))
                .tag("switch", name).tag("direction", "tx").baseUnit("bytes").register(registry);
        for (DropReason reason : DropReason.values()) {
            int counter = PortCounters.DROPS + reason.ordinal();
            FunctionCounter.builder("netstack.switch.drops", this, s -> s.total(counter))
                    .tag("switch", name).tag("reason", reason.tag()).baseUnit("frames").register(registry);
        }
        Gauge.builder("netstack.switch.mac.table.entries", this, VirtualSwitch::macTableSize)
                .tag("switch", name).baseUnit("entries").register(registry);
        Gauge.builder("netstack.switch.ports", this, s -> s.connected.length)
                .tag("switch", name).baseUnit("ports").register(registry);
    }

    @Override
    public String toString() {
        return "VirtualSwitch[" + name + ", " + connected.length + " ports]";
    }

    /** Per-port counters, one LongAdder each so many sending threads do not contend on one cache line. */
    private static final class PortCounters {
        static final int RX_FRAMES = 0, RX_BYTES = 1, TX_FRAMES = 2, TX_BYTES = 3, DROPS = 4;
        private final LongAdder[] adders = new LongAdder[DROPS + DropReason.values().length];

        PortCounters() {
            for (int i = 0; i < adders.length; i++) {
                adders[i] = new LongAdder();
            }
        }

        void received(int bytes) {
            adders[RX_FRAMES].increment();
            adders[RX_BYTES].add(bytes);
        }

        void transmitted(int bytes) {
            adders[TX_FRAMES].increment();
            adders[TX_BYTES].add(bytes);
        }

        void drop(DropReason reason) {
            adders[DROPS + reason.ordinal()].increment();
        }

        long get(int counter) {
            return adders[counter].sum();
        }

        void add(PortCounters other) {
            for (int i = 0; i < adders.length; i++) {
                adders[i].add(other.adders[i].sum());
            }
        }
    }

    /**
     * One port of the switch. It is the {@link FramePort} its endpoint sends into; it holds the
     * port's counters. Obtained from {@link VirtualSwitch#connect}.
     */
    public final class SwitchPort implements FramePort {
        private final int slot;
        private final LinkEndpoint endpoint;
        private final PortCounters counters = new PortCounters();
        private volatile boolean connected = true;

        private SwitchPort(int slot, LinkEndpoint endpoint) {
            this.slot = slot;
            this.endpoint = endpoint;
        }

        /** A frame sent by this port's endpoint, entering the switch. */
        @Override
        public void receiveFrame(ByteBuffer frame) {
            forward(this, frame);
        }

        /** Port number, unique among connected ports; reused after a disconnect. */
        public int number() {
            return slot;
        }

        public LinkEndpoint endpoint() {
            return endpoint;
        }

        public boolean isConnected() {
            return connected;
        }

        /** Unplugs this port; same as {@link VirtualSwitch#disconnect(SwitchPort)}. */
        public void disconnect() {
            VirtualSwitch.this.disconnect(this);
        }

        /** Frames that entered the switch through this port (including those then dropped). */
        public long receivedFrames() {
            return counters.get(PortCounters.RX_FRAMES);
        }

        public long receivedBytes() {
            return counters.get(PortCounters.RX_BYTES);
        }

        /** Frames the switch delivered out of this port. */
        public long transmittedFrames() {
            return counters.get(PortCounters.TX_FRAMES);
        }

        public long transmittedBytes() {
            return counters.get(PortCounters.TX_BYTES);
        }

        public long drops(DropReason reason) {
            return counters.get(PortCounters.DROPS + reason.ordinal());
        }

        private VirtualSwitch owner() {
            return VirtualSwitch.this;
        }

        @Override
        public String toString() {
            return "SwitchPort[" + name + "#" + slot + " " + endpoint + "]";
        }
    }
}
