package dev.netstack.buffer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Guest "physical memory": one direct ByteBuffer, physical address = byte offset into it.
 *
 * <p>Device emulations and drivers meet here, the way a PCI card and its driver meet in host RAM:
 * descriptor rings and packet buffers are carved out with {@link #carve(int, int)} at
 * initialisation, and thereafter both sides read and write by physical address.
 *
 * <ul>
 *   <li>Descriptors and registers are little-endian, as on PCI: {@code read16le}, {@code write32le}, ...
 *   <li>Packet headers are network byte order: {@code read16be}, {@code write32be}, ...
 *   <li>Hand-off of ownership between driver and device uses {@link #read32Acquire} and
 *       {@link #write32Release} (the {@code __sync_synchronize()} of a C driver), on 4-byte aligned
 *       addresses.
 * </ul>
 *
 * Every access is bounds-checked and a bad address raises {@link DmaFault}. The accessors are safe
 * to call from several threads on different addresses; ordering between threads on the same
 * address is only what the acquire/release pair gives.
 */
public final class DmaMemory {
    private static final VarHandle INT_LE =
            MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG_LE =
            MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final ByteBuffer littleEndian;
    private final ByteBuffer networkOrder;
    private final int size;
    private int carved;   // bump pointer for carve(); guarded by this

    private DmaMemory(int size) {
        this.size = size;
        this.networkOrder = ByteBuffer.allocateDirect(size).order(ByteOrder.BIG_ENDIAN);
        this.littleEndian = networkOrder.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Allocates {@code bytes} of zeroed guest memory off the Java heap. */
    public static DmaMemory allocate(int bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("guest memory size must be positive, was " + bytes);
        }
        return new DmaMemory(bytes);
    }

    /** Size of guest memory in bytes; valid physical addresses are {@code [0, size)}. */
    public int size() {
        return size;
    }

    /**
     * Reserves {@code bytes} of guest memory aligned to {@code alignment} (a power of two) and
     * returns its physical address. Used at initialisation by pools and drivers; never freed.
     *
     * @throws IllegalStateException when guest memory is used up
     */
    public synchronized long carve(int bytes, int alignment) {
        if (bytes < 0 || alignment <= 0 || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("bad carve request: " + bytes + " bytes, alignment " + alignment);
        }
        long start = (carved + (long) alignment - 1) & -(long) alignment;
        if (start + bytes > size) {
            throw new IllegalStateException("guest memory exhausted: " + bytes + " bytes wanted, "
                    + (size - Math.min(start, size)) + " of " + size + " left; allocate a larger DmaMemory");
        }
        carved = (int) (start + bytes);
        return start;
    }

    /** Bytes not yet carved. */
    public synchronized int uncarved() {
        return size - carved;
    }

    /** True when {@code [address, address + length)} lies inside guest memory. */
    public boolean contains(long address, long length) {
        return address >= 0 && length >= 0 && address <= size - length;
    }

    private int check(long address, int length) {
        // a negative length would widen the window past the end (size - length > size) and reach the
        // ByteBuffer as an IndexOutOfBoundsException, or make fill() a silent no-op
        if (length < 0 || address < 0 || address > size - length) {
            throw new DmaFault(address, length, size);
        }
        return (int) address;
    }

    private int checkAligned(long address, int length) {
        int at = check(address, length);
        if ((at & (length - 1)) != 0) {
            throw new DmaFault("DMA fault: misaligned " + length + "-byte ordered access at 0x"
                    + Long.toHexString(address), address, length);
        }
        return at;
    }

    // --- 8-bit ---------------------------------------------------------------------------------

    public int read8(long address) {
        return networkOrder.get(check(address, 1)) & 0xff;
    }

    public void write8(long address, int value) {
        networkOrder.put(check(address, 1), (byte) value);
    }

    // --- little-endian (descriptors, registers) ------------------------------------------------

    public int read16le(long address) {
        return littleEndian.getShort(check(address, 2)) & 0xffff;
    }

    public void write16le(long address, int value) {
        littleEndian.putShort(check(address, 2), (short) value);
    }

    public int read32le(long address) {
        return littleEndian.getInt(check(address, 4));
    }

    public void write32le(long address, int value) {
        littleEndian.putInt(check(address, 4), value);
    }

    public long read64le(long address) {
        return littleEndian.getLong(check(address, 8));
    }

    public void write64le(long address, long value) {
        littleEndian.putLong(check(address, 8), value);
    }

    // --- network order (packet headers) --------------------------------------------------------

    public int read16be(long address) {
        return networkOrder.getShort(check(address, 2)) & 0xffff;
    }

    public void write16be(long address, int value) {
        networkOrder.putShort(check(address, 2), (short) value);
    }

    public int read32be(long address) {
        return networkOrder.getInt(check(address, 4));
    }

    public void write32be(long address, int value) {
        networkOrder.putInt(check(address, 4), value);
    }

    public long read64be(long address) {
        return networkOrder.getLong(check(address, 8));
    }

    public void write64be(long address, long value) {
        networkOrder.putLong(check(address, 8), value);
    }

    // --- ordered hand-off ----------------------------------------------------------------------

    /** Reads a little-endian 32-bit word with acquire semantics: later reads see what the writer published before it. */
    public int read32Acquire(long address) {
        return (int) INT_LE.getAcquire(littleEndian, checkAligned(address, 4));
    }

    /** Writes a little-endian 32-bit word with release semantics: earlier writes are visible before it. */
    public void write32Release(long address, int value) {
        INT_LE.setRelease(littleEndian, checkAligned(address, 4), value);
    }

    /** Reads a little-endian 64-bit word with acquire semantics. */
    public long read64Acquire(long address) {
        return (long) LONG_LE.getAcquire(littleEndian, checkAligned(address, 8));
    }

    /** Writes a little-endian 64-bit word with release semantics. */
    public void write64Release(long address, long value) {
        LONG_LE.setRelease(littleEndian, checkAligned(address, 8), value);
    }

    // --- bulk ----------------------------------------------------------------------------------

    /** Copies the remaining bytes of {@code source} into guest memory at {@code address}; source's position is left unchanged. */
    public void copyIn(long address, ByteBuffer source) {
        int length = source.remaining();
        networkOrder.put(check(address, length), source, source.position(), length);
    }

    /** Copies {@code length} bytes at {@code address} into {@code target} from its position, advancing it. */
    public void copyOut(long address, ByteBuffer target, int length) {
        int at = check(address, length);
        if (target.remaining() < length) {
            throw new IllegalArgumentException("target has " + target.remaining() + " bytes of room, " + length + " needed");
        }
        target.put(target.position(), networkOrder, at, length);
        target.position(target.position() + length);
    }

    /** Copies {@code length} bytes inside guest memory; the ranges may overlap. */
    public void copy(long from, long to, int length) {
        int src = check(from, length);
        int dst = check(to, length);
        networkOrder.put(dst, networkOrder, src, length);
    }

    /** Fills {@code length} bytes at {@code address} with {@code value}. */
    public void fill(long address, int length, byte value) {
        int at = check(address, length);
        for (int i = 0; i < length; i++) {
            networkOrder.put(at + i, value);
        }
    }

    /**
     * A network-order view of {@code [address, address + length)}: index 0 of the view is
     * {@code address}. Made once per buffer at initialisation (mbufs, descriptor rings), not per packet.
     */
    public ByteBuffer view(long address, int length) {
        int at = check(address, length);
        return networkOrder.slice(at, length).order(ByteOrder.BIG_ENDIAN);
    }
}
