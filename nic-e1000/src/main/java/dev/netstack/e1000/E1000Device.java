package dev.netstack.e1000;

import static dev.netstack.e1000.E1000Registers.*;

import dev.netstack.buffer.DmaFault;
import dev.netstack.buffer.DmaMemory;
import dev.netstack.concurrent.SpinLock;
import dev.netstack.link.FramePort;
import dev.netstack.link.LinkEndpoint;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.MacAddress;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.zip.CRC32;

/**
 * An emulated Intel 82540EM ("E1000") Gigabit Ethernet controller: the register file, the receive
 * and transmit DMA engines, statistics and interrupts, as the 8254x Software Developer's Manual
 * describes them (§3.2-3.4, §13). A driver talks to it only through 32-bit {@link #read}/{@link
 * #write} of registers and through descriptors and buffers in {@link DmaMemory}; the wire side is a
 * {@link LinkEndpoint} to plug into a cable or switch.
 *
 * <pre>
 *   driver ── write(TDT) ──▶ transmit engine: TDH→TDT, DMA-read buffers ──▶ peer.receiveFrame()
 *   peer ── receiveFrame() ──▶ filter (RAL/RAH, MTA, BAM) ──▶ DMA-write at RDH, DD|EOP, RDH++
 *                                                   └──▶ ICR |= RXT0 ──▶ InterruptLine
 * </pre>
 *
 * <h2>Threads and locks</h2>
 * Transmit runs on the thread that writes TDT, holding only the TX lock, and hands the frame to
 * the peer with that lock held. Receive runs on the peer's sending thread holding only the RX lock
 * and never takes the TX lock, so two cards on a cable cannot deadlock (A.tx → B.rx and B.tx →
 * A.rx, never rx → tx). The RX and TX locks are {@link SpinLock}s: releasing one does not wait
 * for the frame just written into the peer's ring to reach the core that reads it. ICR and IMS
 * are atomics; the interrupt line reads them live. Timers (RDTR/RADV/TIDV/ITR) sit behind a
 * third, leaf lock.
 *
 * <h2>Bad drivers</h2>
 * No register access throws. A ring of bad length, outside memory, a head or tail past the ring,
 * a buffer outside memory, a zero-length or unknown descriptor, a chain without EOP or an oversize
 * frame is counted by {@link E1000Error} reason and the operation abandoned; the engine does at
 * most one ring's worth of work per register write. CTRL.RST brings the card back.
 */
public final class E1000Device implements LinkEndpoint {
    /** A source of nanosecond time, replaceable in tests to drive the interrupt timers by hand. */
    @FunctionalInterface
    public interface Clock {
        long nanoTime();
    }

    /** The real monotonic clock; with it the card runs its own timer thread when delays are set. */
    public static final Clock SYSTEM_CLOCK = System::nanoTime;

    /** Largest frame the transmit engine assembles, without FCS. */
    public static final int MAX_TRANSMIT_FRAME = 16288;
    /** Shortest frame on the wire without FCS; TCTL.PSP pads up to it. */
    public static final int MIN_FRAME = 60;
    /** Ethernet frame check sequence length. */
    public static final int FCS_LENGTH = 4;
    private static final int ETHERNET_HEADER = 14;
    /** Longest frame accepted without RCTL.LPE, FCS included (1518 plus a VLAN tag). */
    private static final int MAX_STANDARD_FRAME = 1522;
    /** Longest frame accepted with RCTL.LPE, FCS included. */
    private static final int MAX_LONG_FRAME = 16384;
    /** Delay timers tick in 1.024 µs units; ITR in 256 ns units. */
    private static final long DELAY_UNIT_NANOS = 1024;
    private static final long ITR_UNIT_NANOS = 256;
    private static final long NEVER = Long.MAX_VALUE;

    private static final int EERD_START = 1 << 0;
    private static final int EERD_DONE = 1 << 4;
    private static final int EERD_ADDR_SHIFT = 8;
    private static final int EERD_DATA_SHIFT = 16;

    private static final VarHandle REGISTER = MethodHandles.arrayElementVarHandle(int[].class);
    private static final int STATISTICS = (STATISTICS_END - STATISTICS_START) / 4;

    private final DmaMemory memory;
    private final MacAddress mac;
    private final Clock clock;
    private final InterruptLine line = new InterruptLine(this);

    /** Plain registers, read and written with volatile semantics; special ones are handled in read/write. */
    private final int[] registers = new int[REGISTER_SPACE / 4];
    private final AtomicInteger icr = new AtomicInteger();
    private final AtomicInteger ims = new AtomicInteger();

    private final SpinLock rxLock = new SpinLock();
    private final SpinLock txLock = new SpinLock();
    private final Object timerLock = new Object();

    private volatile FramePort peer;

    // --- statistics: cumulative counts (what metrics report), and each count as it stood when its
    //     register was last cleared, by a read or a reset: the register shows the difference, so a
    //     frame adds to one array only. Guarded by rxLock for receive counters and txLock for
    //     transmit counters (see isTransmitStatistic) -------------------------------------------------
    private final long[] statisticTotals = new long[STATISTIC_SLOTS];
    private final long[] statisticsClearedAt = new long[STATISTIC_SLOTS];
    private final AtomicLongArray errors = new AtomicLongArray(E1000Error.values().length);

    // --- receive state, guarded by rxLock --------------------------------------------------------
    private final CRC32 receiveCrc = new CRC32();

    // --- transmit state, guarded by txLock -------------------------------------------------------
    private final ByteBuffer transmitFifo = ByteBuffer.allocate(MAX_TRANSMIT_FRAME).order(ByteOrder.BIG_ENDIAN);
    /** All of guest memory, for frames the peer reads in place ({@link #transmitInPlace}); its window is set per frame. */
    private final ByteBuffer guestMemory;
    private int frameLength;
    private int frameDescriptors;
    private boolean frameBad;
    private int frameCommand;      // command bits of the frame's first descriptor
    private int frameChecksumOptions;   // POPTS of the first data descriptor
    private int frameLegacyCso;
    private int frameLegacyCss;
    private boolean frameLegacy;
    private boolean frameStarted;
    private int contextIpcss, contextIpcso, contextIpcse, contextTucss, contextTucso, contextTucse, contextTucmd;
    private boolean transmitOnTailWrite = true;

    // --- timers, guarded by timerLock --------------------------------------------------------------
    private long rxPacketDeadline = NEVER;
    private long rxAbsoluteDeadline = NEVER;
    private long txDelayDeadline = NEVER;
    private volatile long throttleUntil;
    private volatile boolean throttlePending;
    private volatile boolean timersArmed;
    private Thread timerThread;     // guarded by timerLock
    private volatile long timerWakeAt = NEVER;
    private volatile boolean poweredOff;

    /** A card over {@code memory} with {@code mac} in its EEPROM, on the real clock. */
    public E1000Device(DmaMemory memory, MacAddress mac) {
        this(memory, mac, SYSTEM_CLOCK);
    }

    /** A card whose interrupt delay timers run on {@code clock}; with a non-system clock call {@link #tick()}. */
    public E1000Device(DmaMemory memory, MacAddress mac, Clock clock) {
        this.memory = memory;
        this.mac = mac;
        this.clock = clock;
        this.guestMemory = memory.view(0, memory.size());
        txLock.lock();
        rxLock.lock();
        try {
            resetLocked();
        } finally {
            rxLock.unlock();
            txLock.unlock();
        }
    }

    /** The wire side of the card: plug it into a {@code VirtualCable} or switch. */
    public LinkEndpoint port() {
        return this;
    }

    /** The MAC address in the card's EEPROM. */
    public MacAddress macAddress() {
        return mac;
    }

    /** The guest memory the card does DMA to. */
    public DmaMemory memory() {
        return memory;
    }

    /** The interrupt pin. */
    public InterruptLine interruptLine() {
        return line;
    }

    /** True while {@code (ICR & IMS) != 0} and interrupt throttling (ITR) lets the pin assert. */
    public boolean interruptAsserted() {
        if ((icr.get() & ims.get()) == 0) {
            return false;
        }
        return !throttlePending || clock.nanoTime() - throttleUntil >= 0;
    }

    // =============================================================================================
    // Link
    // =============================================================================================

    @Override
    public void attach(FramePort peer) {
        boolean changed = (this.peer == null) != (peer == null);
        this.peer = peer;
        if (changed) {
            raise(ICR_LSC);   // cable plugged or pulled: link status change (§13.4.17)
        }
    }

    private boolean linkUp() {
        return peer != null && !poweredOff;
    }

    // =============================================================================================
    // Register file
    // =============================================================================================

    /** A 32-bit register read at {@code offset}; never throws. */
    public int read(int offset) {
        if ((offset & 3) != 0 || offset < 0 || offset >= REGISTER_SPACE) {
            countError(E1000Error.BAD_REGISTER);
            return 0;
        }
        try {
            switch (offset) {
                case STATUS:
                    return linkUp() ? STATUS_FD | STATUS_LU | STATUS_SPEED_1000 : STATUS_FD;
                case ICR:
                    return readInterruptCause();
                case IMS:
                    return ims.get();
                case ICS:
                case IMC:
                    return 0;   // write-only
                default:
                    if (offset >= STATISTICS_START && offset < STATISTICS_END) {
                        return readStatistic(offset);
                    }
                    return register(offset);
            }
        } catch (RuntimeException e) {
            countError(E1000Error.INTERNAL);
            return 0;
        }
    }

    /** A 32-bit register write of {@code value} at {@code offset}, with its side effects; never throws. */
    public void write(int offset, int value) {
        if ((offset & 3) != 0 || offset < 0 || offset >= REGISTER_SPACE) {
            countError(E1000Error.BAD_REGISTER);
            return;
        }
        try {
            writeRegister(offset, value);
        } catch (RuntimeException e) {
            countError(E1000Error.INTERNAL);
        }
    }

    private void writeRegister(int offset, int value) {
        switch (offset) {
            case CTRL:
                if ((value & CTRL_RST) != 0) {
                    reset();
                } else {
                    setRegister(CTRL, value & ~CTRL_PHY_RST);
                }
                return;
            case STATUS:
                return;   // read-only
            case EERD:
                setRegister(EERD, eepromRead(value));
                return;
            case ICR:
                clearInterruptCause(value);   // writing 1s clears, like a read would
                return;
            case ICS:
                raise(value & ICR_ALL);
                return;
            case IMS:
                ims.getAndAccumulate(value & ICR_ALL, (a, b) -> a | b);
                line.signal();
                return;
            case IMC:
                ims.getAndAccumulate(value, (a, b) -> a & ~b);
                return;
            case ITR:
                setRegister(ITR, value & 0xffff);
                return;
            case RCTL: case RDBAL: case RDBAH: case RDLEN: case RADV: case RSRPD:
                writeReceiveRegister(offset, value);
                return;
            case RDH:
                writeReceiveRegister(offset, value & 0xffff);
                return;
            case RDT:
                // No lock: the receive path reads RDT once per frame, and a tail that moves on while
                // a frame is written only frees more descriptors. The volatile store publishes the
                // buffer addresses the driver wrote before it. (Taking the RX lock here made the
                // driver's every RDT write contend with the peer's DMA into the ring.)
                setRegister(RDT, value & 0xffff);
                return;
            case RDTR:
                writeReceiveRegister(offset, value & 0xffff);
                if ((value & RDTR_FPD) != 0) {
                    flushReceiveTimer();
                }
                return;
            case TCTL: case TDT:
                txLock.lock();
                try {
                    setRegister(offset, offset == TDT ? value & 0xffff : value);
                    if (transmitOnTailWrite) {
                        transmitLocked();
                    }
                } finally {
                    txLock.unlock();
                }
                return;
            case TDBAL: case TDBAH: case TDLEN: case TDH: case TIDV: case TADV: case TIPG:
                txLock.lock();
                try {
                    setRegister(offset, offset == TDH ? value & 0xffff : value);
                } finally {
                    txLock.unlock();
                }
                return;
            default:
                if (offset >= STATISTICS_START && offset < STATISTICS_END) {
                    return;   // statistics are read-only
                }
                if (offset >= MTA && offset < RAL + 8 * RECEIVE_ADDRESSES) {
                    writeReceiveRegister(offset, value);   // filters are read by the receive path
                    return;
                }
                setRegister(offset, value);
        }
    }

    private void writeReceiveRegister(int offset, int value) {
        rxLock.lock();
        try {
            setRegister(offset, value);
        } finally {
            rxLock.unlock();
        }
    }

    private int register(int offset) {
        return (int) REGISTER.getVolatile(registers, offset >>> 2);
    }

    private void setRegister(int offset, int value) {
        REGISTER.setVolatile(registers, offset >>> 2, value);
    }

    /**
     * For the head registers the engines move on every descriptor: a release store publishes the
     * descriptor write-back before it like a volatile one, without the full fence (on x86 a plain
     * store) that made the sender wait for each frame's stores to reach the other core. Whoever needs
     * a head to be current reads it after an atomic (ICR) or under the engine's lock.
     */
    private void setRegisterRelease(int offset, int value) {
        REGISTER.setRelease(registers, offset >>> 2, value);
    }

    private int eepromRead(int value) {
        if ((value & EERD_START) == 0) {
            return value & ~EERD_DONE;
        }
        int word = (value >>> EERD_ADDR_SHIFT) & 0xff;
        int data = 0;
        if (word < 3) {   // words 0-2: the Ethernet address, low octet first (§5.6.1)
            long bits = mac.bits();
            int first = (int) (bits >>> (40 - 16 * word)) & 0xff;
            int second = (int) (bits >>> (32 - 16 * word)) & 0xff;
            data = first | second << 8;
        }
        return (value & 0xff00) | EERD_DONE | data << EERD_DATA_SHIFT;
    }

    // --- reset -----------------------------------------------------------------------------------

    private void reset() {
        // TX before RX: the same order the transmit path takes them (own TX, then a peer's RX)
        txLock.lock();
        rxLock.lock();
        try {
            resetLocked();
        } finally {
            rxLock.unlock();
            txLock.unlock();
        }
    }

    private void resetLocked() {
        java.util.Arrays.fill(registers, 0);
        // the registers read 0 again; the cumulative totals survive, as they feed metrics
        System.arraycopy(statisticTotals, 0, statisticsClearedAt, 0, STATISTIC_SLOTS);
        ims.set(0);
        icr.set(0);
        setRegister(CTRL, CTRL_FD | CTRL_SPEED_1000 | CTRL_ASDE);
        // The EEPROM's Ethernet address is loaded into receive address 0 at reset (§5.6.1)
        long bits = mac.bits();
        setRegister(ral(0), (int) ((bits >>> 40) & 0xff | ((bits >>> 32) & 0xff) << 8
                | ((bits >>> 24) & 0xff) << 16 | ((bits >>> 16) & 0xff) << 24));
        setRegister(rah(0), (int) ((bits >>> 8) & 0xff | (bits & 0xff) << 8) | RAH_AV);
        discardFrame();
        contextIpcss = contextIpcso = contextIpcse = contextTucss = contextTucso = contextTucse = contextTucmd = 0;
        synchronized (timerLock) {
            rxPacketDeadline = rxAbsoluteDeadline = txDelayDeadline = NEVER;
            throttlePending = false;
            timersArmed = false;
        }
    }

    // =============================================================================================
    // Interrupts
    // =============================================================================================

    /** Sets cause bits in ICR and wakes the driver when one of them is unmasked. */
    void raise(int causes) {
        if (causes == 0) {
            return;
        }
        // Causes already pending need no atomic update (in busy-poll mode nothing reads ICR, so
        // after the first frame every raise is this one plain read)
        if ((icr.get() & causes) != causes) {
            icr.getAndAccumulate(causes, (a, b) -> a | b);
        }
        if ((causes & ims.get()) != 0) {
            line.signal();
        }
    }

    private int readInterruptCause() {
        if (timersArmed) {
            tick();
        }
        int causes = icr.getAndSet(0);
        int itr = register(ITR);
        if (itr != 0 && (causes & ims.get()) != 0) {
            // The driver took an interrupt: the next one may not assert before ITR has passed.
            long until = clock.nanoTime() + itr * ITR_UNIT_NANOS;
            throttleUntil = until;
            throttlePending = true;
            arm(until);
        }
        return causes;
    }

    private void clearInterruptCause(int bits) {
        icr.getAndAccumulate(bits, (a, b) -> a & ~b);
    }

    // --- timers (RDTR, RADV, TIDV, ITR) ------------------------------------------------------------

    /**
     * Fires every delay timer whose deadline has passed on the card's clock. The card calls it
     * itself (from its timer thread on the system clock, and on ICR reads); a test with a manual
     * clock calls it after advancing time.
     */
    public void tick() {
        int fire = 0;
        long now = clock.nanoTime();
        synchronized (timerLock) {
            if (rxPacketDeadline - now <= 0 || rxAbsoluteDeadline - now <= 0) {
                if (rxPacketDeadline != NEVER || rxAbsoluteDeadline != NEVER) {
                    fire |= ICR_RXT0;
                }
                rxPacketDeadline = rxAbsoluteDeadline = NEVER;
            }
            if (txDelayDeadline != NEVER && txDelayDeadline - now <= 0) {
                fire |= ICR_TXDW;
                txDelayDeadline = NEVER;
            }
            if (throttlePending && now - throttleUntil >= 0) {
                throttlePending = false;
                line.signal();   // held-back causes may assert now
            }
            timersArmed = rxPacketDeadline != NEVER || rxAbsoluteDeadline != NEVER
                    || txDelayDeadline != NEVER || throttlePending;
        }
        raise(fire);
    }

    /** Earliest pending deadline, or NEVER. */
    private long nextDeadline() {
        synchronized (timerLock) {
            long next = Math.min(rxPacketDeadline, Math.min(rxAbsoluteDeadline, txDelayDeadline));
            return throttlePending ? Math.min(next, throttleUntil) : next;
        }
    }

    /** Called after a deadline was set: make sure someone wakes up for it. */
    private void arm(long deadline) {
        timersArmed = true;
        if (clock != SYSTEM_CLOCK || poweredOff) {
            return;   // a manual clock is ticked by its owner
        }
        Thread thread;
        synchronized (timerLock) {
            if (timerThread == null) {
                timerThread = new Thread(this::runTimers, "e1000-timer-" + mac);
                timerThread.setDaemon(true);
                timerThread.start();
            }
            thread = timerThread;
        }
        if (deadline < timerWakeAt) {
            LockSupport.unpark(thread);   // only when it would otherwise sleep past the new deadline
        }
    }

    private void runTimers() {
        while (!poweredOff) {
            long next = nextDeadline();
            timerWakeAt = next;
            long wait = next == NEVER ? NEVER : next - clock.nanoTime();
            if (wait == NEVER) {
                LockSupport.park(this);
            } else if (wait > 0) {
                LockSupport.parkNanos(this, wait);
            }
            timerWakeAt = NEVER;
            tick();
        }
    }

    private void receiveInterrupt() {
        int rdtr = register(RDTR) & 0xffff;
        if (rdtr == 0) {
            raise(ICR_RXT0);   // no delay configured: interrupt per delivery
            return;
        }
        // RDTR restarts on every frame; RADV caps the total delay from the first frame (§3.2.7).
        int radv = register(RADV) & 0xffff;
        long now = clock.nanoTime();
        long deadline;
        synchronized (timerLock) {
            rxPacketDeadline = now + rdtr * DELAY_UNIT_NANOS;
            if (radv != 0 && rxAbsoluteDeadline == NEVER) {
                rxAbsoluteDeadline = now + radv * DELAY_UNIT_NANOS;
            }
            deadline = Math.min(rxPacketDeadline, rxAbsoluteDeadline);
        }
        arm(deadline);
    }

    private void flushReceiveTimer() {
        boolean pending;
        synchronized (timerLock) {
            pending = rxPacketDeadline != NEVER || rxAbsoluteDeadline != NEVER;
            rxPacketDeadline = rxAbsoluteDeadline = NEVER;
        }
        if (pending) {
            raise(ICR_RXT0);
        }
    }

    private void transmitInterrupt(boolean delayed) {
        int tidv = register(TIDV) & 0xffff;
        if (!delayed || tidv == 0) {
            raise(ICR_TXDW);
            return;
        }
        long deadline = clock.nanoTime() + tidv * DELAY_UNIT_NANOS;
        synchronized (timerLock) {
            txDelayDeadline = deadline;
        }
        arm(deadline);
    }

    /** Stops the card's timer thread, if any; the card no longer reports link. */
    public void powerOff() {
        poweredOff = true;
        Thread thread;
        synchronized (timerLock) {
            thread = timerThread;
        }
        if (thread != null) {
            LockSupport.unpark(thread);
        }
    }

    // =============================================================================================
    // Receive (§3.2)
    // =============================================================================================

    @Override
    public void receiveFrame(ByteBuffer frame) {
        // inside a peer's burst this thread holds the lock already (beginBurst), and taking it again
        // is no compare-and-set; the timers wait for the burst's end
        boolean inBurst = rxLock.isHeldByCurrentThread();
        rxLock.lock();
        int position = frame.position();
        int limit = frame.limit();
        try {
            receiveLocked(frame, position, limit - position);
        } catch (RuntimeException e) {
            countError(E1000Error.INTERNAL);   // never into the sender's thread
        } finally {
            frame.limit(limit).position(position);
            rxLock.unlock();
        }
        if (!inBurst && timersArmed) {
            tick();
        }
    }

    /**
     * A peer's transmit engine is about to deliver a burst: the receive lock is taken once for all
     * of it. Then no frame of the burst starts with a full fence (taking the lock is a
     * compare-and-set), so the stores that write each frame into the ring, to cache lines the
     * receiving core reads, drain while the next frames are written instead of the sender waiting
     * for each in turn.
     */
    @Override
    public void beginBurst() {
        rxLock.lock();
    }

    @Override
    public void endBurst() {
        rxLock.unlock();
        if (timersArmed) {
            tick();
        }
    }

    private void receiveLocked(ByteBuffer frame, int start, int length) {
        int rctl = register(RCTL);
        if ((rctl & RCTL_EN) == 0 || poweredOff) {
            return;   // receiver off: the frame never makes it into the FIFO
        }
        int wireLength = length + FCS_LENGTH;
        count(TPR, 1);
        count(TORL, wireLength);
        if (length < ETHERNET_HEADER) {
            count(RUC, 1);
            return;
        }
        if (wireLength > ((rctl & RCTL_LPE) != 0 ? MAX_LONG_FRAME : MAX_STANDARD_FRAME)) {
            count(ROC, 1);
            return;
        }
        long destination = MacAddress.read(frame, start);
        if (!accept(destination, rctl)) {
            return;
        }

        int ring = ringDescriptors(register(RDLEN));
        long base = ringBase(register(RDBAL), register(RDBAH));
        if (!ringUsable(ring, base)) {
            missed();
            return;
        }
        int head = register(RDH);
        int tail = register(RDT);
        if (head >= ring) {
            countError(E1000Error.HEAD_OUT_OF_RANGE);
            missed();
            return;
        }
        if (tail >= ring) {
            countError(E1000Error.TAIL_OUT_OF_RANGE);
            missed();
            return;
        }
        int bufferSize = receiveBufferSize(rctl);
        boolean stripCrc = (rctl & RCTL_SECRC) != 0;
        int stored = stripCrc ? length : wireLength;
        int needed = (stored + bufferSize - 1) / bufferSize;
        // Descriptors from RDH up to (not including) RDT belong to the card; RDH == RDT: none (§3.2.6)
        int free = Math.floorMod(tail - head, ring);
        if (free < needed) {
            missed();
            return;
        }
        int fcs = 0;
        if (!stripCrc) {
            receiveCrc.reset();
            receiveCrc.update(frame);   // consumes to the limit; receiveFrame restores position
            frame.position(start);
            fcs = (int) receiveCrc.getValue();
        }

        int written = 0;
        while (written < stored) {
            long descriptor = base + (long) head * ReceiveDescriptor.SIZE;
            int chunk = Math.min(bufferSize, stored - written);
            int errorBits = 0;
            try {
                long buffer = memory.read64le(descriptor + ReceiveDescriptor.ADDRESS);
                int fromFrame = Math.max(0, Math.min(chunk, length - written));
                if (fromFrame > 0) {
                    frame.limit(start + written + fromFrame).position(start + written);
                    memory.copyIn(buffer, frame);
                }
                for (int i = fromFrame; i < chunk; i++) {   // the FCS, little-endian as on the wire
                    int fcsByte = written + i - length;
                    memory.write8(buffer + i, fcs >>> (8 * fcsByte));
                }
            } catch (DmaFault fault) {
                countError(E1000Error.DMA_FAULT);
                errorBits = ReceiveDescriptor.ERROR_RXE;
            }
            written += chunk;
            boolean last = written == stored || errorBits != 0;
            int status = ReceiveDescriptor.STATUS_DD | (last ? ReceiveDescriptor.STATUS_EOP : 0);
            // status, length and errors in one ordered write: a driver that sees DD sees the rest
            memory.write64Release(descriptor + ReceiveDescriptor.LENGTH,
                    ReceiveDescriptor.upperHalf(errorBits != 0 ? 0 : chunk, 0, status, errorBits, 0));
            head = (head + 1) % ring;
            setRegisterRelease(RDH, head);
            if (errorBits != 0) {
                return;   // the driver sees one errored descriptor with EOP and drops it
            }
        }

        count(GPRC, 1);
        count(GORCL, wireLength);
        if (MacAddress.isBroadcast(destination)) {
            count(BPRC, 1);
        } else if (MacAddress.isMulticast(destination)) {
            count(MPRC, 1);
        }
        count(sizeBin(PRC64, wireLength), 1);

        int freeAfter = free - needed;
        int threshold = ring >> (1 + ((rctl & RCTL_RDMTS_MASK) >>> RCTL_RDMTS_SHIFT));
        if (freeAfter <= threshold && free > threshold) {
            raise(ICR_RXDMT0);   // crossing the minimum threshold: the driver is falling behind
        }
        receiveInterrupt();
    }

    /** A frame lost for want of descriptors: counted as missed and as no-buffer, RXO raised. */
    private void missed() {
        count(MPC, 1);
        count(RNBC, 1);
        raise(ICR_RXO);
    }

    /** Destination filtering (§3.2.1): exact match, then broadcast, multicast hash, promiscuous. */
    private boolean accept(long destination, int rctl) {
        int low = (int) ((destination >>> 40) & 0xff | ((destination >>> 32) & 0xff) << 8
                | ((destination >>> 24) & 0xff) << 16 | ((destination >>> 16) & 0xff) << 24);
        int high = (int) ((destination >>> 8) & 0xff | (destination & 0xff) << 8);
        for (int n = 0; n < RECEIVE_ADDRESSES; n++) {
            int rah = register(rah(n));
            if ((rah & RAH_AV) != 0 && register(ral(n)) == low && (rah & 0xffff) == high) {
                return true;
            }
        }
        if (MacAddress.isBroadcast(destination)) {
            return (rctl & (RCTL_BAM | RCTL_MPE)) != 0;
        }
        if (MacAddress.isMulticast(destination)) {
            if ((rctl & RCTL_MPE) != 0) {
                return true;
            }
            int hash = multicastHash(destination, (rctl & RCTL_MO_MASK) >>> RCTL_MO_SHIFT);
            return (register(MTA + 4 * (hash >>> 5)) & (1 << (hash & 31))) != 0;
        }
        return (rctl & RCTL_UPE) != 0;
    }

    /**
     * The 12-bit MTA index of a multicast address (§13.5.1): 12 bits of the address's last two
     * octets (address bits 47:32, octet 5 high), starting 4, 3, 2 or 0 bits up as RCTL.MO selects.
     */
    public static int multicastHash(long destination, int multicastOffset) {
        int topOctets = (int) (((destination & 0xff) << 8) | ((destination >>> 8) & 0xff));
        int shift = multicastOffset == 3 ? 0 : 4 - multicastOffset;
        return (topOctets >>> shift) & 0xfff;
    }

    // =============================================================================================
    // Transmit (§3.3)
    // =============================================================================================

    /**
     * Whether a TDT or TCTL write runs the transmit engine right away (the default). Tests of ring
     * ownership turn it off and call {@link #processTransmitRing()} to run the engine when they like,
     * which models a card that fetches descriptors some time after the tail moved.
     */
    public void transmitOnTailWrite(boolean enabled) {
        txLock.lock();
        try {
            transmitOnTailWrite = enabled;
        } finally {
            txLock.unlock();
        }
    }

    /** Runs the transmit engine once over TDH → TDT (at most one ring's worth). */
    public void processTransmitRing() {
        txLock.lock();
        try {
            transmitLocked();
        } catch (RuntimeException e) {
            countError(E1000Error.INTERNAL);
        } finally {
            txLock.unlock();
        }
    }

    private void transmitLocked() {
        if ((register(TCTL) & TCTL_EN) == 0 || poweredOff) {
            return;
        }
        int ring = ringDescriptors(register(TDLEN));
        long base = ringBase(register(TDBAL), register(TDBAH));
        if (!ringUsable(ring, base)) {
            return;
        }
        int head = register(TDH);
        int tail = register(TDT);
        if (head >= ring) {
            countError(E1000Error.HEAD_OUT_OF_RANGE);
            return;
        }
        if (tail >= ring) {
            countError(E1000Error.TAIL_OUT_OF_RANGE);
            return;
        }
        FramePort burstTo = Math.floorMod(tail - head, ring) > 1 && linkUp() ? peer : null;
        if (burstTo != null) {
            burstTo.beginBurst();
        }
        try {
            walkTransmitRing(ring, base, head, tail);
        } finally {
            if (burstTo != null) {
                burstTo.endBurst();
            }
        }
    }

    private void walkTransmitRing(int ring, long base, int head, int tail) {
        int processed = 0;
        boolean wroteBack = false;
        boolean delayInterrupt = true;
        // head != tail bounds the walk to ring - 1 descriptors: one ring's worth per register write
        while (head != tail) {
            long descriptor = base + (long) head * TransmitDescriptor.SIZE;
            long lower = memory.read64le(descriptor);
            long upper = memory.read64le(descriptor + TransmitDescriptor.LENGTH);
            int command = (int) (upper >>> 24) & 0xff;
            boolean endOfPacket;
            if (!frameStarted && transmitInPlace(lower, upper, command)) {
                endOfPacket = false;   // a whole frame in one buffer went straight from guest memory to the wire
            } else if ((command & TransmitDescriptor.CMD_DEXT) == 0) {
                endOfPacket = legacyDescriptor(lower, upper, command);
            } else {
                int type = (int) (upper >>> TransmitDescriptor.DTYP_SHIFT) & 0xf;
                if (type == TransmitDescriptor.DTYP_CONTEXT) {
                    loadContext(lower, command);
                    endOfPacket = false;
                } else if (type == TransmitDescriptor.DTYP_DATA) {
                    endOfPacket = dataDescriptor(lower, upper, command);
                } else {
                    countError(E1000Error.BAD_DESCRIPTOR);
                    endOfPacket = false;
                }
            }
            if (endOfPacket) {
                finishFrame();
            } else if (frameStarted && frameDescriptors >= ring - 1) {
                // a frame that has used the whole ring without EOP can never end well
                countError(E1000Error.MISSING_EOP);
                discardFrame();
            }
            if ((command & TransmitDescriptor.CMD_RS) != 0) {
                int statusWord = (int) (upper >>> 32);
                memory.write32Release(descriptor + TransmitDescriptor.STATUS, statusWord | TransmitDescriptor.STATUS_DD);
                wroteBack = true;
                delayInterrupt &= (command & TransmitDescriptor.CMD_IDE) != 0;
            }
            head = (head + 1) % ring;
            setRegisterRelease(TDH, head);
            processed++;
        }
        if (processed > 0) {
            raise(ICR_TXQE);   // the engine stops only when TDH reached TDT
            if (wroteBack) {
                transmitInterrupt(delayInterrupt);
            }
        }
    }

    /** A legacy descriptor; returns true when it ends a frame. */
    private boolean legacyDescriptor(long address, long upper, int command) {
        int length = (int) upper & 0xffff;
        if (!frameStarted) {
            frameStarted = true;
            frameLegacy = true;
            frameCommand = command;
            // Checksum fields are taken from the frame's first descriptor
            frameLegacyCso = (int) (upper >>> 16) & 0xff;
            frameLegacyCss = (int) (upper >>> 40) & 0xff;
        }
        appendFragment(address, length);
        return (command & TransmitDescriptor.CMD_EOP) != 0;
    }

    private boolean dataDescriptor(long address, long upper, int command) {
        int length = (int) upper & TransmitDescriptor.DTALEN_MASK;
        if (!frameStarted) {
            frameStarted = true;
            frameLegacy = false;
            frameCommand = command;
            frameChecksumOptions = (int) (upper >>> 40) & 0xff;   // POPTS counts in the first data descriptor
        }
        appendFragment(address, length);
        return (command & TransmitDescriptor.CMD_EOP) != 0;
    }

    private void loadContext(long lower, int tucmd) {
        contextIpcss = (int) lower & 0xff;
        contextIpcso = (int) (lower >>> 8) & 0xff;
        contextIpcse = (int) (lower >>> 16) & 0xffff;
        contextTucss = (int) (lower >>> 32) & 0xff;
        contextTucso = (int) (lower >>> 40) & 0xff;
        contextTucse = (int) (lower >>> 48) & 0xffff;
        contextTucmd = tucmd;
    }

    private void appendFragment(long address, int length) {
        frameDescriptors++;
        if (length == 0) {
            countError(E1000Error.ZERO_LENGTH);
            return;
        }
        if (frameBad) {
            return;
        }
        if (frameLength + length > MAX_TRANSMIT_FRAME) {
            countError(E1000Error.OVERSIZE);
            frameBad = true;
            return;
        }
        try {
            transmitFifo.limit(transmitFifo.capacity()).position(frameLength);
            memory.copyOut(address, transmitFifo, length);
            frameLength += length;
        } catch (DmaFault fault) {
            countError(E1000Error.DMA_FAULT);
            frameBad = true;
        }
    }

    /**
     * The common case, a frame in one buffer (EOP on its only descriptor) that needs no checksum
     * inserted and no padding: the peer reads it in place from guest memory, so the wire copy into
     * the peer's buffer is the hop's only copy (no staging in the transmit FIFO). Returns false,
     * having done nothing, for every other frame.
     */
    private boolean transmitInPlace(long address, long upper, int command) {
        if ((command & TransmitDescriptor.CMD_EOP) == 0) {
            return false;
        }
        int length;
        if ((command & TransmitDescriptor.CMD_DEXT) == 0) {
            if ((command & TransmitDescriptor.CMD_IC) != 0) {
                return false;
            }
            length = (int) upper & 0xffff;
        } else {
            int type = (int) (upper >>> TransmitDescriptor.DTYP_SHIFT) & 0xf;
            if (type != TransmitDescriptor.DTYP_DATA || ((int) (upper >>> 40) & 0xff) != 0) {
                return false;   // a context descriptor, or checksum options to apply
            }
            length = (int) upper & TransmitDescriptor.DTALEN_MASK;
        }
        if (length < MIN_FRAME || length > MAX_TRANSMIT_FRAME || !memory.contains(address, length)) {
            return false;   // padding, oversize and DMA faults take the FIFO path, which handles them
        }
        ByteBuffer frame = guestMemory;
        frame.limit((int) address + length).position((int) address);
        putOnWire(frame, (int) address, length);
        return true;
    }

    private void finishFrame() {
        if (frameBad || frameLength == 0) {
            discardFrame();
            return;
        }
        ByteBuffer frame = transmitFifo;
        if (frameLegacy) {
            if ((frameCommand & TransmitDescriptor.CMD_IC) != 0) {
                insertChecksum(frame, frameLegacyCss, frameLength - 1, frameLegacyCso, false);
            }
        } else {
            if ((frameChecksumOptions & TransmitDescriptor.POPTS_IXSM) != 0) {
                insertChecksum(frame, contextIpcss, contextIpcse == 0 ? frameLength - 1 : contextIpcse,
                        contextIpcso, false);
            }
            if ((frameChecksumOptions & TransmitDescriptor.POPTS_TXSM) != 0) {
                boolean udp = (contextTucmd & TransmitDescriptor.TUCMD_TCP) == 0;
                insertChecksum(frame, contextTucss, contextTucse == 0 ? frameLength - 1 : contextTucse,
                        contextTucso, udp);
            }
        }
        int length = frameLength;
        if ((register(TCTL) & TCTL_PSP) != 0 && length < MIN_FRAME) {
            for (int i = length; i < MIN_FRAME; i++) {
                frame.put(i, (byte) 0);
            }
            length = MIN_FRAME;
        }
        frame.limit(length).position(0);
        putOnWire(frame, 0, length);
        discardFrame();
    }

    /** Hands {@code frame} (position {@code start}, {@code length} bytes) to the peer and counts it sent. */
    private void putOnWire(ByteBuffer frame, int start, int length) {
        long destination = MacAddress.read(frame, start);   // before the peer: it may move the window
        FramePort p = linkUp() ? peer : null;
        if (p != null) {
            try {
                p.receiveFrame(frame);
            } catch (RuntimeException e) {
                countError(E1000Error.PEER_FAULT);
            }
        }
        int wireLength = length + FCS_LENGTH;
        count(GPTC, 1);
        count(TPT, 1);
        count(GOTCL, wireLength);
        count(TOTL, wireLength);
        if (MacAddress.isBroadcast(destination)) {
            count(BPTC, 1);
        } else if (MacAddress.isMulticast(destination)) {
            count(MPTC, 1);
        }
        count(sizeBin(PTC64, wireLength), 1);
    }

    /**
     * One's complement sum of bytes {@code start..end} (inclusive) stored at {@code at}. The field
     * itself lies inside the range, so it holds the seed the driver put there (0 for IPv4, the
     * pseudo-header sum for UDP/TCP, §3.3.5). A UDP result of 0 goes out as 0xFFFF (RFC 768).
     */
    private void insertChecksum(ByteBuffer frame, int start, int end, int at, boolean udp) {
        int last = Math.min(end, frameLength - 1);
        if (start > last || at + 2 > frameLength) {
            countError(E1000Error.BAD_DESCRIPTOR);
            return;
        }
        int checksum = InternetChecksum.compute(frame, start, last - start + 1);
        if (udp && checksum == 0) {
            checksum = 0xffff;
        }
        frame.putShort(at, (short) checksum);
    }

    private void discardFrame() {
        frameLength = 0;
        frameDescriptors = 0;
        frameBad = false;
        frameStarted = false;
        frameCommand = 0;
        frameChecksumOptions = 0;
    }

    // =============================================================================================
    // Rings
    // =============================================================================================

    /** Descriptors in a ring of {@code length} bytes, or -1 when RDLEN/TDLEN is invalid (§13.4.27). */
    private static int ringDescriptors(int length) {
        if (length <= 0 || (length & 127) != 0) {
            return -1;
        }
        return length / ReceiveDescriptor.SIZE;
    }

    private static long ringBase(int low, int high) {
        return ((long) high << 32) | (low & 0xffff_fff0L);   // descriptors are 16-byte aligned
    }

    private boolean ringUsable(int ring, long base) {
        if (ring < 0) {
            countError(E1000Error.RING_LENGTH);
            return false;
        }
        if (!memory.contains(base, (long) ring * ReceiveDescriptor.SIZE)) {
            countError(E1000Error.RING_ADDRESS);
            return false;
        }
        return true;
    }

    // =============================================================================================
    // Statistics (§13.7)
    // =============================================================================================

    private static int statisticIndex(int offset) {
        return STATISTIC_SLOT[(offset - STATISTICS_START) >>> 2];
    }

    /*
     * Where each statistic lives in the arrays: receive counters, then transmit counters, with 128
     * bytes of padding around and between them. The receive counters are written by the thread of
     * the peer's transmit engine and the transmit counters by this card's own, so a cache line
     * holding both (TPR and TPT are neighbours) crossed between the cores on every frame; and the
     * count at the start of a receive is a store that the frame's DD store has to wait behind.
     */
    private static final int STATISTIC_PAD = 16;
    private static final int[] STATISTIC_SLOT = new int[STATISTICS];
    private static final int STATISTIC_SLOTS = 3 * STATISTIC_PAD + 2 * STATISTICS;

    static {
        for (int i = 0; i < STATISTICS; i++) {
            boolean transmit = isTransmitStatistic(STATISTICS_START + 4 * i);
            STATISTIC_SLOT[i] = transmit ? 2 * STATISTIC_PAD + STATISTICS + i : STATISTIC_PAD + i;
        }
    }

    private static boolean isTransmitStatistic(int offset) {
        switch (offset) {
            case GPTC: case GOTCL: case GOTCH: case TOTL: case TOTH: case TPT: case MPTC: case BPTC:
            case PTC64: case PTC127: case PTC255: case PTC511: case PTC1023: case PTC1522:
            case SCC: case ECOL: case MCC: case LATECOL: case COLC: case DC: case TNCRS:
            case XONTXC: case XOFFTXC:
                return true;
            default:
                return false;
        }
    }

    /** The 64-bit statistics span two registers; their count lives at the low one. */
    private static boolean isHighHalf(int offset) {
        return offset == GORCH || offset == GOTCH || offset == TORH || offset == TOTH;
    }

    private static boolean isLowHalf(int offset) {
        return offset == GORCL || offset == GOTCL || offset == TORL || offset == TOTL;
    }

    /** Adds to a counter; the caller holds the lock of the counter's side. */
    private void count(int offset, long amount) {
        statisticTotals[statisticIndex(offset)] += amount;
    }

    /** A counter's register value: what it counted since its register was last cleared. */
    private long sinceCleared(int index) {
        return statisticTotals[index] - statisticsClearedAt[index];
    }

    private void clearStatistic(int index) {
        statisticsClearedAt[index] = statisticTotals[index];
    }

    private static int sizeBin(int first, int wireLength) {
        int bin = wireLength <= 64 ? 0 : wireLength <= 127 ? 1 : wireLength <= 255 ? 2
                : wireLength <= 511 ? 3 : wireLength <= 1023 ? 4 : 5;
        return first + 4 * bin;
    }

    private int readStatistic(int offset) {
        SpinLock lock = isTransmitStatistic(offset) ? txLock : rxLock;
        lock.lock();
        try {
            if (isLowHalf(offset)) {
                // Reading the low half leaves the count alone; reading the high half clears both
                return (int) sinceCleared(statisticIndex(offset));
            }
            if (isHighHalf(offset)) {
                int low = statisticIndex(offset - 4);
                int high = (int) (sinceCleared(low) >>> 32);
                clearStatistic(low);
                return high;
            }
            int index = statisticIndex(offset);
            long value = sinceCleared(index);
            clearStatistic(index);
            return (int) Math.min(value, 0xffff_ffffL);   // 32-bit counters stick at all ones
        } finally {
            lock.unlock();
        }
    }

    /**
     * The card's cumulative count behind a statistics register since it was built, unaffected by
     * clear-on-read or reset: what metrics report. For the 64-bit counts pass the low register.
     */
    public long statisticTotal(int offset) {
        if (offset < STATISTICS_START || offset >= STATISTICS_END || (offset & 3) != 0) {
            throw new IllegalArgumentException("not a statistics register: 0x" + Integer.toHexString(offset));
        }
        int at = isHighHalf(offset) ? offset - 4 : offset;
        SpinLock lock = isTransmitStatistic(at) ? txLock : rxLock;
        lock.lock();
        try {
            return statisticTotals[statisticIndex(at)];
        } finally {
            lock.unlock();
        }
    }

    private void countError(E1000Error reason) {
        errors.incrementAndGet(reason.ordinal());
    }

    /** How many times the card refused or abandoned work for {@code reason}. */
    public long errorCount(E1000Error reason) {
        return errors.get(reason.ordinal());
    }

    /** Sum of all error counts. */
    public long errorCount() {
        long sum = 0;
        for (int i = 0; i < errors.length(); i++) {
            sum += errors.get(i);
        }
        return sum;
    }

    @Override
    public String toString() {
        return "E1000Device[" + mac + "]";
    }
}
