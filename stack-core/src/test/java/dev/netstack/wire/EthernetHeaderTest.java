package dev.netstack.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import dev.netstack.testing.Fixtures;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class EthernetHeaderTest {
    private static final long GUEST_MAC = 0x5254_0012_3456L;
    private static final long GATEWAY_MAC = 0x5255_0a00_0202L;

    private final EthernetHeader ethernet = new EthernetHeader();

    @Test
    void parsesEveryFixtureFrame() {
        assertFrame(Fixtures.UDP_GUEST_TO_HOST, MacAddress.BROADCAST_BITS, GUEST_MAC, EthernetHeader.TYPE_IPV4);
        assertFrame(Fixtures.ARP_REQUEST_FROM_GATEWAY, MacAddress.BROADCAST_BITS, GATEWAY_MAC, EthernetHeader.TYPE_ARP);
        assertFrame(Fixtures.ARP_REPLY_FROM_GUEST, MacAddress.BROADCAST_BITS, GUEST_MAC, EthernetHeader.TYPE_ARP);
        assertFrame(Fixtures.UDP_HOST_TO_GUEST, GUEST_MAC, GATEWAY_MAC, EthernetHeader.TYPE_IPV4);
    }

    private void assertFrame(String name, long destination, long source, int etherType) {
        byte[] frame = Fixtures.frame(name);
        assertThat(ethernet.wrap(ByteBuffer.wrap(frame), 0, frame.length)).as(name).isTrue();
        assertThat(ethernet.offset()).isZero();
        assertThat(MacAddress.toString(ethernet.destination())).as(name).isEqualTo(MacAddress.toString(destination));
        assertThat(MacAddress.toString(ethernet.source())).as(name).isEqualTo(MacAddress.toString(source));
        assertThat(ethernet.etherType()).as(name).isEqualTo(etherType);
    }

    @Test
    void buildsTheHostFrameHeaderByteForByte() {
        byte[] fixture = Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST);
        ByteBuffer built = ByteBuffer.allocate(EthernetHeader.HEADER_LENGTH);
        ethernet.wrap(built, 0, built.capacity());
        ethernet.destination(GUEST_MAC);
        ethernet.source(GATEWAY_MAC);
        ethernet.etherType(EthernetHeader.TYPE_IPV4);
        assertThat(built.array()).containsExactly(java.util.Arrays.copyOf(fixture, EthernetHeader.HEADER_LENGTH));
    }

    @Test
    void wrapAtAnOffsetTouchesOnlyItsFourteenBytes() {
        ByteBuffer buffer = ByteBuffer.allocate(64);
        ethernet.wrap(buffer, 30, 34);
        ethernet.destination(MacAddress.BROADCAST_BITS);
        ethernet.source(GUEST_MAC);
        ethernet.etherType(EthernetHeader.TYPE_ARP);
        for (int i = 0; i < 64; i++) {
            if (i < 30 || i >= 44) {
                assertThat(buffer.get(i)).as("byte %d outside the header", i).isZero();
            }
        }
        assertThat(buffer.get(30)).isEqualTo((byte) 0xff);
        assertThat(buffer.getShort(42)).isEqualTo((short) 0x0806);
    }

    @Test
    void wrapRefusesTruncatedHeaders() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        ByteBuffer buffer = ByteBuffer.wrap(frame);
        assertThat(ethernet.wrap(buffer, 0, 13)).isFalse();
        assertThat(ethernet.wrap(buffer, 0, 0)).isFalse();
        assertThat(ethernet.wrap(buffer, 0, 14)).isTrue();
    }

    @Test
    void roundTripsRandomFields() {
        ByteBuffer buffer = ByteBuffer.allocate(EthernetHeader.HEADER_LENGTH);
        qt().forAll(longs().between(0, MacAddress.BROADCAST_BITS), longs().between(0, MacAddress.BROADCAST_BITS),
                integers().between(0, 0xffff))
                .checkAssert((destination, source, type) -> {
                    EthernetHeader writer = new EthernetHeader();
                    writer.wrap(buffer, 0, buffer.capacity());
                    writer.destination(destination);
                    writer.source(source);
                    writer.etherType(type);
                    EthernetHeader reader = new EthernetHeader();
                    assertThat(reader.wrap(buffer.duplicate(), 0, EthernetHeader.HEADER_LENGTH)).isTrue();
                    assertThat(reader.destination()).isEqualTo(destination);
                    assertThat(reader.source()).isEqualTo(source);
                    assertThat(reader.etherType()).isEqualTo(type);
                });
    }
}
