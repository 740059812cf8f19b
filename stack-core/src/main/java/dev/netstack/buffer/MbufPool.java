package dev.netstack.buffer;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * A fixed set of {@link Mbuf#SIZE}-byte buffers carved out of {@link DmaMemory}, each with its
 * {@link Mbuf} object created once.
 *
 * <p>Allocation and free are lock-free and allocate nothing: the free buffers form a Treiber
 * stack of indexes whose head is tagged with a version counter (packed into one {@code long}) so
 * that a pop racing with pop-push of the same index (ABA) fails its CAS instead of corrupting the
 * list. An exhausted pool returns {@code null} (the "no buffer" sentinel) and counts it; it never
 * throws on the data path.
 *
 * <p>Checking mode ({@code -Dnetstack.mbuf.checking=true}, on in this project's tests) tracks each
 * buffer's state so a double free or use after free throws {@link IllegalStateException} at the
 * faulty call.
 */
public final class MbufPool {
    private static final int EMPTY = -1;
    private static final int FREE = 0, ALLOCATED = 1;

    private final DmaMemory memory;
    private final Mbuf[] mbufs;
    private final int[] nextFree;           // written before the CAS that publishes it
    private final AtomicLong top = new AtomicLong();   // (version << 32) | (index + 1); 0 low bits = empty
    private final AtomicIntegerArray state;            // only in checking mode
    private final LongAdder exhausted = new LongAdder();
    private final AtomicLong available;

    final boolean checking;

    private MbufPool(DmaMemory memory, int count, boolean checking) {
        if (count <= 0) {
            throw new IllegalArgumentException("an mbuf pool needs at least one buffer, asked for " + count);
        }
        this.memory = memory;
        this.checking = checking;
        this.mbufs = new Mbuf[count];
        this.nextFree = new int[count];
        this.state = checking ? new AtomicIntegerArray(count) : null;
        long base = memory.carve(Math.multiplyExact(count, Mbuf.SIZE), 128);
        for (int i = 0; i < count; i++) {
            long address = base + (long) i * Mbuf.SIZE;
            ByteBuffer view = memory.view(address, Mbuf.SIZE);
            mbufs[i] = new Mbuf(this, i, address, view);
            nextFree[i] = i + 1 < count ? i + 1 : EMPTY;
        }
        top.set(pack(0, 1));   // buffer 0 on top; the low word holds index + 1 so that 0 means empty
        this.available = new AtomicLong(count);
    }

    /** Carves {@code count} buffers out of {@code memory}; checking mode follows the {@code netstack.mbuf.checking} property. */
    public static MbufPool carve(DmaMemory memory, int count) {
        return new MbufPool(memory, count, Boolean.getBoolean("netstack.mbuf.checking"));
    }

    /** Carves {@code count} buffers out of {@code memory} with checking mode set explicitly. */
    public static MbufPool carve(DmaMemory memory, int count, boolean checking) {
        return new MbufPool(memory, count, checking);
    }

    /** Allocates fresh guest memory just big enough for {@code count} buffers and carves them. */
    public static MbufPool create(int count) {
        return carve(DmaMemory.allocate(Math.multiplyExact(count, Mbuf.SIZE) + 128), count);
    }

    private static long pack(long version, int indexPlusOne) {
        return (version << 32) | (indexPlusOne & 0xffffffffL);
    }

    /** The guest memory the buffers live in. */
    public DmaMemory memory() {
        return memory;
    }

    /** Total number of buffers. */
    public int capacity() {
        return mbufs.length;
    }

    /** Buffers free right now (exact when no allocation or free is in flight). */
    public int available() {
        return (int) available.get();
    }

    /** How many allocations found the pool empty. */
    public long exhaustedCount() {
        return exhausted.sum();
    }

    /** Whether use after free and double free are checked. */
    public boolean isChecking() {
        return checking;
    }

    /** The mbuf with the given index, for drivers that map descriptors back to buffers. */
    public Mbuf mbuf(int index) {
        return mbufs[index];
    }

    /** Allocates a buffer with {@link Mbuf#DEFAULT_HEADROOM}; {@code null} when the pool is exhausted. */
    public Mbuf allocate() {
        return allocate(Mbuf.DEFAULT_HEADROOM);
    }

    /** Allocates a buffer whose empty data window starts after {@code headroom} bytes; {@code null} when exhausted. */
    public Mbuf allocate(int headroom) {
        // checked before the pop: failing in reset() afterwards would leak the buffer for good
        if (headroom < 0 || headroom > Mbuf.SIZE) {
            throw new IllegalArgumentException("headroom " + headroom + " outside [0, " + Mbuf.SIZE + "]");
        }
        while (true) {
            long current = top.get();
            int indexPlusOne = (int) current;
            if (indexPlusOne == 0) {
                exhausted.increment();
                return null;
            }
            int index = indexPlusOne - 1;
            int next = nextFree[index];
            long replacement = pack((current >>> 32) + 1, next + 1);
            if (top.compareAndSet(current, replacement)) {
                available.decrementAndGet();
                Mbuf mbuf = mbufs[index];
                if (checking && !state.compareAndSet(index, FREE, ALLOCATED)) {
                    throw new IllegalStateException("mbuf pool corrupted: " + mbuf + " was handed out twice");
                }
                mbuf.next = null;
                return mbuf.reset(headroom);
            }
        }
    }

    /** Returns a buffer to the pool. In checking mode a double free or a foreign buffer throws. */
    public void free(Mbuf mbuf) {
        if (mbuf.pool() != this) {
            throw new IllegalArgumentException(mbuf + " belongs to another pool");
        }
        int index = mbuf.index();
        if (checking && !state.compareAndSet(index, ALLOCATED, FREE)) {
            throw new IllegalStateException("double free of " + mbuf);
        }
        mbuf.next = null;
        while (true) {
            long current = top.get();
            nextFree[index] = (int) current - 1;
            long replacement = pack((current >>> 32) + 1, index + 1);
            if (top.compareAndSet(current, replacement)) {
                available.incrementAndGet();
                return;
            }
        }
    }

    void checkAllocated(Mbuf mbuf) {
        if (state.get(mbuf.index()) != ALLOCATED) {
            throw new IllegalStateException("use after free of " + mbuf);
        }
    }

    @Override
    public String toString() {
        return "MbufPool[" + available() + "/" + capacity() + " free]";
    }
}
