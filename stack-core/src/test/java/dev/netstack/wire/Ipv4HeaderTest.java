package dev.netstack.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import dev.netstack.testing.Fixtures;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

class Ipv4HeaderTest {
    private static final int ETH = EthernetHeader.HEADER_LENGTH;
    private static final int GUEST_IP = 0x0a00_020f;
    private static final int GATEWAY_IP = 0x0a00_0202;

    private final Ipv4Header ip = new Ipv4Header();

    @Test
    void parsesTheGuestDatagramHeader() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        assertThat(ip.wrap(ByteBuffer.wrap(frame), ETH, frame.length - ETH)).isTrue();
        assertThat(ip.offset()).isEqualTo(ETH);
        assertThat(ip.version()).isEqualTo(4);
        assertThat(ip.ihl()).isEqualTo(5);
        assertThat(ip.headerLength()).isEqualTo(20);
        assertThat(ip.tos()).isZero();
        assertThat(ip.totalLength()).isEqualTo(47).isEqualTo(frame.length - ETH);
        assertThat(ip.identification()).isZero();
        assertThat(ip.flagsAndFragment()).isZero();
        assertThat(ip.dontFragment()).isFalse();
        assertThat(ip.moreFragments()).isFalse();
        assertThat(ip.fragmentOffsetBytes()).isZero();
        assertThat(ip.isFragment()).isFalse();
        assertThat(ip.ttl()).isEqualTo(100);
        assertThat(ip.protocol()).isEqualTo(Ipv4Header.PROTOCOL_UDP);
        assertThat(ip.checksum()).isEqualTo(0x3eae);
        assertThat(ip.isChecksumValid()).isTrue();
        assertThat(Ipv4Address.of(ip.source())).hasToString("10.0.2.15");
        assertThat(Ipv4Address.of(ip.destination())).hasToString("10.0.2.2");
    }

    @Test
    void parsesTheHostDatagramHeader() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST);
        assertThat(ip.wrap(ByteBuffer.wrap(frame), ETH, frame.length - ETH)).isTrue();
        assertThat(ip.version()).isEqualTo(4);
        assertThat(ip.headerLength()).isEqualTo(20);
        assertThat(ip.totalLength()).isEqualTo(45).isEqualTo(frame.length - ETH);
        assertThat(ip.ttl()).isEqualTo(64);
        assertThat(ip.protocol()).isEqualTo(Ipv4Header.PROTOCOL_UDP);
        assertThat(ip.checksum()).isEqualTo(0x62b0);
        assertThat(ip.isChecksumValid()).isTrue();
        assertThat(ip.source()).isEqualTo(GATEWAY_IP);
        assertThat(ip.destination()).isEqualTo(GUEST_IP);
    }

    @Test
    void setReproducesBothFixtureHeadersAndTheirChecksums() {
        assertThat(build(47, 100, GUEST_IP, GATEWAY_IP))
                .containsExactly(Arrays.copyOfRange(Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST), ETH, ETH + 20));
        assertThat(ip.checksum()).isEqualTo(0x3eae);
        assertThat(build(45, 64, GATEWAY_IP, GUEST_IP))
                .containsExactly(Arrays.copyOfRange(Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST), ETH, ETH + 20));
        assertThat(ip.checksum()).isEqualTo(0x62b0);
    }

    private byte[] build(int totalLength, int ttl, int source, int destination) {
        byte[] out = new byte[20];
        Arrays.fill(out, (byte) 0x5a);   // set(...) and fillChecksum must not depend on what was there
        ip.wrap(ByteBuffer.wrap(out), 0, out.length);
        ip.set(totalLength, 0, 0, ttl, Ipv4Header.PROTOCOL_UDP, source, destination);
        return out;
    }

    @Test
    void fillChecksumRestoresTheFixtureChecksumAfterItWasCleared() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        ip.wrap(ByteBuffer.wrap(frame), ETH, frame.length - ETH);
        ip.checksum(0xdead);
        assertThat(ip.isChecksumValid()).isFalse();
        ip.fillChecksum();
        assertThat(ip.checksum()).isEqualTo(0x3eae);
        assertThat(frame).containsExactly(Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST));
    }

    @Test
    void wrapRefusesFewerThanTwentyBytes() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        ByteBuffer buffer = ByteBuffer.wrap(frame);
        assertThat(ip.wrap(buffer, ETH, 19)).isFalse();
        assertThat(ip.wrap(buffer, ETH, 0)).isFalse();
        assertThat(ip.wrap(buffer, ETH, 20)).isTrue();
    }

    @Test
    void reportsATotalLengthLongerThanTheBufferSoTheLayerCanDrop() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        int available = frame.length - ETH;
        ip.wrap(ByteBuffer.wrap(frame), ETH, available);
        ip.totalLength(1500);
        ip.fillChecksum();
        assertThat(ip.isChecksumValid()).isTrue();
        assertThat(ip.totalLength()).isEqualTo(1500).isGreaterThan(available);
        ip.totalLength(19);
        assertThat(ip.totalLength()).isLessThan(ip.headerLength());
    }

    @Test
    void reportsAnIhlBelowFiveAndAnOtherVersionAsTheyAre() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        ip.wrap(ByteBuffer.wrap(frame), ETH, frame.length - ETH);
        frame[ETH] = 0x44;
        assertThat(ip.version()).isEqualTo(4);
        assertThat(ip.ihl()).isEqualTo(4);
        assertThat(ip.headerLength()).isEqualTo(16).isLessThan(Ipv4Header.MIN_HEADER_LENGTH);
        frame[ETH] = 0x40;
        assertThat(ip.headerLength()).isZero();
        assertThat(ip.isChecksumValid()).as("an empty header has no valid checksum").isFalse();
        frame[ETH] = 0x6f;
        assertThat(ip.version()).isEqualTo(6);
        assertThat(ip.headerLength()).isEqualTo(Ipv4Header.MAX_HEADER_LENGTH).isGreaterThan(frame.length - ETH - 20);
    }

    @Test
    void everySingleBitFlipInTheHeaderIsDetected() {
        for (String name : new String[] {Fixtures.UDP_GUEST_TO_HOST, Fixtures.UDP_HOST_TO_GUEST}) {
            for (int bit = 0; bit < 20 * 8; bit++) {
                byte[] frame = Fixtures.frame(name);
                frame[ETH + bit / 8] ^= (byte) (0x80 >>> (bit % 8));
                ip.wrap(ByteBuffer.wrap(frame), ETH, frame.length - ETH);
                if (ip.ihl() == 5) {
                    assertThat(ip.isChecksumValid()).as("%s bit %d flipped", name, bit).isFalse();
                }
            }
        }
    }

    @Test
    void flagsAndFragmentOffset() {
        ByteBuffer buffer = ByteBuffer.allocate(20);
        ip.wrap(buffer, 0, 20);
        ip.flagsAndFragment(Ipv4Header.FLAG_DONT_FRAGMENT);
        assertThat(ip.dontFragment()).isTrue();
        assertThat(ip.moreFragments()).isFalse();
        assertThat(ip.isFragment()).isFalse();
        ip.flagsAndFragment(Ipv4Header.FLAG_MORE_FRAGMENTS);
        assertThat(ip.isFragment()).isTrue();
        assertThat(ip.fragmentOffsetBytes()).isZero();
        ip.flagsAndFragment(185);   // last fragment at 1480 bytes
        assertThat(ip.moreFragments()).isFalse();
        assertThat(ip.isFragment()).isTrue();
        assertThat(ip.fragmentOffsetBytes()).isEqualTo(1480);
        ip.flagsAndFragment(Ipv4Header.FLAG_MORE_FRAGMENTS | 0x1fff);
        assertThat(ip.fragmentOffsetBytes()).isEqualTo(0x1fff * 8);
        assertThat(buffer.getShort(6)).isEqualTo((short) 0x3fff);
    }

    @Test
    void decrementTtlOnTheFixtureMatchesAFullRecompute() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        ip.wrap(ByteBuffer.wrap(frame), ETH, frame.length - ETH);
        ip.decrementTtl();
        assertThat(ip.ttl()).isEqualTo(99);
        assertThat(ip.isChecksumValid()).isTrue();
        int incremental = ip.checksum();
        ip.fillChecksum();
        assertThat(incremental).isEqualTo(ip.checksum()).isEqualTo(0x3fae);
    }

    @Test
    void optionsAreCoveredByTheChecksum() {
        ByteBuffer buffer = ByteBuffer.allocate(24);
        ip.wrap(buffer, 0, 24);
        ip.set(24, 7, 0, 64, Ipv4Header.PROTOCOL_ICMP, GUEST_IP, GATEWAY_IP);
        ip.versionAndHeaderLength(24);
        buffer.putInt(20, 0x9404_0000);   // router alert
        assertThat(ip.headerLength()).isEqualTo(24);
        assertThat(ip.isChecksumValid()).isFalse();
        ip.fillChecksum();
        assertThat(ip.isChecksumValid()).isTrue();
        buffer.put(22, (byte) 1);
        assertThat(ip.isChecksumValid()).isFalse();
    }

    @Test
    void roundTripsRandomHeaders() {
        Gen<int[]> fields = Generate.intArrays(Generate.constant(7), integers().all());
        qt().forAll(fields, integers().between(0, 0xff), integers().between(0, 40))
                .checkAssert((f, tos, padding) -> {
                    int totalLength = f[0] & 0xffff, id = f[1] & 0xffff, flags = f[2] & 0xffff;
                    int ttl = f[3] & 0xff, protocol = f[4] & 0xff, source = f[5], destination = f[6];
                    ByteBuffer buffer = ByteBuffer.allocate(padding + 20);
                    Ipv4Header writer = new Ipv4Header();
                    writer.wrap(buffer, padding, 20);
                    writer.set(totalLength, id, flags, ttl, protocol, source, destination);
                    writer.tos(tos);
                    writer.fillChecksum();

                    Ipv4Header reader = new Ipv4Header();
                    assertThat(reader.wrap(buffer.duplicate(), padding, 20)).isTrue();
                    assertThat(reader.version()).isEqualTo(4);
                    assertThat(reader.headerLength()).isEqualTo(20);
                    assertThat(reader.tos()).isEqualTo(tos);
                    assertThat(reader.totalLength()).isEqualTo(totalLength);
                    assertThat(reader.identification()).isEqualTo(id);
                    assertThat(reader.flagsAndFragment()).isEqualTo(flags);
                    assertThat(reader.ttl()).isEqualTo(ttl);
                    assertThat(reader.protocol()).isEqualTo(protocol);
                    assertThat(reader.source()).isEqualTo(source);
                    assertThat(reader.destination()).isEqualTo(destination);
                    assertThat(reader.isChecksumValid()).isTrue();
                });
    }

    @Test
    void decrementTtlKeepsRandomHeadersValid() {
        // random header bytes, options included: only version/IHL and a non-zero TTL are fixed
        Gen<byte[]> headers = integers().between(5, 15).flatMap(ihl ->
                Generate.byteArrays(Generate.constant(ihl * 4), Generate.bytes(Byte.MIN_VALUE, Byte.MAX_VALUE, (byte) 0))
                        .map(bytes -> {
                            bytes[0] = (byte) (0x40 | ihl);
                            return bytes;
                        }));
        qt().forAll(headers, integers().between(1, 255))
                .checkAssert((bytes, ttl) -> {
                    Ipv4Header header = new Ipv4Header();
                    header.wrap(ByteBuffer.wrap(bytes), 0, bytes.length);
                    header.ttl(ttl);
                    header.fillChecksum();
                    header.decrementTtl();
                    assertThat(header.ttl()).isEqualTo(ttl - 1);
                    assertThat(header.isChecksumValid()).as("checksum %04x", header.checksum()).isTrue();
                    int incremental = header.checksum();
                    header.fillChecksum();
                    assertThat(incremental).isEqualTo(header.checksum());
                });
    }

    @Test
    void setWritesWhatTheFieldSettersAndFillChecksumWrite() {
        // set() sums the checksum from the values and stores three words; the reference is the
        // field-by-field path, checksum read back from memory
        Gen<Integer> u16 = integers().between(0, 0xffff);
        // identification and flags in one int, TTL and protocol in one 16-bit value, both addresses in one long
        qt().forAll(u16, integers().all(), u16, longs().all()).checkAssert((length, idFlags, ttlProtocol, addresses) -> {
            int id = idFlags >>> 16;
            int flags = idFlags & 0xffff;
            int ttl = ttlProtocol >>> 8;
            int protocol = ttlProtocol & 0xff;
            int source = (int) (addresses >>> 32);
            int destination = addresses.intValue();
            byte[] fast = new byte[24];
            byte[] reference = new byte[24];
            Arrays.fill(fast, (byte) 0xa5);
            Arrays.fill(reference, (byte) 0xa5);
            ip.wrap(ByteBuffer.wrap(fast), 2, 22);
            ip.set(length, id, flags, ttl, protocol, source, destination);
            assertThat(ip.isChecksumValid()).isTrue();   // the fields read back: roundTripsRandomHeaders

            Ipv4Header slow = new Ipv4Header();
            slow.wrap(ByteBuffer.wrap(reference), 2, 22);
            slow.versionAndHeaderLength(20);
            slow.tos(0);
            slow.totalLength(length);
            slow.identification(id);
            slow.flagsAndFragment(flags);
            slow.ttl(ttl);
            slow.protocol(protocol);
            slow.source(source);
            slow.destination(destination);
            slow.fillChecksum();
            assertThat(fast).containsExactly(reference);   // the bytes around the header untouched too
        });
    }

    @Test
    void readsNetworkOrderWhateverByteOrderTheBufferIsSetTo() {
        byte[] frame = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        for (ByteBuffer b : new ByteBuffer[] {
                ByteBuffer.wrap(frame).order(java.nio.ByteOrder.LITTLE_ENDIAN),
                ByteBuffer.wrap(frame).asReadOnlyBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN),
                ByteBuffer.allocateDirect(frame.length).put(frame).clear().order(java.nio.ByteOrder.LITTLE_ENDIAN)}) {
            assertThat(ip.wrap(b, ETH, frame.length - ETH)).isTrue();
            assertThat(ip.version()).isEqualTo(4);
            assertThat(ip.totalLength()).isEqualTo(47);
            assertThat(ip.ttl()).isEqualTo(100);
            assertThat(ip.protocol()).isEqualTo(Ipv4Header.PROTOCOL_UDP);
            assertThat(ip.source()).isEqualTo(GUEST_IP);
            assertThat(ip.destination()).isEqualTo(GATEWAY_IP);
            assertThat(ip.checksum()).isEqualTo(0x3eae);
            assertThat(ip.isChecksumValid()).isTrue();
            EthernetHeader eth = new EthernetHeader();
            eth.wrap(b, 0, frame.length);
            assertThat(eth.etherType()).isEqualTo(EthernetHeader.TYPE_IPV4);
            long destinationMac = 0;
            for (int i = 0; i < 6; i++) {
                destinationMac = destinationMac << 8 | (frame[i] & 0xff);
            }
            assertThat(eth.destination()).isEqualTo(destinationMac);
        }
    }
}
