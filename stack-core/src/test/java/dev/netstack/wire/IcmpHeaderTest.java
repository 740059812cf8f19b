package dev.netstack.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class IcmpHeaderTest {
    private final IcmpHeader icmp = new IcmpHeader();

    /** Echo request as Linux ping sends it: id 0x1c2b, sequence 1, 8 bytes of data "abcdefgh". */
    @Test
    void buildsAnEchoRequest() {
        byte[] data = "abcdefgh".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer buffer = ByteBuffer.allocate(IcmpHeader.HEADER_LENGTH + data.length);
        buffer.put(IcmpHeader.HEADER_LENGTH, data);
        assertThat(icmp.wrap(buffer, 0, buffer.capacity())).isTrue();
        icmp.type(IcmpHeader.TYPE_ECHO_REQUEST);
        icmp.code(0);
        icmp.identifier(0x1c2b);
        icmp.sequence(1);
        icmp.fillChecksum(buffer.capacity());

        // 0800 + 1c2b + 0001 + 6162 + 6364 + 6566 + 6768 = 0x1b5c0, folded 0xb5c1: checksum 0x4a3e
        assertThat(icmp.checksum()).isEqualTo(0x4a3e);
        assertThat(buffer.array()).containsExactly(0x08, 0x00, 0x4a, 0x3e, 0x1c, 0x2b, 0x00, 0x01,
                'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
        assertThat(icmp.isChecksumValid(buffer.capacity())).isTrue();
        assertThat(icmp.type()).isEqualTo(8);
        assertThat(icmp.code()).isZero();
        assertThat(icmp.identifier()).isEqualTo(0x1c2b);
        assertThat(icmp.sequence()).isEqualTo(1);
        assertThat(icmp.restOfHeader()).isEqualTo(0x1c2b_0001);

        buffer.put(15, (byte) 'i');
        assertThat(icmp.isChecksumValid(buffer.capacity())).as("data is covered").isFalse();
    }

    /** Port unreachable for the guest's datagram: the offending IP header and 8 bytes of its payload. */
    @Test
    void buildsADestinationUnreachableQuotingTheDatagram() {
        byte[] quoted = java.util.HexFormat.of().parseHex(
                "4500002f0000000064113eae0a00020f0a00020207d06403001b0000");
        ByteBuffer buffer = ByteBuffer.allocate(IcmpHeader.HEADER_LENGTH + quoted.length);
        buffer.putInt(4, 0xdeadbeef);   // unused word must be cleared by the builder
        buffer.put(IcmpHeader.HEADER_LENGTH, quoted);
        icmp.wrap(buffer, 0, buffer.capacity());
        icmp.type(IcmpHeader.TYPE_DESTINATION_UNREACHABLE);
        icmp.code(IcmpHeader.CODE_PORT_UNREACHABLE);
        icmp.restOfHeader(0);
        icmp.fillChecksum(buffer.capacity());

        assertThat(icmp.type()).isEqualTo(3);
        assertThat(icmp.code()).isEqualTo(3);
        assertThat(icmp.restOfHeader()).isZero();
        assertThat(icmp.checksum()).isEqualTo(InternetChecksum.finish(InternetChecksum.add(buffer, 0, 2, 0)
                + InternetChecksum.add(buffer, 4, buffer.capacity() - 4, 0)));
        assertThat(icmp.isChecksumValid(buffer.capacity())).isTrue();

        Ipv4Header inner = new Ipv4Header();
        assertThat(inner.wrap(buffer, IcmpHeader.HEADER_LENGTH, quoted.length)).isTrue();
        assertThat(inner.isChecksumValid()).isTrue();
        assertThat(inner.protocol()).isEqualTo(Ipv4Header.PROTOCOL_UDP);
        UdpHeader udp = new UdpHeader();
        assertThat(udp.wrap(buffer, IcmpHeader.HEADER_LENGTH + inner.headerLength(), 8)).isTrue();
        assertThat(udp.destinationPort()).isEqualTo(25603);
    }

    @Test
    void everySingleBitFlipIsDetected() {
        ByteBuffer buffer = ByteBuffer.allocate(20);
        icmp.wrap(buffer, 0, 20);
        icmp.type(IcmpHeader.TYPE_ECHO_REPLY);
        icmp.identifier(7);
        icmp.sequence(9);
        buffer.put(12, (byte) 0x42);
        icmp.fillChecksum(20);
        for (int bit = 0; bit < 20 * 8; bit++) {
            buffer.put(bit / 8, (byte) (buffer.get(bit / 8) ^ (0x80 >>> (bit % 8))));
            assertThat(icmp.isChecksumValid(20)).as("bit %d flipped", bit).isFalse();
            buffer.put(bit / 8, (byte) (buffer.get(bit / 8) ^ (0x80 >>> (bit % 8))));
        }
        assertThat(icmp.isChecksumValid(20)).isTrue();
    }

    @Test
    void oddLengthMessagesAreChecksummedWithAPaddedLastByte() {
        ByteBuffer buffer = ByteBuffer.allocate(16);
        icmp.wrap(buffer, 2, 9);
        icmp.type(IcmpHeader.TYPE_ECHO_REQUEST);
        buffer.put(2 + 8, (byte) 0x01);
        buffer.put(2 + 9, (byte) 0x77);   // beyond the message: must not count
        icmp.fillChecksum(9);
        // 0x0800 + 0x0100 (0x01 padded) = 0x0900 → 0xf6ff
        assertThat(icmp.checksum()).isEqualTo(0xf6ff);
        assertThat(icmp.isChecksumValid(9)).isTrue();
    }

    @Test
    void wrapRefusesTruncatedHeaders() {
        ByteBuffer buffer = ByteBuffer.allocate(16);
        assertThat(icmp.wrap(buffer, 0, 7)).isFalse();
        assertThat(icmp.wrap(buffer, 8, 8)).isTrue();
        assertThat(icmp.offset()).isEqualTo(8);
    }

    @Test
    void roundTripsRandomFields() {
        qt().forAll(integers().between(0, 255), integers().between(0, 255), integers().between(0, 0xffff),
                integers().between(0, 0xffff))
                .checkAssert((type, code, identifier, sequence) -> {
                    ByteBuffer buffer = ByteBuffer.allocate(IcmpHeader.HEADER_LENGTH + 4);
                    IcmpHeader writer = new IcmpHeader();
                    writer.wrap(buffer, 4, IcmpHeader.HEADER_LENGTH);
                    writer.type(type);
                    writer.code(code);
                    writer.identifier(identifier);
                    writer.sequence(sequence);
                    writer.fillChecksum(IcmpHeader.HEADER_LENGTH);
                    IcmpHeader reader = new IcmpHeader();
                    assertThat(reader.wrap(buffer.duplicate(), 4, IcmpHeader.HEADER_LENGTH)).isTrue();
                    assertThat(reader.type()).isEqualTo(type);
                    assertThat(reader.code()).isEqualTo(code);
                    assertThat(reader.identifier()).isEqualTo(identifier);
                    assertThat(reader.sequence()).isEqualTo(sequence);
                    assertThat(reader.restOfHeader()).isEqualTo(identifier << 16 | sequence);
                    assertThat(reader.isChecksumValid(IcmpHeader.HEADER_LENGTH)).isTrue();
                });
    }
}
