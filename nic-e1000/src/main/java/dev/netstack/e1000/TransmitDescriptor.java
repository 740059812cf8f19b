package dev.netstack.e1000;

import dev.netstack.buffer.DmaMemory;

/**
 * The three 16-byte transmit descriptor formats (8254x manual §3.3), little-endian in guest memory.
 * Byte 11 holds the command bits in all three; its DEXT bit tells the legacy format from the
 * extended ones, whose type (DTYP) sits in bits 20-23 of the word at offset 8.
 *
 * <p>Legacy (§3.3.3), DEXT = 0:
 * <pre>
 *  byte: 0                                   8        10      11      12      13      14
 * +-------------------------------------------+--------+-------+-------+-------+-------+--------+
 * |           buffer address                  | length |  CSO  |  CMD  |  STA  |  CSS  | special|
 * +-------------------------------------------+--------+-------+-------+-------+-------+--------+
 *  STA low nibble: DD EC LC TU; CMD: EOP IFCS IC RS - DEXT VLE IDE
 * </pre>
 *
 * <p>TCP/IP context (§3.3.6), DEXT = 1, DTYP = 0000: where the checksums go for following data
 * descriptors.
 * <pre>
 *  byte: 0       1       2               4       5       6               8                   11
 * +-------+-------+---------------+-------+-------+---------------+-------------------+------+
 * | IPCSS | IPCSO |     IPCSE     | TUCSS | TUCSO |     TUCSE     | PAYLEN:20 DTYP:4  |TUCMD |
 * +-------+-------+---------------+-------+-------+---------------+-------------------+------+
 * |  STA  | HDRLEN|      MSS      |  (bytes 12-15)
 * +-------+-------+---------------+
 * </pre>
 *
 * <p>TCP/IP data (§3.3.7), DEXT = 1, DTYP = 0001:
 * <pre>
 *  byte: 0                                   8                   11      12      13      14
 * +-------------------------------------------+-------------------+-------+-------+-------+--------+
 * |           buffer address                  | DTALEN:20 DTYP:4  | DCMD  |  STA  | POPTS | special|
 * +-------------------------------------------+-------------------+-------+-------+-------+--------+
 *  POPTS: IXSM (insert IP checksum), TXSM (insert TCP/UDP checksum)
 * </pre>
 * A flyweight over (DmaMemory, address).
 */
public final class TransmitDescriptor {
    public static final int SIZE = 16;

    // legacy
    public static final int ADDRESS = 0;
    public static final int LENGTH = 8;
    public static final int CSO = 10;
    public static final int CMD = 11;
    public static final int STATUS = 12;
    public static final int CSS = 13;
    public static final int SPECIAL = 14;

    // context
    public static final int IPCSS = 0;
    public static final int IPCSO = 1;
    public static final int IPCSE = 2;
    public static final int TUCSS = 4;
    public static final int TUCSO = 5;
    public static final int TUCSE = 6;
    public static final int TUCMD = 11;
    public static final int HDRLEN = 13;
    public static final int MSS = 14;

    // data
    public static final int POPTS = 13;

    public static final int CMD_EOP = 1 << 0;
    /** Insert FCS: the card appends the Ethernet CRC. */
    public static final int CMD_IFCS = 1 << 1;
    /** Insert Checksum (legacy): one's complement sum from CSS to the end, stored at CSO. */
    public static final int CMD_IC = 1 << 2;
    /** Report Status: write DD back when done. */
    public static final int CMD_RS = 1 << 3;
    public static final int CMD_DEXT = 1 << 5;
    public static final int CMD_VLE = 1 << 6;
    /** Interrupt Delay Enable: TXDW waits for TIDV. */
    public static final int CMD_IDE = 1 << 7;

    /** TUCMD (context): 1 = TCP, 0 = UDP. */
    public static final int TUCMD_TCP = 1 << 0;
    /** TUCMD (context): 1 = IPv4. */
    public static final int TUCMD_IP = 1 << 1;
    public static final int TUCMD_TSE = 1 << 2;

    public static final int DTYP_SHIFT = 20;
    public static final int DTYP_CONTEXT = 0;
    public static final int DTYP_DATA = 1;
    /** Data length field width of extended data descriptors. */
    public static final int DTALEN_MASK = 0xfffff;

    public static final int STATUS_DD = 1 << 0;
    public static final int STATUS_EC = 1 << 1;
    public static final int STATUS_LC = 1 << 2;
    public static final int STATUS_TU = 1 << 3;

    public static final int POPTS_IXSM = 1 << 0;
    public static final int POPTS_TXSM = 1 << 1;

    private DmaMemory memory;
    private long address;

    /** Points this view at the descriptor at physical {@code address}. */
    public TransmitDescriptor wrap(DmaMemory memory, long address) {
        this.memory = memory;
        this.address = address;
        return this;
    }

    public long bufferAddress() { return memory.read64le(address + ADDRESS); }
    public int length() { return memory.read16le(address + LENGTH); }
    public int cso() { return memory.read8(address + CSO); }
    public int command() { return memory.read8(address + CMD); }
    public int status() { return memory.read8(address + STATUS) & 0x0f; }
    /** Status with acquire ordering: when DD is set the card is done with the buffer. */
    public int statusAcquire() { return memory.read32Acquire(address + STATUS) & 0x0f; }
    public int css() { return memory.read8(address + CSS); }
    public int special() { return memory.read16le(address + SPECIAL); }
    public int descriptorType() { return (memory.read32le(address + LENGTH) >>> DTYP_SHIFT) & 0xf; }

    /**
     * Fills a legacy descriptor: the address first, then the upper half with release ordering so the
     * card, once it sees the new TDT, sees the whole descriptor with status cleared.
     */
    public void legacy(long bufferAddress, int length, int command, int cso, int css) {
        memory.write64le(address + ADDRESS, bufferAddress);
        memory.write64Release(address + LENGTH, legacyUpper(length, command, cso, css, 0));
    }

    /** Fills a TCP/IP data descriptor; {@code popts} selects the checksums to insert. */
    public void data(long bufferAddress, int length, int command, int popts) {
        memory.write64le(address + ADDRESS, bufferAddress);
        memory.write64Release(address + LENGTH, dataUpper(length, command, popts));
    }

    /** Fills a TCP/IP context descriptor (no TSE: PAYLEN, HDRLEN and MSS stay 0). */
    public void context(int ipcss, int ipcso, int ipcse, int tucss, int tucso, int tucse, int tucmd) {
        long lower = (ipcss & 0xffL)
                | (ipcso & 0xffL) << 8
                | (ipcse & 0xffffL) << 16
                | (tucss & 0xffL) << 32
                | (tucso & 0xffL) << 40
                | (tucse & 0xffffL) << 48;
        memory.write64le(address, lower);
        long upper = ((long) DTYP_CONTEXT << DTYP_SHIFT) | ((tucmd | CMD_DEXT) & 0xffL) << 24;
        memory.write64Release(address + LENGTH, upper);
    }

    /** Upper 8 bytes of a legacy descriptor as one little-endian word. */
    public static long legacyUpper(int length, int command, int cso, int css, int special) {
        return (length & 0xffffL)
                | (cso & 0xffL) << 16
                | (command & 0xffL) << 24
                | (css & 0xffL) << 40
                | (special & 0xffffL) << 48;
    }

    /** Upper 8 bytes of a data descriptor as one little-endian word. */
    public static long dataUpper(int length, int command, int popts) {
        return (length & DTALEN_MASK)
                | ((long) DTYP_DATA << DTYP_SHIFT)
                | ((command | CMD_DEXT) & 0xffL) << 24
                | (popts & 0xffL) << 40;
    }
}
