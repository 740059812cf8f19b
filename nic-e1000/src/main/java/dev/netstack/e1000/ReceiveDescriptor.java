package dev.netstack.e1000;

import dev.netstack.buffer.DmaMemory;

/**
 * Legacy receive descriptor (8254x manual §3.2.3), a 16-byte little-endian record in guest memory.
 * <pre>
 *  63                    48 47        40 39        32 31                    16 15                     0
 * +------------------------------------------------------------------------------------------------+
 * |                              buffer address (physical)                                  | 0
 * +------------------------+------------+------------+------------------------+------------------------+
 * |        special         |   errors   |   status   |    packet checksum     |         length         | 8
 * +------------------------+------------+------------+------------------------+------------------------+
 * byte offsets: address 0, length 8, checksum 10, status 12, errors 13, special 14
 * </pre>
 * The driver owns the address; the card writes length, checksum, status and errors back and sets
 * {@link #STATUS_DD} last, so a driver that reads the status word with acquire ordering sees the
 * rest. A flyweight over (DmaMemory, address): point it at a descriptor with {@link #wrap}.
 */
public final class ReceiveDescriptor {
    public static final int SIZE = 16;

    public static final int ADDRESS = 0;
    public static final int LENGTH = 8;
    public static final int CHECKSUM = 10;
    public static final int STATUS = 12;
    public static final int ERRORS = 13;
    public static final int SPECIAL = 14;

    /** Descriptor Done: the card has filled this descriptor. */
    public static final int STATUS_DD = 1 << 0;
    /** End Of Packet: the last descriptor of a frame. */
    public static final int STATUS_EOP = 1 << 1;
    /** Ignore Checksum Indication. */
    public static final int STATUS_IXSM = 1 << 2;
    public static final int STATUS_VP = 1 << 3;
    public static final int STATUS_TCPCS = 1 << 5;
    public static final int STATUS_IPCS = 1 << 6;
    public static final int STATUS_PIF = 1 << 7;

    public static final int ERROR_CE = 1 << 0;
    public static final int ERROR_SE = 1 << 1;
    public static final int ERROR_SEQ = 1 << 2;
    public static final int ERROR_CXE = 1 << 4;
    public static final int ERROR_TCPE = 1 << 5;
    public static final int ERROR_IPE = 1 << 6;
    public static final int ERROR_RXE = 1 << 7;

    private DmaMemory memory;
    private long address;

    /** Points this view at the descriptor at physical {@code address}. */
    public ReceiveDescriptor wrap(DmaMemory memory, long address) {
        this.memory = memory;
        this.address = address;
        return this;
    }

    public long bufferAddress() { return memory.read64le(address + ADDRESS); }
    public void bufferAddress(long value) { memory.write64le(address + ADDRESS, value); }
    public int length() { return memory.read16le(address + LENGTH); }
    public int checksum() { return memory.read16le(address + CHECKSUM); }
    public int status() { return memory.read8(address + STATUS); }
    /** Status with acquire ordering: when DD is set, the other fields are visible. */
    public int statusAcquire() { return memory.read32Acquire(address + STATUS) & 0xff; }
    public int errors() { return memory.read8(address + ERRORS); }
    public int special() { return memory.read16le(address + SPECIAL); }

    /**
     * Writes the whole upper half at once with release ordering, so a reader that sees DD sees
     * length and errors too (the card's write-back).
     */
    public void writeBack(int length, int checksum, int status, int errors, int special) {
        memory.write64Release(address + LENGTH, upperHalf(length, checksum, status, errors, special));
    }

    /** Hands the descriptor back to the card empty: status cleared, with release ordering. */
    public void clearStatus() {
        memory.write64Release(address + LENGTH, 0L);
    }

    /** The upper 8 bytes of a descriptor as one little-endian word. */
    public static long upperHalf(int length, int checksum, int status, int errors, int special) {
        return (length & 0xffffL)
                | (checksum & 0xffffL) << 16
                | (status & 0xffL) << 32
                | (errors & 0xffL) << 40
                | (special & 0xffffL) << 48;
    }
}
