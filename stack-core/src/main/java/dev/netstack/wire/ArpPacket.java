package dev.netstack.wire;

import java.nio.ByteBuffer;

/**
 * ARP packet view for Ethernet/IPv4 (RFC 826), the only kind this stack speaks.
 * <pre>
 *  0       2       4   5   6       8
 * +-------+-------+---+---+-------+
 * | htype | ptype |hln|pln|  op   |
 * +-------+-------+---+---+-------+---------------+
 * | sender hardware address (6)   | sender IP (4) |   8..17
 * +-------------------------------+---------------+
 * | target hardware address (6)   | target IP (4) |  18..27
 * +-------------------------------+---------------+
 * </pre>
 */
public final class ArpPacket {
    public static final int LENGTH = 28;
    public static final int HTYPE_ETHERNET = 1;
    public static final int OP_REQUEST = 1;
    public static final int OP_REPLY = 2;

    private static final int HTYPE = 0, PTYPE = 2, HLEN = 4, PLEN = 5, OP = 6;
    private static final int SHA = 8, SPA = 14, THA = 18, TPA = 24;

    private ByteBuffer buffer;
    private int offset;

    /** Points this view at a packet; false when fewer than {@link #LENGTH} bytes are available. */
    public boolean wrap(ByteBuffer buffer, int offset, int available) {
        this.buffer = buffer;
        this.offset = offset;
        return available >= LENGTH;
    }

    /** True for Ethernet hardware addresses and IPv4 protocol addresses of the right lengths. */
    public boolean isEthernetIpv4() {
        return hardwareType() == HTYPE_ETHERNET && protocolType() == EthernetHeader.TYPE_IPV4
                && hardwareLength() == 6 && protocolLength() == 4;
    }

    public int hardwareType() {
        return NetworkOrder.getU16(buffer, offset + HTYPE);
    }

    public int protocolType() {
        return NetworkOrder.getU16(buffer, offset + PTYPE);
    }

    public int hardwareLength() {
        return buffer.get(offset + HLEN) & 0xff;
    }

    public int protocolLength() {
        return buffer.get(offset + PLEN) & 0xff;
    }

    public int operation() {
        return NetworkOrder.getU16(buffer, offset + OP);
    }

    public long senderMac() {
        return MacAddress.read(buffer, offset + SHA);
    }

    public int senderIp() {
        return NetworkOrder.getI32(buffer, offset + SPA);
    }

    public long targetMac() {
        return MacAddress.read(buffer, offset + THA);
    }

    public int targetIp() {
        return NetworkOrder.getI32(buffer, offset + TPA);
    }

    /** Writes a whole Ethernet/IPv4 ARP packet. */
    public void set(int operation, long senderMac, int senderIp, long targetMac, int targetIp) {
        NetworkOrder.putU16(buffer, offset + HTYPE, HTYPE_ETHERNET);
        NetworkOrder.putU16(buffer, offset + PTYPE, EthernetHeader.TYPE_IPV4);
        buffer.put(offset + HLEN, (byte) 6);
        buffer.put(offset + PLEN, (byte) 4);
        NetworkOrder.putU16(buffer, offset + OP, operation);
        MacAddress.write(buffer, offset + SHA, senderMac);
        NetworkOrder.putI32(buffer, offset + SPA, senderIp);
        MacAddress.write(buffer, offset + THA, targetMac);
        NetworkOrder.putI32(buffer, offset + TPA, targetIp);
    }
}
