package dev.netstack.wire;

import java.nio.ByteBuffer;

/**
 * Ethernet II header view (IEEE 802.3 frame without preamble and FCS).
 * <pre>
 *  0                   6                   12      14
 * +-------------------+-------------------+-------+
 * | destination MAC   | source MAC        | type  |
 * +-------------------+-------------------+-------+
 * </pre>
 */
public final class EthernetHeader {
    public static final int HEADER_LENGTH = 14;
    /** Smallest frame on the wire without FCS; shorter frames are padded by the sender. */
    public static final int MIN_FRAME_LENGTH = 60;
    public static final int TYPE_IPV4 = 0x0800;
    public static final int TYPE_ARP = 0x0806;
    public static final int TYPE_VLAN = 0x8100;
    public static final int TYPE_IPV6 = 0x86dd;

    private static final int DESTINATION = 0, SOURCE = 6, TYPE = 12;

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

    public long destination() {
        return MacAddress.read(buffer, offset + DESTINATION);
    }

    public void destination(long mac) {
        MacAddress.write(buffer, offset + DESTINATION, mac);
    }

    public long source() {
        return MacAddress.read(buffer, offset + SOURCE);
    }

    public void source(long mac) {
        MacAddress.write(buffer, offset + SOURCE, mac);
    }

    public int etherType() {
        return NetworkOrder.getU16(buffer, offset + TYPE);
    }

    public void etherType(int value) {
        NetworkOrder.putU16(buffer, offset + TYPE, value);
    }
}
