package dev.netstack.wire;

import java.nio.ByteBuffer;

/**
 * ICMPv4 header view (RFC 792). The second word is the echo identifier and sequence number for
 * echo messages and unused (zero) for errors, which then carry the offending IP header and the
 * first 8 bytes of its payload.
 * <pre>
 *  0       1       2               4
 * +-------+-------+---------------+
 * | type  | code  |   checksum    |
 * +-------+-------+---------------+
 * |  identifier   |   sequence    |   (echo)    / unused (errors)
 * +---------------+---------------+
 * |  data ...                     |
 * </pre>
 */
public final class IcmpHeader {
    public static final int HEADER_LENGTH = 8;
    public static final int TYPE_ECHO_REPLY = 0;
    public static final int TYPE_DESTINATION_UNREACHABLE = 3;
    public static final int TYPE_ECHO_REQUEST = 8;
    public static final int TYPE_TIME_EXCEEDED = 11;
    public static final int CODE_NET_UNREACHABLE = 0;
    public static final int CODE_HOST_UNREACHABLE = 1;
    public static final int CODE_PROTOCOL_UNREACHABLE = 2;
    public static final int CODE_PORT_UNREACHABLE = 3;
    public static final int CODE_FRAGMENTATION_NEEDED = 4;
    public static final int CODE_TTL_EXCEEDED = 0;
    public static final int CODE_REASSEMBLY_TIME_EXCEEDED = 1;

    private static final int TYPE = 0, CODE = 1, CHECKSUM = 2, IDENTIFIER = 4, SEQUENCE = 6;

    private ByteBuffer buffer;
    private int offset;

    /** Points this view at a header; false when fewer than {@link #HEADER_LENGTH} bytes are available. */
    public boolean wrap(ByteBuffer buffer, int offset, int available) {
        this.buffer = buffer;
        this.offset = offset;
        return available >= HEADER_LENGTH;
    }

    public int offset() {
        return offset;
    }

    public int type() {
        return buffer.get(offset + TYPE) & 0xff;
    }

    public void type(int value) {
        buffer.put(offset + TYPE, (byte) value);
    }

    public int code() {
        return buffer.get(offset + CODE) & 0xff;
    }

    public void code(int value) {
        buffer.put(offset + CODE, (byte) value);
    }

    public int checksum() {
        return NetworkOrder.getU16(buffer, offset + CHECKSUM);
    }

    public void checksum(int value) {
        NetworkOrder.putU16(buffer, offset + CHECKSUM, value);
    }

    public int identifier() {
        return NetworkOrder.getU16(buffer, offset + IDENTIFIER);
    }

    public void identifier(int value) {
        NetworkOrder.putU16(buffer, offset + IDENTIFIER, value);
    }

    public int sequence() {
        return NetworkOrder.getU16(buffer, offset + SEQUENCE);
    }

    public void sequence(int value) {
        NetworkOrder.putU16(buffer, offset + SEQUENCE, value);
    }

    /** The 4-byte "rest of header" word (identifier and sequence, or unused/next-hop MTU for errors). */
    public int restOfHeader() {
        return NetworkOrder.getI32(buffer, offset + IDENTIFIER);
    }

    public void restOfHeader(int value) {
        NetworkOrder.putI32(buffer, offset + IDENTIFIER, value);
    }

    /** True when the checksum over the whole message ({@code length} bytes from the header) is correct. */
    public boolean isChecksumValid(int length) {
        return InternetChecksum.compute(buffer, offset, length) == 0;
    }

    /** Computes and stores the checksum over the whole message of {@code length} bytes. */
    public void fillChecksum(int length) {
        checksum(0);
        checksum(InternetChecksum.compute(buffer, offset, length));
    }
}
