package dev.netstack.e1000;

import static dev.netstack.e1000.E1000Registers.*;

import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.concurrent.SpinLock;
import dev.netstack.concurrent.VarHandles;
import dev.netstack.link.FrameSink;
import dev.netstack.link.NetDevice;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.MacAddress;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The driver for {@link E1000Device}, in the shape of xv6's {@code e1000.c}: it talks to the card
 * only through register reads and writes and through descriptor rings and mbufs in guest memory.
 *
 * <pre>
 *  transmit ring (driver fills at txTail, card consumes TDH → TDT, driver reclaims at txClean)
 *
 *     txClean          TDH              TDT = txTail
 *        │  done (DD)   │   card owns     │    free (driver)
 *   ─────▼──────────────▼─────────────────▼──────────────────────▶ (wraps)
 *
 *  receive ring (card fills RDH → RDT-1; driver takes from RDT+1 while DD, then moves RDT)
 *
 *     RDT  next        RDH
 *      │   │ full (DD)  │   empty, card owns
 *   ───▼───▼────────────▼────────────────────────────────────────▶ (wraps)
 *      └ always left empty, so RDH == RDT means "no free descriptor" and not "all free"
 * </pre>
 *
 * <h2>Threads</h2>
 * Any thread may {@link #transmit}: the transmit side is guarded by the driver's TX lock (held
 * across the TDT write, during which the card runs its transmit engine). {@link #receive} and
 * {@link #awaitReceive} are for the one receive thread of the device and take no lock, so a sink
 * that transmits a reply cannot deadlock (the stack runs {@link #receive} from other threads too,
 * under its own lock: busy-polling sockets, and in interrupt mode the one socket reader waiting in
 * {@link #awaitReceiveBeside}). {@link #close()} is called after the receive thread stopped.
 *
 * <h2>Ownership</h2>
 * Every receive descriptor holds one mbuf of the pool; a frame's mbuf passes to the sink and a
 * fresh one takes its place. A transmitted mbuf belongs to the ring until the card reports DD.
 */
public final class E1000Driver implements NetDevice {
    private static final VarHandle RX_NEXT = VarHandles.field(MethodHandles.lookup(), "rxNext", int.class);

    /** Why the driver dropped a received frame. */
    public enum Drop {
        /** The pool was empty: the frame's buffer stays in the ring and the frame is lost. */
        NO_BUFFER("no_buffer"),
        /** The card flagged the descriptor with errors. */
        RECEIVE_ERROR("receive_error"),
        /** The frame spanned several buffers (larger than one mbuf). */
        MULTI_BUFFER("multi_buffer"),
        /** transmit() was handed an empty frame. */
        EMPTY_FRAME("empty_frame");

        private final String tag;

        Drop(String tag) {
            this.tag = tag;
        }

        public String tag() {
            return tag;
        }
    }

    private static final int ETHERNET_HEADER = 14;
    private static final int ETHERTYPE_IPV4 = 0x0800;
    private static final int IP_PROTOCOL_UDP = 17;
    private static final int NO_OFFLOAD = -1;
    /** IPGT 10, IPGR1 8, IPGR2 6: the manual's IEEE 802.3 values for the 82540EM on copper (§13.4.34). */
    private static final int TIPG_DEFAULT = 10 << TIPG_IPGT_SHIFT | 8 << TIPG_IPGR1_SHIFT | 6 << TIPG_IPGR2_SHIFT;
    private static final int TCTL_CT_DEFAULT = 0x10 << TCTL_CT_SHIFT;
    private static final int TCTL_COLD_FULL_DUPLEX = 0x40 << TCTL_COLD_SHIFT;
    private static final int INTERRUPTS = ICR_RXT0 | ICR_RXO | ICR_RXDMT0 | ICR_LSC;

    private final E1000Device card;
    private final DmaMemory memory;
    private final MbufPool pool;
    private final MacAddress mac;
    private final E1000Config config;
    private final InterruptLine line;

    // --- transmit side, guarded by txLock ----------------------------------------------------------
    private final SpinLock txLock = new SpinLock();
    private final long transmitRing;
    private final int transmitRingSize;
    private final Mbuf[] transmitMbufs;
    private final TransmitDescriptor transmitDescriptor = new TransmitDescriptor();
    private int txTail;        // next descriptor to fill; mirrors TDT
    private int txClean;       // oldest descriptor not yet reclaimed
    private int loadedContext = NO_OFFLOAD;   // the checksum context the card holds

    // --- receive side, one receive thread ------------------------------------------------------------
    private final long receiveRing;
    private final int receiveRingSize;
    private final Mbuf[] receiveMbufs;
    private int rxTail;        // mirrors RDT: the last descriptor handed back to the card
    private int rxNext;        // the next descriptor to look at; those from rxTail + 1 up to it wait for refill
                               // (written opaque: receivePending reads it without the lock)
    private final int refillInterval;   // descriptors taken between refills (and RDT writes)
    private boolean discarding;   // inside a multi-buffer frame being dropped

    private final AtomicLongArray drops = new AtomicLongArray(Drop.values().length);
    private volatile boolean closed;

    /**
     * Initialises the card as the manual's §14 prescribes (and xv6's {@code e1000_init} does): reset,
     * mask interrupts, rings in guest memory, one mbuf per receive descriptor, the receive address,
     * an empty multicast table, RCTL/TCTL/TIPG, then unmask interrupts.
     *
     * @throws IllegalArgumentException when the pool lives in other memory or is too small for the ring
     */
    public E1000Driver(E1000Device card, DmaMemory memory, MbufPool pool, MacAddress mac, E1000Config config) {
        if (card.memory() != memory) {
            throw new IllegalArgumentException("the card does DMA to a different DmaMemory than the driver was given");
        }
        if (pool.memory() != memory) {
            throw new IllegalArgumentException("the mbuf pool must be carved from the card's DmaMemory");
        }
        if (pool.available() < config.receiveRingSize()) {
            throw new IllegalArgumentException("mbuf pool has " + pool.available() + " free buffers but the receive ring of "
                    + config.receiveRingSize() + " descriptors needs one each; use a larger pool or a smaller ring");
        }
        this.card = card;
        this.memory = memory;
        this.pool = pool;
        this.mac = mac;
        this.config = config;
        this.line = card.interruptLine();
        this.transmitRingSize = config.transmitRingSize();
        this.receiveRingSize = config.receiveRingSize();
        this.refillInterval = Math.max(1, Math.min(16, receiveRingSize / 4));
        this.transmitMbufs = new Mbuf[transmitRingSize];
        this.receiveMbufs = new Mbuf[receiveRingSize];

        // Reset with interrupts masked before and after: a reset can leave causes pending (§14.3)
        card.write(IMC, 0xffff_ffff);
        card.write(CTRL, card.read(CTRL) | CTRL_RST);
        card.write(IMC, 0xffff_ffff);
        card.write(CTRL, card.read(CTRL) | CTRL_SLU | CTRL_ASDE);

        // Transmit ring (§14.5)
        transmitRing = memory.carve(transmitRingSize * TransmitDescriptor.SIZE, 128);
        memory.fill(transmitRing, transmitRingSize * TransmitDescriptor.SIZE, (byte) 0);
        card.write(TDBAL, (int) transmitRing);
        card.write(TDBAH, (int) (transmitRing >>> 32));
        card.write(TDLEN, transmitRingSize * TransmitDescriptor.SIZE);
        card.write(TDH, 0);
        card.write(TDT, 0);

        // Receive ring (§14.4): every descriptor gets a buffer, RDT = last so the card owns N - 1
        receiveRing = memory.carve(receiveRingSize * ReceiveDescriptor.SIZE, 128);
        memory.fill(receiveRing, receiveRingSize * ReceiveDescriptor.SIZE, (byte) 0);
        for (int i = 0; i < receiveRingSize; i++) {
            Mbuf mbuf = pool.allocate(0);
            receiveMbufs[i] = mbuf;
            memory.write64le(descriptor(receiveRing, i) + ReceiveDescriptor.ADDRESS, mbuf.address());
        }
        card.write(RDBAL, (int) receiveRing);
        card.write(RDBAH, (int) (receiveRing >>> 32));
        card.write(RDLEN, receiveRingSize * ReceiveDescriptor.SIZE);
        card.write(RDH, 0);
        rxTail = receiveRingSize - 1;
        rxNext = 0;
        card.write(RDT, rxTail);

        // Filters: our address in entry 0, the rest invalid, no multicast groups
        long bits = mac.bits();
        card.write(ral(0), (int) ((bits >>> 40) & 0xff | ((bits >>> 32) & 0xff) << 8
                | ((bits >>> 24) & 0xff) << 16 | ((bits >>> 16) & 0xff) << 24));
        card.write(rah(0), (int) ((bits >>> 8) & 0xff | (bits & 0xff) << 8) | RAH_AV);
        for (int n = 1; n < RECEIVE_ADDRESSES; n++) {
            card.write(ral(n), 0);
            card.write(rah(n), 0);
        }
        for (int i = 0; i < MTA_ENTRIES; i++) {
            card.write(MTA + 4 * i, 0);
        }

        card.write(RDTR, config.receiveDelay());
        card.write(RADV, config.receiveAbsoluteDelay());
        card.write(ITR, config.interruptThrottle());
        card.write(RCTL, RCTL_EN | RCTL_BAM | RCTL_BSIZE_2048 | RCTL_SECRC | RCTL_RDMTS_HALF);
        card.write(TIPG, TIPG_DEFAULT);
        card.write(TCTL, TCTL_EN | TCTL_PSP | TCTL_CT_DEFAULT | TCTL_COLD_FULL_DUPLEX);

        card.read(ICR);   // discard causes raised while setting up
        if (!config.busyPoll()) {
            card.write(IMS, INTERRUPTS);
        }
    }

    private static long descriptor(long ring, int index) {
        return ring + (long) index * 16;
    }

    // =============================================================================================
    // NetDevice
    // =============================================================================================

    @Override
    public String name() {
        return config.name();
    }

    @Override
    public MacAddress macAddress() {
        return mac;
    }

    @Override
    public int mtu() {
        return 1500;
    }

    @Override
    public boolean isLinkUp() {
        return !closed && (card.read(STATUS) & STATUS_LU) != 0;
    }

    @Override
    public MbufPool pool() {
        return pool;
    }

    @Override
    public boolean busyPoll() {
        return config.busyPoll();
    }

    /** Frames per receive call to ask for when busy-polling. */
    public int pollBudget() {
        return config.pollBudget();
    }

    /**
     * True when the card fills in checksums: for IPv4 frames the header checksum, and for
     * unfragmented UDP/IPv4 the UDP checksum too. The stack may then leave those fields as they are;
     * whatever it put there is overwritten.
     */
    public boolean checksumOffload() {
        return config.checksumOffload();
    }

    /** The card this driver runs. */
    public E1000Device card() {
        return card;
    }

    public E1000Config config() {
        return config;
    }

    // =============================================================================================
    // Transmit
    // =============================================================================================

    /**
     * Queues one frame. Returns {@link #RING_FULL} (the caller keeps the mbuf) when the next
     * descriptor still belongs to the card, never overwriting it; an empty frame is dropped, counted
     * and freed.
     */
    @Override
    public int transmit(Mbuf frame) {
        if (closed) {
            return LINK_DOWN;
        }
        if (frame.length() == 0) {
            count(Drop.EMPTY_FRAME);
            frame.free();
            return TRANSMITTED;
        }
        txLock.lock();
        try {
            if (closed || (card.read(STATUS) & STATUS_LU) == 0) {
                return LINK_DOWN;
            }
            reclaimLocked();
            if (!fillLocked(frame)) {
                return RING_FULL;
            }
            // The descriptor was published with release ordering; now hand it to the card.
            card.write(TDT, txTail);
            return TRANSMITTED;
        } finally {
            txLock.unlock();
        }
    }

    /**
     * A burst: fills a descriptor for each frame and moves TDT once, so the card's transmit engine
     * runs once for the lot (Linux's {@code xmit_more}, DPDK's {@code tx_burst}). A burst larger than
     * the free ring moves TDT when the ring fills and goes on with what the card has finished.
     * Returns how many frames the ring took; the rest stay with the caller. Empty frames are dropped,
     * counted and freed, and count as taken.
     */
    @Override
    public int transmit(Mbuf[] frames, int offset, int count) {
        if (closed || count == 0) {
            return 0;
        }
        int taken = 0;
        int kicked = -1;   // the tail last written to TDT during this burst
        txLock.lock();
        try {
            if (closed || (card.read(STATUS) & STATUS_LU) == 0) {
                return 0;
            }
            reclaimLocked();
            while (taken < count) {
                Mbuf frame = frames[offset + taken];
                if (frame.length() == 0) {
                    count(Drop.EMPTY_FRAME);
                    frame.free();
                } else if (!fillLocked(frame)) {
                    // a burst larger than the free ring: hand the card what is filled, take back
                    // what it finished, and go on; stop when the card has not freed anything
                    if (kicked == txTail) {
                        break;
                    }
                    card.write(TDT, txTail);
                    kicked = txTail;
                    reclaimLocked();
                    continue;
                }
                taken++;
            }
            if (taken > 0 && kicked != txTail) {
                card.write(TDT, txTail);
            }
            return taken;
        } finally {
            txLock.unlock();
        }
    }

    /**
     * Fills the descriptor at txTail (and a context descriptor before it when the frame needs
     * another checksum context) and moves txTail past it; false when the ring has no room, with
     * nothing changed. TDT is left to the caller.
     */
    private boolean fillLocked(Mbuf frame) {
        int context = config.checksumOffload() ? offloadContext(frame) : NO_OFFLOAD;
        boolean loadContext = context != NO_OFFLOAD && context != loadedContext;
        int free = transmitRingSize - 1 - Math.floorMod(txTail - txClean, transmitRingSize);
        if (free < (loadContext ? 2 : 1)) {
            return false;
        }
        if (loadContext) {
            writeContext(context);
            transmitMbufs[txTail] = null;
            txTail = (txTail + 1) % transmitRingSize;
            loadedContext = context;
        }
        transmitDescriptor.wrap(memory, descriptor(transmitRing, txTail));
        int command = TransmitDescriptor.CMD_EOP | TransmitDescriptor.CMD_IFCS | TransmitDescriptor.CMD_RS;
        if (context != NO_OFFLOAD) {
            seedChecksums(frame, context);
            int popts = TransmitDescriptor.POPTS_IXSM | (isUdp(context) ? TransmitDescriptor.POPTS_TXSM : 0);
            transmitDescriptor.data(frame.dataAddress(), frame.length(), command, popts);
        } else {
            transmitDescriptor.legacy(frame.dataAddress(), frame.length(), command, 0, 0);
        }
        transmitMbufs[txTail] = frame;
        txTail = (txTail + 1) % transmitRingSize;
        return true;
    }

    /** Frees the mbufs of descriptors the card has finished (DD set); returns how many. */
    public int reclaimTransmitted() {
        txLock.lock();
        try {
            return reclaimLocked();
        } finally {
            txLock.unlock();
        }
    }

    private int reclaimLocked() {
        int reclaimed = 0;
        while (txClean != txTail) {
            long at = descriptor(transmitRing, txClean);
            if ((memory.read32Acquire(at + TransmitDescriptor.STATUS) & TransmitDescriptor.STATUS_DD) == 0) {
                break;   // the card still owns it, and everything after it
            }
            Mbuf done = transmitMbufs[txClean];
            if (done != null) {
                transmitMbufs[txClean] = null;
                done.free();
                reclaimed++;
            }
            txClean = (txClean + 1) % transmitRingSize;
        }
        return reclaimed;
    }

    /** Transmit descriptors filled and not yet reclaimed. */
    public int transmitInFlight() {
        txLock.lock();
        try {
            return Math.floorMod(txTail - txClean, transmitRingSize);
        } finally {
            txLock.unlock();
        }
    }

    // --- checksum offload ------------------------------------------------------------------------

    /**
     * The checksum context a frame needs, packed as {@code ipHeaderLength | udp << 8}, or NO_OFFLOAD
     * for frames that are not IPv4. Frames with the same context reuse the one the card holds. A UDP
     * datagram the stack sent without a checksum gets the IPv4 header's only: its 0 stays on the wire.
     */
    private static int offloadContext(Mbuf frame) {
        ByteBuffer bytes = frame.buffer();
        int at = frame.head();
        int length = frame.length();
        if (length < ETHERNET_HEADER + 20 || (bytes.getShort(at + 12) & 0xffff) != ETHERTYPE_IPV4) {
            return NO_OFFLOAD;
        }
        int versionAndLength = bytes.get(at + ETHERNET_HEADER) & 0xff;
        int headerLength = (versionAndLength & 0x0f) * 4;
        if ((versionAndLength >>> 4) != 4 || headerLength < 20 || ETHERNET_HEADER + headerLength > length) {
            return NO_OFFLOAD;
        }
        boolean fragment = (bytes.getShort(at + ETHERNET_HEADER + 6) & 0x3fff) != 0;
        boolean udp = !fragment && (bytes.get(at + ETHERNET_HEADER + 9) & 0xff) == IP_PROTOCOL_UDP
                && ETHERNET_HEADER + headerLength + 8 <= length && !frame.withoutTransportChecksum;
        return headerLength | (udp ? 1 << 8 : 0);
    }

    private static boolean isUdp(int context) {
        return (context & (1 << 8)) != 0;
    }

    private void writeContext(int context) {
        int headerLength = context & 0xff;
        int transportStart = ETHERNET_HEADER + headerLength;
        transmitDescriptor.wrap(memory, descriptor(transmitRing, txTail)).context(
                ETHERNET_HEADER, ETHERNET_HEADER + 10, ETHERNET_HEADER + headerLength - 1,
                transportStart, transportStart + 6, 0,
                TransmitDescriptor.TUCMD_IP | TransmitDescriptor.CMD_RS);   // UDP: TUCMD.TCP clear
    }

    /**
     * The card sums whatever lies in the checksum fields (§3.3.5): the IPv4 header checksum must be
     * 0 and the UDP checksum must hold the pseudo-header sum, which the card cannot know.
     */
    private static void seedChecksums(Mbuf frame, int context) {
        ByteBuffer bytes = frame.buffer();
        int ip = frame.head() + ETHERNET_HEADER;
        bytes.putShort(ip + 10, (short) 0);
        if (isUdp(context)) {
            int udp = ip + (context & 0xff);
            int udpLength = bytes.getShort(udp + 4) & 0xffff;
            long pseudo = InternetChecksum.pseudoHeader(bytes.getInt(ip + 12), bytes.getInt(ip + 16),
                    IP_PROTOCOL_UDP, udpLength);
            bytes.putShort(udp + 6, (short) (~InternetChecksum.finish(pseudo)));   // folded, not complemented
        }
    }

    // =============================================================================================
    // Receive
    // =============================================================================================

    @Override
    public int receive(FrameSink sink, int budget) {
        if (closed) {
            return 0;
        }
        int delivered = 0;
        int processed = 0;
        int index = rxNext;
        while (delivered < budget && processed < receiveRingSize - 1) {
            long at = descriptor(receiveRing, index);
            int statusWord = memory.read32Acquire(at + ReceiveDescriptor.STATUS);
            if ((statusWord & ReceiveDescriptor.STATUS_DD) == 0) {
                break;
            }
            int length = memory.read16le(at + ReceiveDescriptor.LENGTH);
            int errors = (statusWord >>> 8) & 0xff;
            boolean endOfPacket = (statusWord & ReceiveDescriptor.STATUS_EOP) != 0;
            Mbuf handUp = null;
            if (discarding || !endOfPacket) {
                count(Drop.MULTI_BUFFER);   // larger than one mbuf: drop every piece up to EOP
                discarding = !endOfPacket;
            } else if (errors != 0 || length > Mbuf.SIZE) {
                count(Drop.RECEIVE_ERROR);
            } else {
                Mbuf fresh = pool.allocate(0);
                if (fresh == null) {
                    count(Drop.NO_BUFFER);   // keep the old buffer in the ring; the frame is lost
                } else {
                    handUp = receiveMbufs[index];
                    receiveMbufs[index] = fresh;   // into the descriptor at the next refill
                }
            }
            index = (index + 1) % receiveRingSize;
            RX_NEXT.setOpaque(this, index);
            processed++;
            if (Math.floorMod(rxNext - rxTail - 1, receiveRingSize) >= refillInterval) {
                // give descriptors back during a long batch, before handing the frame up: a peer that
                // answers each frame at once would otherwise find the ring used up while we still
                // hold freed descriptors, and the card would miss frames (Linux's e1000 writes RDT
                // every 16 buffers for the same reason)
                refill();
            }
            if (handUp != null) {
                handUp.setData(0, length);
                sink.accept(handUp);
                delivered++;
            }
        }
        return delivered;
    }

    /**
     * The descriptor the next {@link #receive} looks at, done or not: one acquire load of a line the
     * card writes, where a receive call that finds nothing costs the pipeline's lock as well. The
     * poller reads {@code rxNext} without the lock; an old value names a descriptor already taken,
     * whose DD stays set until the next refill (a true that finds nothing) or was cleared by it (a
     * false, and the poller looks again).
     */
    @Override
    public boolean receivePending() {
        if (closed) {
            return false;
        }
        int next = (int) RX_NEXT.getOpaque(this);
        return (memory.read32Acquire(descriptor(receiveRing, next) + ReceiveDescriptor.STATUS) & ReceiveDescriptor.STATUS_DD) != 0;
    }

    /**
     * Hands the descriptors taken since the last refill back to the card: each gets its buffer's
     * address and a cleared status, then RDT moves once. Fewer than {@link #refillInterval} wait
     * for the next one, also between batches (as Linux's e1000 does within one): a descriptor is a
     * quarter of a cache line the card writes next, and writing it back at once made the line, and
     * the one holding RDH and RDT, cross between the cores on every frame of a ping-pong.
     */
    private void refill() {
        for (int index = (rxTail + 1) % receiveRingSize; index != rxNext; index = (index + 1) % receiveRingSize) {
            long at = descriptor(receiveRing, index);
            memory.write64le(at + ReceiveDescriptor.ADDRESS, receiveMbufs[index].address());
            memory.write64Release(at + ReceiveDescriptor.LENGTH, 0L);   // status cleared: empty again
        }
        rxTail = (rxNext - 1 + receiveRingSize) % receiveRingSize;
        card.write(RDT, rxTail);
    }

    /**
     * Interrupt mode: sleeps until the card asserts its interrupt, then reads ICR (which clears it,
     * deasserting the line) and returns true.
     *
     * <p>Busy-poll mode runs with interrupts masked; a poller that found the ring empty and wants to
     * sleep calls this, and the driver does what Linux's NAPI does when a poll comes up empty: it
     * unmasks the receive interrupt for the wait and masks it again after. Causes the card latched
     * while masked are cleared first and the ring is checked once more, so a frame that arrived
     * before the unmask is not slept through: it either is in the ring at that check, or it raised
     * its cause after the clear, and the unmask then asserts the line at once.
     */
    @Override
    public boolean awaitReceive(long timeoutNanos) throws InterruptedException {
        if (closed) {
            return false;
        }
        if (config.busyPoll()) {
            card.read(ICR);   // drop causes latched while masked (nothing reads ICR while polling)
            if (frameWaiting()) {
                return true;
            }
            return awaitUnmasked(ICR_RXT0 | ICR_RXO, timeoutNanos, false);
        }
        boolean asserted = line.await(timeoutNanos);
        if (closed) {
            return false;
        }
        if (asserted) {
            card.read(ICR);
        }
        return asserted;
    }

    @Override
    public boolean canAwaitReceiveBeside() {
        return !config.busyPoll();
    }

    /** Interrupt mode: the wait of {@link #awaitReceive} for one more thread; reads ICR when woken by it. */
    @Override
    public int awaitReceiveBeside(long timeoutNanos) {
        if (closed || config.busyPoll()) {
            return NOT_WAITING;
        }
        int woken = line.awaitBeside(timeoutNanos);
        if (woken > 0 && !closed) {
            card.read(ICR);   // the causes are this thread's now; the receive thread, woken too, finds none
        }
        return woken;
    }

    @Override
    public void wakeReceiver() {
        line.wakeUp();
    }

    /**
     * Busy-poll mode, while application threads poll the ring: the stack's receive thread sleeps here
     * until the card raises RXDMT0 (the descriptors it owns fell to the RCTL.RDMTS threshold, half the
     * ring: the pollers are falling behind or stopped) or RXO (it lost a frame), the timeout passes or
     * the thread is unparked. It is the unmask-for-the-wait of {@link #awaitReceive} with the backlog
     * causes in place of the per-frame one, so a stream the pollers keep up with never wakes it.
     * Returns true for a backlog.
     */
    @Override
    public boolean awaitBacklog(long timeoutNanos) throws InterruptedException {
        if (closed || !config.busyPoll()) {
            return NetDevice.super.awaitBacklog(timeoutNanos);
        }
        card.read(ICR);   // drop causes latched while masked
        if (backlogged()) {
            return true;
        }
        return awaitUnmasked(ICR_RXDMT0 | ICR_RXO, timeoutNanos, true);
    }

    /**
     * Busy-poll mode: unmasks {@code causes} for one wait on the interrupt line and masks everything
     * again after, dropping what was latched meanwhile. {@code anyWakeUp}: also return when the thread
     * is unparked for another reason.
     */
    private boolean awaitUnmasked(int causes, long timeoutNanos, boolean anyWakeUp) throws InterruptedException {
        card.write(IMS, causes);
        try {
            return (anyWakeUp ? line.awaitWakeUp(timeoutNanos) : line.await(timeoutNanos)) && !closed;
        } finally {
            card.write(IMC, 0xffff_ffff);
            card.read(ICR);
        }
    }

    /** True when the descriptors the card owns (RDH up to RDT) are down to the RXDMT0 threshold. */
    private boolean backlogged() {
        int owned = Math.floorMod(card.read(RDT) - card.read(RDH), receiveRingSize);
        return owned <= receiveRingSize >> 1;   // RCTL_RDMTS_HALF
    }

    /**
     * True when the card has filled a descriptor the driver has not taken: RDH moved past the next
     * one the driver looks at. The waiting thread may not be the one that polls, so it may see an
     * older position, which can only make this true (a wake-up that finds nothing), never hide a frame.
     */
    private boolean frameWaiting() {
        return card.read(RDH) != rxNext;
    }

    // =============================================================================================
    // Shutdown
    // =============================================================================================

    /** Stops the card's receiver and transmitter and returns every mbuf the rings hold to the pool. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        card.write(IMC, 0xffff_ffff);
        card.write(RCTL, 0);
        card.write(TCTL, 0);
        line.wakeUp();
        txLock.lock();
        try {
            for (int i = 0; i < transmitRingSize; i++) {
                if (transmitMbufs[i] != null) {
                    transmitMbufs[i].free();
                    transmitMbufs[i] = null;
                }
            }
        } finally {
            txLock.unlock();
        }
        for (int i = 0; i < receiveRingSize; i++) {
            if (receiveMbufs[i] != null) {
                receiveMbufs[i].free();
                receiveMbufs[i] = null;
            }
        }
    }

    private void count(Drop reason) {
        drops.incrementAndGet(reason.ordinal());
    }

    /** Frames the driver dropped for {@code reason}. */
    public long drops(Drop reason) {
        return drops.get(reason.ordinal());
    }

    @Override
    public String toString() {
        return "E1000Driver[" + config.name() + " " + mac + "]";
    }
}
