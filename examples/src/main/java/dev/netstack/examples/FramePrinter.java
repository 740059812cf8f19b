package dev.netstack.examples;

import dev.netstack.link.FrameObserver;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import dev.netstack.wire.UdpHeader;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.function.Supplier;

/**
 * Prints one line per frame in the style of {@code tcpdump -n}, decoding with the stack's wire
 * views:
 * <pre>
 * 12:00:00.000000 52:54:00:12:34:56 &gt; ff:ff:ff:ff:ff:ff, ARP, Request who-has 10.0.2.2 tell 10.0.2.15, length 28
 * 12:00:00.000120 52:55:0a:00:02:02 &gt; 52:54:00:12:34:56, ARP, Reply 10.0.2.2 is-at 52:55:0a:00:02:02, length 28
 * 12:00:00.000200 IP 10.0.2.15.2000 &gt; 10.0.2.2.25603: UDP, length 19
 * 12:00:00.000300 IP 10.0.2.15 &gt; 10.0.2.2: ICMP echo request, id 1, seq 1, length 64
 * </pre>
 * Frames arrive on several threads; each line is printed whole.
 */
public final class FramePrinter implements FrameObserver {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSS");

    private final PrintWriter out;
    private final Supplier<LocalTime> clock;
    private final EthernetHeader ethernet = new EthernetHeader();
    private final ArpPacket arp = new ArpPacket();
    private final Ipv4Header ip = new Ipv4Header();
    private final UdpHeader udp = new UdpHeader();
    private final IcmpHeader icmp = new IcmpHeader();
    private final StringBuilder line = new StringBuilder(160);

    public FramePrinter(PrintWriter out) {
        this(out, LocalTime::now);
    }

    /** With a clock for the timestamps, for tests. */
    public FramePrinter(PrintWriter out, Supplier<LocalTime> clock) {
        this.out = out;
        this.clock = clock;
    }

    @Override
    public synchronized void observe(ByteBuffer frame, boolean outbound) {
        line.setLength(0);
        TIME.formatTo(clock.get(), line);
        line.append(' ');
        describe(frame, line);
        out.println(line);
        out.flush();
    }

    /** Appends the description of one frame (without the timestamp). */
    synchronized void describe(ByteBuffer frame, StringBuilder s) {
        int start = frame.position();
        int length = frame.remaining();
        if (!ethernet.wrap(frame, start, length)) {
            s.append("truncated Ethernet frame, length ").append(length);
            return;
        }
        int payload = start + EthernetHeader.HEADER_LENGTH;
        int available = length - EthernetHeader.HEADER_LENGTH;
        switch (ethernet.etherType()) {
            case EthernetHeader.TYPE_ARP:
                describeArp(frame, payload, available, s);
                break;
            case EthernetHeader.TYPE_IPV4:
                describeIpv4(frame, payload, available, s);
                break;
            default:
                macs(s).append(", ethertype 0x").append(String.format("%04x", ethernet.etherType()))
                        .append(", length ").append(length);
        }
    }

    private StringBuilder macs(StringBuilder s) {
        return s.append(MacAddress.toString(ethernet.source())).append(" > ")
                .append(MacAddress.toString(ethernet.destination()));
    }

    private void describeArp(ByteBuffer frame, int offset, int available, StringBuilder s) {
        macs(s).append(", ARP, ");
        if (!arp.wrap(frame, offset, available) || !arp.isEthernetIpv4()) {
            s.append("truncated or not Ethernet/IPv4, length ").append(available);
            return;
        }
        switch (arp.operation()) {
            case ArpPacket.OP_REQUEST:
                s.append("Request who-has ").append(Ipv4Address.toString(arp.targetIp()))
                        .append(" tell ").append(Ipv4Address.toString(arp.senderIp()));
                break;
            case ArpPacket.OP_REPLY:
                s.append("Reply ").append(Ipv4Address.toString(arp.senderIp()))
                        .append(" is-at ").append(MacAddress.toString(arp.senderMac()));
                break;
            default:
                s.append("op ").append(arp.operation());
        }
        s.append(", length ").append(ArpPacket.LENGTH);
    }

    private void describeIpv4(ByteBuffer frame, int offset, int available, StringBuilder s) {
        s.append("IP ");
        if (!ip.wrap(frame, offset, available) || ip.version() != 4 || ip.headerLength() > available) {
            s.append("truncated or bad header, length ").append(available);
            return;
        }
        String source = Ipv4Address.toString(ip.source());
        String destination = Ipv4Address.toString(ip.destination());
        int headerLength = ip.headerLength();
        int transport = offset + headerLength;
        int transportAvailable = Math.min(available, ip.totalLength()) - headerLength;
        if (ip.fragmentOffsetBytes() != 0) {
            s.append(source).append(" > ").append(destination).append(": ip-proto-").append(ip.protocol())
                    .append(", fragment offset ").append(ip.fragmentOffsetBytes()).append(", length ")
                    .append(ip.totalLength() - headerLength);
            return;
        }
        switch (ip.protocol()) {
            case Ipv4Header.PROTOCOL_UDP:
                if (udp.wrap(frame, transport, transportAvailable)) {
                    s.append(source).append('.').append(udp.sourcePort()).append(" > ").append(destination).append('.')
                            .append(udp.destinationPort()).append(": UDP, length ")
                            .append(udp.length() - UdpHeader.HEADER_LENGTH);
                    return;
                }
                break;
            case Ipv4Header.PROTOCOL_ICMP:
                if (icmp.wrap(frame, transport, transportAvailable)) {
                    s.append(source).append(" > ").append(destination).append(": ICMP ");
                    int icmpLength = ip.totalLength() - headerLength;
                    switch (icmp.type()) {
                        case IcmpHeader.TYPE_ECHO_REQUEST:
                        case IcmpHeader.TYPE_ECHO_REPLY:
                            s.append(icmp.type() == IcmpHeader.TYPE_ECHO_REQUEST ? "echo request" : "echo reply")
                                    .append(", id ").append(icmp.identifier()).append(", seq ").append(icmp.sequence());
                            break;
                        case IcmpHeader.TYPE_DESTINATION_UNREACHABLE:
                            s.append(icmp.code() == IcmpHeader.CODE_PORT_UNREACHABLE ? "port" : "host")
                                    .append(" unreachable (code ").append(icmp.code()).append(')');
                            break;
                        case IcmpHeader.TYPE_TIME_EXCEEDED:
                            s.append("time exceeded in-transit");
                            break;
                        default:
                            s.append("type ").append(icmp.type()).append(" code ").append(icmp.code());
                    }
                    s.append(", length ").append(icmpLength);
                    return;
                }
                break;
            default:
                break;
        }
        s.append(source).append(" > ").append(destination).append(": ip-proto-").append(ip.protocol())
                .append(", length ").append(ip.totalLength() - headerLength);
    }
}
