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

    // The single-octet fields are read as half of a 16-bit word (see NetworkOrder); a wrapped view
    // has MIN_HEADER_LENGTH bytes, so the word is always there.

    public int version() {
        return NetworkOrder.getU16(buffer, offset + VERSION_IHL) >>> 12;
    }

    /** IHL in 32-bit words. */
    public int ihl() {
        return (NetworkOrder.getU16(buffer, offset + VERSION_IHL) >>> 8) & 0x0f;
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
        return NetworkOrder.getU16(buffer, offset + VERSION_IHL) & 0xff;
    }

    public void tos(int value) {
        buffer.put(offset + TOS, (byte) value);
    }

    public int totalLength() {
        return NetworkOrder.getU16(buffer, offset + TOTAL_LENGTH);
    }

    public void totalLength(int value) {
        NetworkOrder.putU16(buffer, offset + TOTAL_LENGTH, value);
    }

    public int identification() {
        return NetworkOrder.getU16(buffer, offset + IDENTIFICATION);
    }

    public void identification(int value) {
        NetworkOrder.putU16(buffer, offset + IDENTIFICATION, value);
    }

    /** Flags and fragment offset as on the wire. */
    public int flagsAndFragment() {
        return NetworkOrder.getU16(buffer, offset + FLAGS_FRAGMENT);
    }

    public void flagsAndFragment(int value) {
        NetworkOrder.putU16(buffer, offset + FLAGS_FRAGMENT, value);
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
        return NetworkOrder.getU16(buffer, offset + TTL) >>> 8;
    }

    public void ttl(int value) {
        buffer.put(offset + TTL, (byte) value);
    }

    public int protocol() {
        return NetworkOrder.getU16(buffer, offset + TTL) & 0xff;
    }

    public void protocol(int value) {
        buffer.put(offset + PROTOCOL, (byte) value);
    }

    public int checksum() {
        return NetworkOrder.getU16(buffer, offset + CHECKSUM);
    }

    public void checksum(int value) {
        NetworkOrder.putU16(buffer, offset + CHECKSUM, value);
    }

    public int source() {
        return NetworkOrder.getI32(buffer, offset + SOURCE);
    }

    public void source(int address) {
        NetworkOrder.putI32(buffer, offset + SOURCE, address);
    }

    public int destination() {
        return NetworkOrder.getI32(buffer, offset + DESTINATION);
    }

    public void destination(int address) {
        NetworkOrder.putI32(buffer, offset + DESTINATION, address);
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
        int oldWord = NetworkOrder.getU16(buffer, offset + TTL);
        ttl(ttl() - 1);
        int newWord = NetworkOrder.getU16(buffer, offset + TTL);
        checksum(InternetChecksum.update16(checksum(), oldWord, newWord));
    }

    /**
     * Writes a 20-byte header without options (version 4, TOS 0), checksum filled. The checksum is
     * summed from the values rather than read back, and the header goes out in three stores.
     */
    public void set(int totalLength, int identification, int flagsAndFragment, int ttl, int protocol,
            int source, int destination) {
        int versionIhlTos = 0x4500;
        int ttlProtocol = (ttl & 0xff) << 8 | (protocol & 0xff);
        long sum = InternetChecksum.add16(versionIhlTos, totalLength);
        sum = InternetChecksum.add16(sum, identification);
        sum = InternetChecksum.add16(sum, flagsAndFragment);
        sum = InternetChecksum.add16(sum, ttlProtocol);
        sum = InternetChecksum.add32(InternetChecksum.add32(sum, source), destination);
        int checksum = InternetChecksum.finish(sum);
        NetworkOrder.putI64(buffer, offset, (long) versionIhlTos << 48 | (long) (totalLength & 0xffff) << 32
                | (long) (identification & 0xffff) << 16 | (flagsAndFragment & 0xffff));
        NetworkOrder.putI64(buffer, offset + TTL, (long) ttlProtocol << 48 | (long) checksum << 32
                | (source & 0xffff_ffffL));
        NetworkOrder.putI32(buffer, offset + DESTINATION, destination);
    }
}
