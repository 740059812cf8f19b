package dev.netstack.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;

import dev.netstack.testing.Fixtures;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.quicktheories.generators.Generate;

class UdpHeaderTest {
    private static final int ETH = EthernetHeader.HEADER_LENGTH;
    private static final int UDP = ETH + Ipv4Header.MIN_HEADER_LENGTH;
    private static final long GUEST_MAC = 0x5254_0012_3456L;
    private static final long GATEWAY_MAC = 0x5255_0a00_0202L;
    private static final int GUEST_IP = 0x0a00_020f;
    private static final int GATEWAY_IP = 0x0a00_0202;

    private final UdpHeader udp = new UdpHeader();

    @Test
    void parsesTheGuestDatagramWithoutChecksum() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        ByteBuffer buffer = ByteBuffer.wrap(frame);
        assertThat(udp.wrap(buffer, UDP, frame.length - UDP)).isTrue();
        assertThat(udp.offset()).isEqualTo(UDP);
        assertThat(udp.sourcePort()).isEqualTo(2000);
        assertThat(udp.destinationPort()).isEqualTo(25603);
        assertThat(udp.length()).isEqualTo(27).isEqualTo(frame.length - UDP);
        assertThat(udp.checksum()).isZero();
        assertThat(udp.isChecksumValid(GUEST_IP, GATEWAY_IP)).as("0 = not computed").isTrue();
        assertThat(payload(frame, udp)).isEqualTo("a message from xv6!");
    }

    @Test
    void parsesAndVerifiesTheHostDatagramChecksum() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST);
        assertThat(udp.wrap(ByteBuffer.wrap(frame), UDP, frame.length - UDP)).isTrue();
        assertThat(udp.sourcePort()).isEqualTo(25603);
        assertThat(udp.destinationPort()).isEqualTo(2000);
        assertThat(udp.length()).isEqualTo(25).isEqualTo(frame.length - UDP);
        assertThat(udp.checksum()).isEqualTo(0x3406);
        assertThat(udp.isChecksumValid(GATEWAY_IP, GUEST_IP)).isTrue();
        assertThat(udp.isChecksumValid(GATEWAY_IP, GUEST_IP + 1)).as("pseudo-header with another destination").isFalse();
        assertThat(payload(frame, udp)).isEqualTo("this is the host!");
    }

    private static String payload(byte[] frame, UdpHeader udp) {
        int start = udp.offset() + UdpHeader.HEADER_LENGTH;
        return new String(frame, start, udp.length() - UdpHeader.HEADER_LENGTH, StandardCharsets.US_ASCII);
    }

    @Test
    void buildsTheGuestFrameByteForByteKeepingChecksumZero() {
        byte[] built = buildFrame(MacAddress.BROADCAST_BITS, GUEST_MAC, 100, GUEST_IP, GATEWAY_IP, 2000, 25603,
                "a message from xv6!", false);
        assertThat(udp.checksum()).isZero();
        assertThat(built).containsExactly(Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST));
    }

    @Test
    void buildsTheHostFrameByteForByteWithChecksum0x3406() {
        byte[] built = buildFrame(GUEST_MAC, GATEWAY_MAC, 64, GATEWAY_IP, GUEST_IP, 25603, 2000,
                "this is the host!", true);
        assertThat(udp.checksum()).isEqualTo(0x3406);
        assertThat(built).containsExactly(Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST));
    }

    private byte[] buildFrame(long destinationMac, long sourceMac, int ttl, int sourceIp, int destinationIp,
            int sourcePort, int destinationPort, String text, boolean checksum) {
        byte[] payload = text.getBytes(StandardCharsets.US_ASCII);
        byte[] frame = new byte[UDP + UdpHeader.HEADER_LENGTH + payload.length];
        java.util.Arrays.fill(frame, (byte) 0xee);
        ByteBuffer buffer = ByteBuffer.wrap(frame);
        buffer.put(UDP + UdpHeader.HEADER_LENGTH, payload);

        udp.wrap(buffer, UDP, frame.length - UDP);
        udp.set(sourcePort, destinationPort, UdpHeader.HEADER_LENGTH + payload.length);
        if (checksum) {
            udp.fillChecksum(sourceIp, destinationIp);
        }
        Ipv4Header ip = new Ipv4Header();
        ip.wrap(buffer, ETH, frame.length - ETH);
        ip.set(frame.length - ETH, 0, 0, ttl, Ipv4Header.PROTOCOL_UDP, sourceIp, destinationIp);
        EthernetHeader ethernet = new EthernetHeader();
        ethernet.wrap(buffer, 0, frame.length);
        ethernet.destination(destinationMac);
        ethernet.source(sourceMac);
        ethernet.etherType(EthernetHeader.TYPE_IPV4);
        return frame;
    }

    @Test
    void wrapRefusesFewerThanEightBytes() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST);
        assertThat(udp.wrap(ByteBuffer.wrap(frame), UDP, 7)).isFalse();
        assertThat(udp.wrap(ByteBuffer.wrap(frame), UDP, 8)).isTrue();
    }

    @Test
    void reportsLengthsThatLieSoTheLayerCanDrop() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        int available = frame.length - UDP;
        udp.wrap(ByteBuffer.wrap(frame), UDP, available);
        udp.length(7);
        assertThat(udp.length()).isEqualTo(7).isLessThan(UdpHeader.HEADER_LENGTH);
        udp.length(0);
        assertThat(udp.length()).isZero();
        udp.length(available + 1);
        assertThat(udp.length()).isGreaterThan(available);
        udp.length(0xffff);
        assertThat(udp.length()).isEqualTo(0xffff);
        assertThat(udp.checksum()).as("length lies leave the other fields alone").isZero();
    }

    @Test
    void everySingleBitFlipOutsideTheLengthFieldIsDetected() {
        int length = Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST).length - UDP;
        for (int bit = 0; bit < length * 8; bit++) {
            int at = bit / 8;
            if (at == 4 || at == 5) {
                continue;   // the length field moves the checksummed range; covered by the lying-length test
            }
            byte[] frame = Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST);
            frame[UDP + at] ^= (byte) (0x80 >>> (bit % 8));
            udp.wrap(ByteBuffer.wrap(frame), UDP, length);
            assertThat(udp.isChecksumValid(GATEWAY_IP, GUEST_IP)).as("bit %d flipped", bit).isFalse();
        }
    }

    @Test
    void aShorterLengthFieldBreaksTheChecksum() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST);
        udp.wrap(ByteBuffer.wrap(frame), UDP, frame.length - UDP);
        udp.length(udp.length() - 1);
        assertThat(udp.isChecksumValid(GATEWAY_IP, GUEST_IP)).isFalse();
    }

    @Test
    void aComputedZeroChecksumIsSentAsAllOnes() {
        ByteBuffer buffer = ByteBuffer.allocate(UdpHeader.HEADER_LENGTH + 2);
        udp.wrap(buffer, 0, buffer.capacity());
        udp.set(1234, 53, buffer.capacity());
        udp.fillChecksum(GUEST_IP, GATEWAY_IP);
        int withZeroPayload = udp.checksum();
        // a payload word equal to that checksum makes the one's complement sum 0xffff: checksum 0
        buffer.putShort(UdpHeader.HEADER_LENGTH, (short) withZeroPayload);
        udp.fillChecksum(GUEST_IP, GATEWAY_IP);
        assertThat(udp.checksum()).isEqualTo(0xffff);
        assertThat(udp.isChecksumValid(GUEST_IP, GATEWAY_IP)).isTrue();
    }

    @Test
    void setClearsAStaleChecksum() {
        ByteBuffer buffer = ByteBuffer.allocate(8);
        buffer.putShort(6, (short) 0x1234);
        udp.wrap(buffer, 0, 8);
        udp.set(1, 2, 8);
        assertThat(udp.checksum()).isZero();
    }

    @Test
    void roundTripsRandomDatagramsAndTheirChecksums() {
        qt().forAll(integers().between(0, 0xffff), integers().between(0, 0xffff),
                Generate.byteArrays(integers().between(0, 64), Generate.bytes(Byte.MIN_VALUE, Byte.MAX_VALUE, (byte) 0)),
                integers().all())
                .checkAssert((sourcePort, destinationPort, payload, sourceIp) -> {
                    int destinationIp = Integer.rotateLeft(sourceIp, 7) ^ 0x5a5a;
                    ByteBuffer buffer = ByteBuffer.allocate(3 + UdpHeader.HEADER_LENGTH + payload.length);
                    buffer.put(3 + UdpHeader.HEADER_LENGTH, payload);
                    UdpHeader writer = new UdpHeader();
                    writer.wrap(buffer, 3, buffer.capacity() - 3);
                    writer.set(sourcePort, destinationPort, UdpHeader.HEADER_LENGTH + payload.length);
                    writer.fillChecksum(sourceIp, destinationIp);

                    UdpHeader reader = new UdpHeader();
                    assertThat(reader.wrap(buffer.duplicate(), 3, buffer.capacity() - 3)).isTrue();
                    assertThat(reader.sourcePort()).isEqualTo(sourcePort);
                    assertThat(reader.destinationPort()).isEqualTo(destinationPort);
                    assertThat(reader.length()).isEqualTo(UdpHeader.HEADER_LENGTH + payload.length);
                    assertThat(reader.checksum()).isNotZero();
                    assertThat(reader.isChecksumValid(sourceIp, destinationIp)).isTrue();
                    long pseudo = InternetChecksum.pseudoHeader(sourceIp, destinationIp, Ipv4Header.PROTOCOL_UDP,
                            reader.length());
                    assertThat(InternetChecksum.finish(InternetChecksum.add(buffer, 3, reader.length(), pseudo)))
                            .isZero();
                });
    }
}
