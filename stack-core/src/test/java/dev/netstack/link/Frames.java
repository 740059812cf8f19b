package dev.netstack.link;

import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import dev.netstack.wire.UdpHeader;
import java.nio.ByteBuffer;

/** Builds raw frames with the wire views, and reads fields of captured ones, for tests. */
public final class Frames {
    private Frames() {
    }

    public static byte[] ethernet(long destination, long source, int etherType, byte[] payload) {
        byte[] frame = new byte[EthernetHeader.HEADER_LENGTH + payload.length];
        ByteBuffer b = ByteBuffer.wrap(frame);
        EthernetHeader eth = new EthernetHeader();
        eth.wrap(b, 0, frame.length);
        eth.destination(destination);
        eth.source(source);
        eth.etherType(etherType);
        System.arraycopy(payload, 0, frame, EthernetHeader.HEADER_LENGTH, payload.length);
        return frame;
    }

    /** Pads a frame with zeros to the Ethernet minimum of 60 bytes, as a NIC does. */
    public static byte[] padded(byte[] frame) {
        if (frame.length >= EthernetHeader.MIN_FRAME_LENGTH) {
            return frame;
        }
        byte[] out = new byte[EthernetHeader.MIN_FRAME_LENGTH];
        System.arraycopy(frame, 0, out, 0, frame.length);
        return out;
    }

    public static byte[] arp(int operation, long senderMac, int senderIp, long targetMac, int targetIp) {
        byte[] packet = new byte[ArpPacket.LENGTH];
        ArpPacket arp = new ArpPacket();
        arp.wrap(ByteBuffer.wrap(packet), 0, packet.length);
        arp.set(operation, senderMac, senderIp, targetMac, targetIp);
        return packet;
    }

    public static byte[] arpFrame(long ethernetDestination, int operation, long senderMac, int senderIp, long targetMac, int targetIp) {
        return padded(ethernet(ethernetDestination, senderMac, EthernetHeader.TYPE_ARP,
                arp(operation, senderMac, senderIp, targetMac, targetIp)));
    }

    /** An IPv4 packet with a 20-byte header (checksum filled) around {@code payload}. */
    public static byte[] ipv4(int source, int destination, int protocol, byte[] payload) {
        return ipv4(source, destination, protocol, 0, payload);
    }

    public static byte[] ipv4(int source, int destination, int protocol, int flagsAndFragment, byte[] payload) {
        byte[] packet = new byte[Ipv4Header.MIN_HEADER_LENGTH + payload.length];
        Ipv4Header ip = new Ipv4Header();
        ip.wrap(ByteBuffer.wrap(packet), 0, packet.length);
        ip.set(packet.length, 0x1234, flagsAndFragment, 64, protocol, source, destination);
        System.arraycopy(payload, 0, packet, Ipv4Header.MIN_HEADER_LENGTH, payload.length);
        return packet;
    }

    /** A UDP datagram (header and payload) with its checksum filled. */
    public static byte[] udp(int source, int destination, int sourcePort, int destinationPort, byte[] payload) {
        byte[] datagram = new byte[UdpHeader.HEADER_LENGTH + payload.length];
        UdpHeader udp = new UdpHeader();
        udp.wrap(ByteBuffer.wrap(datagram), 0, datagram.length);
        udp.set(sourcePort, destinationPort, datagram.length);
        System.arraycopy(payload, 0, datagram, UdpHeader.HEADER_LENGTH, payload.length);
        udp.fillChecksum(source, destination);
        return datagram;
    }

    /** An ICMP message of {@code type} with identifier/sequence and data, checksum filled. */
    public static byte[] icmp(int type, int code, int identifier, int sequence, byte[] data) {
        byte[] message = new byte[IcmpHeader.HEADER_LENGTH + data.length];
        IcmpHeader icmp = new IcmpHeader();
        icmp.wrap(ByteBuffer.wrap(message), 0, message.length);
        icmp.type(type);
        icmp.code(code);
        icmp.identifier(identifier);
        icmp.sequence(sequence);
        System.arraycopy(data, 0, message, IcmpHeader.HEADER_LENGTH, data.length);
        icmp.fillChecksum(message.length);
        return message;
    }

    /** Ethernet + IPv4 + UDP in one go. */
    public static byte[] udpFrame(long destinationMac, long sourceMac, Ipv4Address source, Ipv4Address destination,
            int sourcePort, int destinationPort, byte[] payload) {
        byte[] udp = udp(source.bits(), destination.bits(), sourcePort, destinationPort, payload);
        return padded(ethernet(destinationMac, sourceMac, EthernetHeader.TYPE_IPV4,
                ipv4(source.bits(), destination.bits(), Ipv4Header.PROTOCOL_UDP, udp)));
    }

    // --- reading captured frames ---------------------------------------------------------------

    public static ByteBuffer wrap(byte[] frame) {
        return ByteBuffer.wrap(frame);
    }

    public static long destinationMac(byte[] frame) {
        return MacAddress.read(ByteBuffer.wrap(frame), 0);
    }

    public static long sourceMac(byte[] frame) {
        return MacAddress.read(ByteBuffer.wrap(frame), 6);
    }

    public static int etherType(byte[] frame) {
        return frame.length < 14 ? -1 : ByteBuffer.wrap(frame).getShort(12) & 0xffff;
    }

    public static boolean isArp(byte[] frame, int operation) {
        return etherType(frame) == EthernetHeader.TYPE_ARP && arpView(frame).operation() == operation;
    }

    /** True for an ARP request asking for {@code targetIp}. */
    public static boolean isArpRequestFor(byte[] frame, int targetIp) {
        return isArp(frame, ArpPacket.OP_REQUEST) && arpView(frame).targetIp() == targetIp;
    }

    public static ArpPacket arpView(byte[] frame) {
        ArpPacket arp = new ArpPacket();
        arp.wrap(ByteBuffer.wrap(frame), EthernetHeader.HEADER_LENGTH, frame.length - EthernetHeader.HEADER_LENGTH);
        return arp;
    }

    public static Ipv4Header ipView(byte[] frame) {
        Ipv4Header ip = new Ipv4Header();
        ip.wrap(ByteBuffer.wrap(frame), EthernetHeader.HEADER_LENGTH, frame.length - EthernetHeader.HEADER_LENGTH);
        return ip;
    }

    public static boolean isIpv4(byte[] frame, int protocol) {
        return etherType(frame) == EthernetHeader.TYPE_IPV4 && ipView(frame).protocol() == protocol;
    }

    /** Offset of the transport header in a captured IPv4 frame. */
    public static int transportOffset(byte[] frame) {
        return EthernetHeader.HEADER_LENGTH + ipView(frame).headerLength();
    }

    public static IcmpHeader icmpView(byte[] frame) {
        IcmpHeader icmp = new IcmpHeader();
        int at = transportOffset(frame);
        icmp.wrap(ByteBuffer.wrap(frame), at, frame.length - at);
        return icmp;
    }

    public static UdpHeader udpView(byte[] frame) {
        UdpHeader udp = new UdpHeader();
        int at = transportOffset(frame);
        udp.wrap(ByteBuffer.wrap(frame), at, frame.length - at);
        return udp;
    }

    public static boolean isIcmp(byte[] frame, int type, int code) {
        return isIpv4(frame, Ipv4Header.PROTOCOL_ICMP) && icmpView(frame).type() == type && icmpView(frame).code() == code;
    }

    /** The ICMP checksum over the message (as the IP total length says) verifies. */
    public static boolean icmpChecksumValid(byte[] frame) {
        Ipv4Header ip = ipView(frame);
        int at = transportOffset(frame);
        return InternetChecksum.compute(ByteBuffer.wrap(frame), at, ip.totalLength() - ip.headerLength()) == 0;
    }
}
