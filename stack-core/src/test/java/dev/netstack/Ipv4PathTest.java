package dev.netstack;

import static dev.netstack.link.StackRig.PEER_IP;
import static dev.netstack.link.StackRig.PEER_MAC;
import static dev.netstack.link.StackRig.STACK_IP;
import static dev.netstack.link.StackRig.STACK_MAC;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.link.Frames;
import dev.netstack.link.StackRig;
import dev.netstack.metrics.Drop;
import dev.netstack.socket.NoRouteException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** IPv4 input checks, Ethernet padding, protocol unreachable and routing, seen on the wire. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class Ipv4PathTest {
    static final int PORT = 7000;

    static byte[] udpFrameToUs(byte[] payload) {
        return Frames.udpFrame(STACK_MAC.bits(), PEER_MAC.bits(), PEER_IP, STACK_IP, 5000, PORT, payload);
    }

    static final int IP = EthernetHeader.HEADER_LENGTH;

    /** A valid UDP frame to our port, its IP header bytes changed by {@code edit}, the header checksum refilled when asked. */
    static byte[] mangled(Consumer<ByteBuffer> edit, boolean refillChecksum) {
        byte[] frame = udpFrameToUs(new byte[] {1, 2, 3, 4});
        ByteBuffer b = ByteBuffer.wrap(frame);
        edit.accept(b);
        if (refillChecksum) {
            b.putShort(IP + 10, (short) 0);
            b.putShort(IP + 10, (short) InternetChecksum.compute(b, IP, 20));
        }
        return frame;
    }

    void assertDroppedAs(byte[] frame, Drop reason) {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(PORT)) {
            rig.inject(frame);
            rig.awaitDrops(reason, 1);
            // a good datagram after it still arrives, and only that one
            rig.inject(udpFrameToUs(new byte[] {9}));
            ByteBuffer in = ByteBuffer.allocate(100);
            assertThat(socket.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(in.position()).isEqualTo(1);
            assertThat(socket.tryReceive(in.clear())).isNull();
            assertThat(rig.stack.counters().drops(dev.netstack.metrics.Layer.IPV4)).isEqualTo(1);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void versionSixInAnIpv4FrameIsMalformed() {
        assertDroppedAs(mangled(b -> b.put(IP, (byte) 0x65), true), Drop.IPV4_MALFORMED);   // version 6, IHL 5
    }

    @Test
    void ihlBelowFiveIsMalformed() {
        assertDroppedAs(mangled(b -> b.put(IP, (byte) 0x44), true), Drop.IPV4_MALFORMED);
    }

    @Test
    void totalLengthShorterThanTheHeaderIsDropped() {
        assertDroppedAs(mangled(b -> b.putShort(IP + 2, (short) 19), true), Drop.IPV4_BAD_LENGTH);
    }

    @Test
    void totalLengthLongerThanTheFrameIsDropped() {
        assertDroppedAs(mangled(b -> b.putShort(IP + 2, (short) 1000), true), Drop.IPV4_BAD_LENGTH);
    }

    @Test
    void badHeaderChecksumIsDropped() {
        assertDroppedAs(mangled(b -> b.put(IP + 8, (byte) 63), false), Drop.IPV4_BAD_CHECKSUM);
    }

    @Test
    void aDestinationThatIsNotUsIsDropped() {
        assertDroppedAs(Frames.udpFrame(STACK_MAC.bits(), PEER_MAC.bits(), PEER_IP, Ipv4Address.parse("10.0.2.99"), 5000, PORT, new byte[] {1}),
                Drop.IPV4_NOT_FOR_US);
    }

    @Test
    void ethernetPaddingIsTrimmed() throws Exception {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(PORT)) {
            byte[] frame = udpFrameToUs(new byte[] {7, 8});
            assertThat(frame).hasSize(EthernetHeader.MIN_FRAME_LENGTH);   // 14 + 20 + 8 + 2 = 44, padded to 60
            Arrays.fill(frame, 44, 60, (byte) 0x55);                      // padding need not be zero
            rig.inject(frame);
            ByteBuffer in = ByteBuffer.allocate(100);
            assertThat(socket.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(in.flip()).isEqualTo(ByteBuffer.wrap(new byte[] {7, 8}));
            assertThat(rig.drops(Drop.UDP_BAD_CHECKSUM)).isZero();
        }
    }

    @Test
    void broadcastsToUsAreAccepted() throws Exception {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(PORT)) {
            rig.inject(Frames.udpFrame(MacAddress.BROADCAST_BITS, PEER_MAC.bits(), PEER_IP, Ipv4Address.BROADCAST, 5000, PORT, new byte[] {1}));
            rig.inject(Frames.udpFrame(MacAddress.BROADCAST_BITS, PEER_MAC.bits(), PEER_IP, Ipv4Address.parse("10.0.2.255"), 5000, PORT, new byte[] {2}));
            ByteBuffer in = ByteBuffer.allocate(10);
            assertThat(socket.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(socket.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(in.flip()).isEqualTo(ByteBuffer.wrap(new byte[] {1, 2}));
        }
    }

    @Test
    void anUnknownProtocolIsAnsweredWithProtocolUnreachable() {
        try (StackRig rig = StackRig.start()) {
            byte[] payload = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
            byte[] offending = Frames.ipv4(PEER_IP.bits(), STACK_IP.bits(), 253, payload);
            rig.inject(Frames.padded(Frames.ethernet(STACK_MAC.bits(), PEER_MAC.bits(), EthernetHeader.TYPE_IPV4, offending)));
            byte[] error = rig.peer.await(f -> Frames.isIcmp(f, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PROTOCOL_UNREACHABLE),
                    "ICMP protocol unreachable");
            assertThat(rig.drops(Drop.IPV4_UNKNOWN_PROTOCOL)).isEqualTo(1);
            assertThat(Frames.destinationMac(error)).isEqualTo(PEER_MAC.bits());
            Ipv4Header ip = Frames.ipView(error);
            assertThat(ip.isChecksumValid()).isTrue();
            assertThat(ip.source()).isEqualTo(STACK_IP.bits());
            assertThat(ip.destination()).isEqualTo(PEER_IP.bits());
            assertThat(ip.totalLength()).isEqualTo(20 + 8 + offending.length);
            assertThat(Frames.icmpChecksumValid(error)).isTrue();
            int quoteAt = Frames.transportOffset(error) + IcmpHeader.HEADER_LENGTH;
            assertThat(Arrays.copyOfRange(error, quoteAt, quoteAt + offending.length)).as("the whole offending datagram is quoted").isEqualTo(offending);
        }
    }

    @Test
    void protocolUnreachableIsRateLimited() {
        try (StackRig rig = StackRig.start(b -> b.icmpErrorsPerSecond(2))) {
            rig.introducePeer();
            byte[] frame = Frames.padded(Frames.ethernet(STACK_MAC.bits(), PEER_MAC.bits(), EthernetHeader.TYPE_IPV4,
                    Frames.ipv4(PEER_IP.bits(), STACK_IP.bits(), 253, new byte[8])));
            for (int i = 0; i < 20; i++) {
                rig.inject(frame);
            }
            rig.awaitDrops(Drop.IPV4_UNKNOWN_PROTOCOL, 20);
            assertThat(rig.drops(Drop.ICMP_RATE_LIMITED)).isEqualTo(19);
            assertThat(rig.peer.count(f -> Frames.isIcmp(f, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PROTOCOL_UNREACHABLE)))
                    .isEqualTo(1);
            rig.clock.advanceMillis(500);   // one token a 500 ms
            rig.inject(frame);
            rig.peer.awaitCount(f -> Frames.isIcmp(f, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PROTOCOL_UNREACHABLE), 2,
                    "a second error once a token is back");
        }
    }

    @Test
    void onSubnetDestinationsAreSentDirectly() {
        try (StackRig rig = StackRig.start(b -> b.gateway("10.0.2.1")); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            socket.sendTo(ByteBuffer.wrap(new byte[] {1}), PEER_IP, 5000);
            rig.peer.await(f -> Frames.isArpRequestFor(f, PEER_IP.bits()), "ARP request for the peer itself");
            byte[] frame = rig.peer.await(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP), "datagram");
            assertThat(Frames.destinationMac(frame)).isEqualTo(PEER_MAC.bits());
            assertThat(Frames.ipView(frame).destination()).isEqualTo(PEER_IP.bits());
            assertThat(rig.peer.count(f -> Frames.isArpRequestFor(f, Ipv4Address.parse("10.0.2.1").bits()))).isZero();
        }
    }

    @Test
    void offSubnetDestinationsGoThroughTheGateway() {
        try (StackRig rig = StackRig.start(b -> b.gateway(PEER_IP)); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            Ipv4Address far = Ipv4Address.parse("192.0.2.33");
            socket.sendTo(ByteBuffer.wrap(new byte[] {1}), far, 53);
            rig.peer.await(f -> Frames.isArpRequestFor(f, PEER_IP.bits()), "ARP request for the gateway");
            byte[] frame = rig.peer.await(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP), "datagram");
            assertThat(Frames.destinationMac(frame)).isEqualTo(PEER_MAC.bits());
            assertThat(Frames.ipView(frame).destination()).isEqualTo(far.bits());
            assertThat(rig.peer.count(f -> Frames.isArpRequestFor(f, far.bits()))).isZero();
        }
    }

    @Test
    void offSubnetWithoutAGatewayIsNoRoute() {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            Ipv4Address far = Ipv4Address.parse("192.0.2.33");
            assertThatThrownBy(() -> socket.sendTo(ByteBuffer.wrap(new byte[] {1}), far, 53))
                    .isInstanceOf(NoRouteException.class)
                    .hasMessageContaining("no route to 192.0.2.33")
                    .hasMessageContaining("no gateway");
            assertThatThrownBy(() -> rig.stack.ping(far, 8, Duration.ofSeconds(1)))
                    .isInstanceOf(NoRouteException.class)
                    .hasMessageContaining("no route to 192.0.2.33")
                    .hasMessageContaining("no gateway");
            assertThat(rig.drops(Drop.IPV4_NO_ROUTE)).isEqualTo(2);
            assertThat(rig.peer.count(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP) || Frames.isIpv4(f, Ipv4Header.PROTOCOL_ICMP))).isZero();
        }
    }

    @Test
    void anUnconfiguredStackHasNoRoute() {
        try (StackRig rig = StackRig.unconfigured(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            assertThatThrownBy(() -> socket.sendTo(ByteBuffer.wrap(new byte[] {1}), PEER_IP, 53))
                    .isInstanceOf(NoRouteException.class)
                    .hasMessageContaining("no IPv4 address");
        }
    }
}
