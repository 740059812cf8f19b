package dev.netstack.wire;

import java.nio.ByteBuffer;

/**
 * UDP header view (RFC 768). Offsets are from the start of the UDP header.
 * <pre>
 *  0      7 8     15 16    23 24    31
 * +--------+--------+--------+--------+
 * |  source port    |  dest port      |
 * +--------+--------+--------+--------+
 * |  length         |  checksum       |
 * +--------+--------+--------+--------+
 * </pre>
 * A checksum of 0 means "not computed" (IPv4 only); a computed 0 is sent as 0xffff.
 */
public final class UdpHeader {
    public static final int HEADER_LENGTH = 8;
    /** Largest UDP payload in one IPv4 datagram: 65535 - 20 - 8. */
    public static final int MAX_PAYLOAD = 65507;

    private static final int SOURCE_PORT = 0, DESTINATION_PORT = 2, LENGTH = 4, CHECKSUM = 6;

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

    public int sourcePort() {
        return NetworkOrder.getU16(buffer, offset + SOURCE_PORT);
    }

    public void sourcePort(int value) {
        NetworkOrder.putU16(buffer, offset + SOURCE_PORT, value);
    }

    public int destinationPort() {
        return NetworkOrder.getU16(buffer, offset + DESTINATION_PORT);
    }

    public void destinationPort(int value) {
        NetworkOrder.putU16(buffer, offset + DESTINATION_PORT, value);
    }

    /** Header plus payload, in bytes. */
    public int length() {
        return NetworkOrder.getU16(buffer, offset + LENGTH);
    }

    public void length(int value) {
        NetworkOrder.putU16(buffer, offset + LENGTH, value);
    }

    public int checksum() {
        return NetworkOrder.getU16(buffer, offset + CHECKSUM);
    }

    public void checksum(int value) {
        NetworkOrder.putU16(buffer, offset + CHECKSUM, value);
    }

    /** True when the checksum is absent (0) or correct over {@link #length()} bytes with the pseudo-header. */
    public boolean isChecksumValid(int sourceIp, int destinationIp) {
        if (checksum() == 0) {
            return true;
        }
        int length = length();
        long sum = InternetChecksum.pseudoHeader(sourceIp, destinationIp, Ipv4Header.PROTOCOL_UDP, length);
        return InternetChecksum.finish(InternetChecksum.add(buffer, offset, length, sum)) == 0;
    }

    /** Computes and stores the checksum over {@link #length()} bytes with the pseudo-header. */
    public void fillChecksum(int sourceIp, int destinationIp) {
        checksum(0);
        int length = length();
        long sum = InternetChecksum.pseudoHeader(sourceIp, destinationIp, Ipv4Header.PROTOCOL_UDP, length);
        int value = InternetChecksum.finish(InternetChecksum.add(buffer, offset, length, sum));
        checksum(value == 0 ? 0xffff : value);
    }

    public void set(int sourcePort, int destinationPort, int length) {
        sourcePort(sourcePort);
        destinationPort(destinationPort);
        length(length);
        checksum(0);
    }
}
