package dev.netstack.wire;

import java.nio.ByteBuffer;

/**
 * IPv4 header view (RFC 791).
 * <pre>
 *  0               1               2               3
 *  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
 * +-------+-------+---------------+-------------------------------+
 * |version|  IHL  |      TOS      |          total length         |  0
 * +-------+-------+---------------+-----+-------------------------+
 * |        identification         |flags|     fragment offset     |  4
 * +---------------+---------------+-----+-------------------------+
 * |      TTL      |   protocol    |        header checksum        |  8
 * +---------------+---------------+-------------------------------+
 * |                        source address                         | 12
 * +---------------------------------------------------------------+
 * |                      destination address                      | 16
 * +---------------------------------------------------------------+
 * |                    options (IHL > 5) ...                      | 20
 * </pre>
 * The fragment offset is kept in 8-byte units on the wire; {@link #fragmentOffsetBytes()} converts.
 */
public final class Ipv4Header {
    public static final int MIN_HEADER_LENGTH = 20;
    public static final int MAX_HEADER_LENGTH = 60;
    public static final int MAX_PACKET_LENGTH = 65535;
    public static final int PROTOCOL_ICMP = 1;
    public static final int PROTOCOL_TCP = 6;
    public static final int PROTOCOL_UDP = 17;
    public static final int FLAG_DONT_FRAGMENT = 0x4000;
    public static final int FLAG_MORE_FRAGMENTS = 0x2000;
    public static final int DEFAULT_TTL = 64;

    private static final int VERSION_IHL = 0, TOS = 1, TOTAL_LENGTH = 2, IDENTIFICATION = 4;
    private static final int FLAGS_FRAGMENT = 6, TTL = 8, PROTOCOL = 9, CHECKSUM = 10;
    private static final int SOURCE = 12, DESTINATION = 16;

    private ByteBuffer buffer;
    private int offset;

    /** Points this view at a header; false when fewer than {@link #MIN_HEADER_LENGTH} bytes are available. */
    public boolean wrap(ByteBuffer buffer, int offset, int available) {
        this.buffer = buffer;
        this.offset = offset;
        return available >= MIN_HEADER_LENGTH;
    }

    public int offset() {
        return offset;
    }

    public int version() {
        return (buffer.get(offset + VERSION_IHL) & 0xff) >>> 4;
    }

    /** IHL in 32-bit words. */
    public int ihl() {
        return buffer.get(offset + VERSION_IHL) & 0x0f;
    }

    /** Header length in bytes, options included. */
    public int headerLength() {
        return ihl() * 4;
    }

    /** Sets version 4 and the header length in bytes (a multiple of 4, 20-60). */
    public void versionAndHeaderLength(int headerLength) {
        buffer.put(offset + VERSION_IHL, (byte) (0x40 | (headerLength / 4)));
    }

    public int tos() {
        return buffer.get(offset + TOS) & 0xff;
    }

    public void tos(int value) {
        buffer.put(offset + TOS, (byte) value);
    }

    public int totalLength() {
        return buffer.getShort(offset + TOTAL_LENGTH) & 0xffff;
    }

    public void totalLength(int value) {
        buffer.putShort(offset + TOTAL_LENGTH, (short) value);
    }

    public int identification() {
        return buffer.getShort(offset + IDENTIFICATION) & 0xffff;
    }

    public void identification(int value) {
        buffer.putShort(offset + IDENTIFICATION, (short) value);
    }

    /** Flags and fragment offset as on the wire. */
    public int flagsAndFragment() {
        return buffer.getShort(offset + FLAGS_FRAGMENT) & 0xffff;
    }

    public void flagsAndFragment(int value) {
        buffer.putShort(offset + FLAGS_FRAGMENT, (short) value);
    }

    public boolean dontFragment() {
        return (flagsAndFragment() & FLAG_DONT_FRAGMENT) != 0;
    }

    public boolean moreFragments() {
        return (flagsAndFragment() & FLAG_MORE_FRAGMENTS) != 0;
    }

    /** Fragment offset in bytes (the wire value × 8). */
    public int fragmentOffsetBytes() {
        return (flagsAndFragment() & 0x1fff) * 8;
    }

    /** True for any piece of a fragmented datagram (MF set or offset non-zero). */
    public boolean isFragment() {
        return (flagsAndFragment() & (FLAG_MORE_FRAGMENTS | 0x1fff)) != 0;
    }

    public int ttl() {
        return buffer.get(offset + TTL) & 0xff;
    }

    public void ttl(int value) {
        buffer.put(offset + TTL, (byte) value);
    }

    public int protocol() {
        return buffer.get(offset + PROTOCOL) & 0xff;
    }

    public void protocol(int value) {
        buffer.put(offset + PROTOCOL, (byte) value);
    }

    public int checksum() {
        return buffer.getShort(offset + CHECKSUM) & 0xffff;
    }

    public void checksum(int value) {
        buffer.putShort(offset + CHECKSUM, (short) value);
    }

    public int source() {
        return buffer.getInt(offset + SOURCE);
    }

    public void source(int address) {
        buffer.putInt(offset + SOURCE, address);
    }

    public int destination() {
        return buffer.getInt(offset + DESTINATION);
    }

    public void destination(int address) {
        buffer.putInt(offset + DESTINATION, address);
    }

    /** True when the header checksum over {@link #headerLength()} bytes is correct. */
    public boolean isChecksumValid() {
        return InternetChecksum.compute(buffer, offset, headerLength()) == 0;
    }

    /** Computes and stores the header checksum. */
    public void fillChecksum() {
        checksum(0);
        checksum(InternetChecksum.compute(buffer, offset, headerLength()));
    }

    /** Decrements TTL and patches the checksum incrementally (RFC 1624), as a router does. */
    public void decrementTtl() {
        int oldWord = buffer.getShort(offset + TTL) & 0xffff;
        ttl(ttl() - 1);
        int newWord = buffer.getShort(offset + TTL) & 0xffff;
        checksum(InternetChecksum.update16(checksum(), oldWord, newWord));
    }

    /**
     * Writes a 20-byte header without options, checksum filled.
     */
    public void set(int totalLength, int identification, int flagsAndFragment, int ttl, int protocol,
            int source, int destination) {
        versionAndHeaderLength(MIN_HEADER_LENGTH);
        tos(0);
        totalLength(totalLength);
        identification(identification);
        flagsAndFragment(flagsAndFragment);
        ttl(ttl);
        protocol(protocol);
        source(source);
        destination(destination);
        fillChecksum();
    }
}
