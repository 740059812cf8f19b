package dev.netstack.buffer;

/**
 * A device or driver touched guest physical memory it has no right to: an address outside
 * {@link DmaMemory}, a range running off its end, or a misaligned ordered access.
 *
 * <p>Device code catches this, counts it and abandons the operation (as a real card would report a
 * master abort); it must never escape an MMIO register write. The exception carries no stack trace:
 * a buggy driver can raise many of them and they are expected, not exceptional.
 */
public final class DmaFault extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long address;
    private final int length;

    public DmaFault(long address, int length, long memorySize) {
        super("DMA fault: " + length + " bytes at 0x" + Long.toHexString(address)
                + " outside guest memory of " + memorySize + " bytes", null, false, false);
        this.address = address;
        this.length = length;
    }

    public DmaFault(String message, long address, int length) {
        super(message, null, false, false);
        this.address = address;
        this.length = length;
    }

    /** The guest physical address of the faulting access. */
    public long address() {
        return address;
    }

    /** The number of bytes the faulting access asked for. */
    public int length() {
        return length;
    }
}
