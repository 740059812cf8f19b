package dev.netstack.robustness;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;

/**
 * Turns fuzzer bytes into frames a guest might receive. Raw bytes alone rarely get past a checksum,
 * so most recipes build a frame from fuzzed fields (every header field, lengths that may lie,
 * options, fragments of a few shared datagrams) and fix the checksums unless the fuzzer says not to:
 * the deep paths (reassembly, sockets, ICMP errors, ARP learning) get reached in seconds.
 */
public final class FrameRecipe {
    private static final long[] MACS = {Guest.GUEST_MAC.bits(), MacAddress.BROADCAST_BITS, Guest.PEER_MAC.bits(),
            0x0100_5e00_0001L, 0L, 0x0200_0000_0001L};
    private static final int[] ADDRESSES = {Guest.GUEST_IP.bits(), Guest.PEER_IP.bits(), Guest.SILENT_IP.bits(), 0, -1,
            0x0a0002ff /* 10.0.2.255 */, 0xe0000001 /* 224.0.0.1 */, 0x08080808, 0x7f000001};
    private static final int[] ETHERTYPES = {EthernetHeader.TYPE_IPV4, EthernetHeader.TYPE_ARP, EthernetHeader.TYPE_IPV6,
            EthernetHeader.TYPE_VLAN, 0x88b5, 0x0000, 0x05dc};

    private FrameRecipe() {
    }

    /** One frame from the provider's bytes. */
    public static byte[] next(FuzzedDataProvider data) {
        switch (data.consumeInt(0, 4)) {
            case 0:
                return data.consumeBytes(data.consumeInt(0, 1600));
            case 1:
                return arp(data);
            case 2:
                return ethernet(data, EthernetHeader.TYPE_IPV4, ipv4(data, false));
            case 3:
                return ethernet(data, EthernetHeader.TYPE_IPV4, ipv4(data, true));
            default:
                return ethernet(data, pick(data, ETHERTYPES), data.consumeBytes(data.consumeInt(0, 200)));
        }
    }

    static int pick(FuzzedDataProvider data, int[] choices) {
        int i = data.consumeInt(0, choices.length);
        return i == choices.length ? data.consumeInt() : choices[i];
    }

    static long pickMac(FuzzedDataProvider data) {
        int i = data.consumeInt(0, MACS.length);
        return i == MACS.length ? data.consumeLong() & 0xffff_ffff_ffffL : MACS[i];
    }

    static int address(FuzzedDataProvider data) {
        return pick(data, ADDRESSES);
    }

    static byte[] ethernet(FuzzedDataProvider data, int etherType, byte[] payload) {
        long destination = data.consumeInt(0, 3) == 0 ? pickMac(data) : Guest.GUEST_MAC.bits();
        ByteBuffer b = ByteBuffer.allocate(Math.max(EthernetHeader.MIN_FRAME_LENGTH, EthernetHeader.HEADER_LENGTH + payload.length));
        MacAddress.write(b, 0, destination);
        MacAddress.write(b, 6, Guest.PEER_MAC.bits());
        b.putShort(12, (short) etherType);
        b.put(EthernetHeader.HEADER_LENGTH, payload);
        byte[] frame = b.array();
        if (data.consumeInt(0, 15) == 0) {   // now and then cut it anywhere
            return java.util.Arrays.copyOf(frame, data.consumeInt(0, frame.length));
        }
        return frame;
    }

    static byte[] arp(FuzzedDataProvider data) {
        ByteBuffer b = ByteBuffer.allocate(ArpPacket.LENGTH);
        ArpPacket arp = new ArpPacket();
        arp.wrap(b, 0, ArpPacket.LENGTH);
        int operation = data.consumeInt(0, 3);
        arp.set(operation == 3 ? data.consumeInt(0, 0xffff) : Math.max(1, operation), pickMac(data), address(data),
                pickMac(data), address(data));
        if (data.consumeInt(0, 7) == 0) {            // hardware/protocol type and lengths
            b.putLong(0, data.consumeLong());
        }
        byte[] packet = b.array();
        if (data.consumeInt(0, 7) == 0) {
            packet = java.util.Arrays.copyOf(packet, data.consumeInt(0, ArpPacket.LENGTH));
        }
        return ethernet(data, EthernetHeader.TYPE_ARP, packet);
    }

    /** An IPv4 packet with fuzzed fields; {@code fragment}: part of one of four shared datagrams. */
    static byte[] ipv4(FuzzedDataProvider data, boolean fragment) {
        int options = data.consumeInt(0, 3) == 0 ? data.consumeInt(0, 10) * 4 : 0;
        int headerLength = Ipv4Header.MIN_HEADER_LENGTH + options;
        int protocol = pick(data, new int[] {Ipv4Header.PROTOCOL_UDP, Ipv4Header.PROTOCOL_ICMP, Ipv4Header.PROTOCOL_TCP}) & 0xff;
        int source = data.consumeInt(0, 2) == 0 ? address(data) : Guest.PEER_IP.bits();
        int destination = data.consumeInt(0, 3) == 0 ? address(data) : Guest.GUEST_IP.bits();
        byte[] transport = fragment ? data.consumeBytes(data.consumeInt(1, 1480)) : transport(data, protocol, source, destination);
        ByteBuffer b = ByteBuffer.allocate(headerLength + transport.length);
        b.put(headerLength, transport);
        for (int i = Ipv4Header.MIN_HEADER_LENGTH; i < headerLength; i++) {
            b.put(i, data.consumeByte());
        }
        int id;
        int flags;
        if (fragment) {
            id = data.consumeInt(1, 4);
            flags = (data.consumeBoolean() ? Ipv4Header.FLAG_MORE_FRAGMENTS : 0) | data.consumeInt(0, 0x1fff) & (data.consumeBoolean() ? 0x1fff : 0x00ff);
        } else {
            id = data.consumeInt(0, 0xffff);
            flags = data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 0xffff) : 0;
        }
        Ipv4Header ip = new Ipv4Header();
        ip.wrap(b, 0, b.capacity());
        int totalLength = data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 0xffff) : b.capacity();
        ip.set(totalLength, id, flags, data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 255) : 64, protocol, source, destination);
        b.put(0, (byte) (data.consumeInt(0, 15) == 0 ? data.consumeByte() : 0x40 | headerLength / 4));
        int claimedHeader = (b.get(0) & 0x0f) * 4;
        if (data.consumeInt(0, 15) != 0 && claimedHeader >= Ipv4Header.MIN_HEADER_LENGTH && claimedHeader <= b.capacity()) {
            ip.fillChecksum();
        }
        return b.array();
    }

    static byte[] transport(FuzzedDataProvider data, int protocol, int source, int destination) {
        boolean fixChecksum = data.consumeInt(0, 15) != 0;
        if (protocol == Ipv4Header.PROTOCOL_UDP) {
            byte[] payload = data.consumeBytes(data.consumeInt(0, 1472));
            ByteBuffer b = ByteBuffer.allocate(8 + payload.length);
            b.putShort(0, (short) data.consumeInt(0, 0xffff));
            b.putShort(2, (short) (data.consumeInt(0, 3) == 0 ? data.consumeInt(0, 0xffff) : Guest.SINK_PORT));
            b.putShort(4, (short) (data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 0xffff) : b.capacity()));
            b.put(8, payload);
            if (data.consumeInt(0, 7) == 0) {
                b.putShort(6, (short) 0);                         // "no checksum"
            } else if (fixChecksum) {
                long sum = InternetChecksum.pseudoHeader(source, destination, Ipv4Header.PROTOCOL_UDP, b.capacity());
                int checksum = InternetChecksum.finish(InternetChecksum.add(b, 0, b.capacity(), sum));
                b.putShort(6, (short) (checksum == 0 ? 0xffff : checksum));
            } else {
                b.putShort(6, (short) data.consumeInt(1, 0xffff));
            }
            return b.array();
        }
        if (protocol == Ipv4Header.PROTOCOL_ICMP) {
            int type = pick(data, new int[] {IcmpHeader.TYPE_ECHO_REQUEST, IcmpHeader.TYPE_ECHO_REPLY,
                    IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.TYPE_TIME_EXCEEDED}) & 0xff;
            byte[] body = type == IcmpHeader.TYPE_DESTINATION_UNREACHABLE || type == IcmpHeader.TYPE_TIME_EXCEEDED
                    ? quote(data) : data.consumeBytes(data.consumeInt(0, 1472));
            ByteBuffer b = ByteBuffer.allocate(IcmpHeader.HEADER_LENGTH + body.length);
            b.put(0, (byte) type).put(1, (byte) data.consumeInt(0, 4)).putInt(4, data.consumeInt());
            b.put(IcmpHeader.HEADER_LENGTH, body);
            b.putShort(2, (short) (fixChecksum ? InternetChecksum.compute(b, 0, b.capacity()) : data.consumeInt(0, 0xffff)));
            return b.array();
        }
        return data.consumeBytes(data.consumeInt(0, 200));
    }

    /** What an ICMP error quotes: an IPv4 header (from the guest, mostly) and 8 bytes of UDP or ICMP. */
    static byte[] quote(FuzzedDataProvider data) {
        ByteBuffer b = ByteBuffer.allocate(28);
        Ipv4Header ip = new Ipv4Header();
        ip.wrap(b, 0, 28);
        int protocol = data.consumeBoolean() ? Ipv4Header.PROTOCOL_UDP : Ipv4Header.PROTOCOL_ICMP;
        ip.set(data.consumeInt(0, 0xffff), data.consumeInt(0, 0xffff), 0, 64, protocol,
                data.consumeInt(0, 3) == 0 ? address(data) : Guest.GUEST_IP.bits(), address(data));
        b.putShort(20, (short) (data.consumeBoolean() ? Guest.SINK_PORT : data.consumeInt(0, 0xffff)));
        b.putShort(22, (short) data.consumeInt(0, 0xffff));
        b.putInt(24, data.consumeInt());
        if (data.consumeBoolean()) {
            b.put(20, (byte) IcmpHeader.TYPE_ECHO_REQUEST);
        }
        return java.util.Arrays.copyOf(b.array(), data.consumeInt(0, 3) == 0 ? data.consumeInt(0, 28) : 28);
    }
}
