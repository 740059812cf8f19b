package dev.netstack.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import dev.netstack.testing.Fixtures;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class ArpPacketTest {
    private static final long GUEST_MAC = 0x5254_0012_3456L;
    private static final long GATEWAY_MAC = 0x5255_0a00_0202L;
    private static final int GUEST_IP = Ipv4Address.parse("10.0.2.15").bits();
    private static final int GATEWAY_IP = Ipv4Address.parse("10.0.2.2").bits();
    private static final int ETH = EthernetHeader.HEADER_LENGTH;

    private final ArpPacket arp = new ArpPacket();

    @Test
    void parsesTheGatewaysRequest() {
        byte[] frame = Fixtures.frame(Fixtures.ARP_REQUEST_FROM_GATEWAY);
        assertThat(arp.wrap(ByteBuffer.wrap(frame), ETH, frame.length - ETH)).isTrue();
        assertThat(arp.hardwareType()).isEqualTo(ArpPacket.HTYPE_ETHERNET);
        assertThat(arp.protocolType()).isEqualTo(EthernetHeader.TYPE_IPV4);
        assertThat(arp.hardwareLength()).isEqualTo(6);
        assertThat(arp.protocolLength()).isEqualTo(4);
        assertThat(arp.isEthernetIpv4()).isTrue();
        assertThat(arp.operation()).isEqualTo(ArpPacket.OP_REQUEST);
        assertThat(MacAddress.of(arp.senderMac())).isEqualTo(MacAddress.parse("52:55:0a:00:02:02"));
        assertThat(Ipv4Address.of(arp.senderIp())).isEqualTo(Ipv4Address.parse("10.0.2.2"));
        assertThat(arp.targetMac()).isZero();
        assertThat(Ipv4Address.of(arp.targetIp())).isEqualTo(Ipv4Address.parse("10.0.2.15"));
    }

    @Test
    void parsesTheGuestsReply() {
        byte[] frame = Fixtures.frame(Fixtures.ARP_REPLY_FROM_GUEST);
        assertThat(arp.wrap(ByteBuffer.wrap(frame), ETH, frame.length - ETH)).isTrue();
        assertThat(arp.isEthernetIpv4()).isTrue();
        assertThat(arp.operation()).isEqualTo(ArpPacket.OP_REPLY);
        assertThat(MacAddress.of(arp.senderMac())).isEqualTo(MacAddress.parse("52:54:00:12:34:56"));
        assertThat(Ipv4Address.of(arp.senderIp())).isEqualTo(Ipv4Address.parse("10.0.2.15"));
        assertThat(MacAddress.of(arp.targetMac())).isEqualTo(MacAddress.parse("52:55:0a:00:02:02"));
        assertThat(Ipv4Address.of(arp.targetIp())).isEqualTo(Ipv4Address.parse("10.0.2.2"));
    }

    @Test
    void buildsBothArpFramesByteForByte() {
        assertThat(build(GATEWAY_MAC, ArpPacket.OP_REQUEST, GATEWAY_MAC, GATEWAY_IP, 0L, GUEST_IP))
                .containsExactly(Fixtures.frame(Fixtures.ARP_REQUEST_FROM_GATEWAY));
        assertThat(build(GUEST_MAC, ArpPacket.OP_REPLY, GUEST_MAC, GUEST_IP, GATEWAY_MAC, GATEWAY_IP))
                .containsExactly(Fixtures.frame(Fixtures.ARP_REPLY_FROM_GUEST));
    }

    private byte[] build(long ethernetSource, int op, long sha, int spa, long tha, int tpa) {
        // dirty buffer: set(...) must write every byte itself
        byte[] out = new byte[ETH + ArpPacket.LENGTH];
        java.util.Arrays.fill(out, (byte) 0xa5);
        ByteBuffer buffer = ByteBuffer.wrap(out);
        EthernetHeader ethernet = new EthernetHeader();
        ethernet.wrap(buffer, 0, out.length);
        ethernet.destination(MacAddress.BROADCAST_BITS);
        ethernet.source(ethernetSource);
        ethernet.etherType(EthernetHeader.TYPE_ARP);
        assertThat(arp.wrap(buffer, ETH, ArpPacket.LENGTH)).isTrue();
        arp.set(op, sha, spa, tha, tpa);
        return out;
    }

    @Test
    void wrapRefusesTruncatedPackets() {
        byte[] frame = Fixtures.frame(Fixtures.ARP_REPLY_FROM_GUEST);
        assertThat(arp.wrap(ByteBuffer.wrap(frame), ETH, ArpPacket.LENGTH - 1)).isFalse();
        assertThat(arp.wrap(ByteBuffer.wrap(frame), ETH, ArpPacket.LENGTH)).isTrue();
    }

    @Test
    void otherHardwareOrProtocolIsNotEthernetIpv4() {
        for (int[] patch : new int[][] {{1, 6}, {3, 0x86}, {4, 8}, {5, 16}}) {
            byte[] frame = Fixtures.frame(Fixtures.ARP_REQUEST_FROM_GATEWAY);
            frame[ETH + patch[0]] = (byte) patch[1];
            arp.wrap(ByteBuffer.wrap(frame), ETH, frame.length - ETH);
            assertThat(arp.isEthernetIpv4()).as("byte %d = %d", patch[0], patch[1]).isFalse();
        }
    }

    @Test
    void roundTripsRandomPackets() {
        ByteBuffer buffer = ByteBuffer.allocate(ArpPacket.LENGTH + 5);
        qt().forAll(integers().between(0, 0xffff), longs().between(0, MacAddress.BROADCAST_BITS),
                longs().between(0, MacAddress.BROADCAST_BITS), integers().all())
                .checkAssert((op, sha, tha, ip) -> {
                    ArpPacket writer = new ArpPacket();
                    writer.wrap(buffer, 5, ArpPacket.LENGTH);
                    writer.set(op, sha, ip, tha, ~ip);
                    ArpPacket reader = new ArpPacket();
                    assertThat(reader.wrap(buffer.duplicate(), 5, ArpPacket.LENGTH)).isTrue();
                    assertThat(reader.isEthernetIpv4()).isTrue();
                    assertThat(reader.operation()).isEqualTo(op);
                    assertThat(reader.senderMac()).isEqualTo(sha);
                    assertThat(reader.senderIp()).isEqualTo(ip);
                    assertThat(reader.targetMac()).isEqualTo(tha);
                    assertThat(reader.targetIp()).isEqualTo(~ip);
                });
    }
}
