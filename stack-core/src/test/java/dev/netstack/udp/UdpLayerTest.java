package dev.netstack.udp;

import static dev.netstack.link.StackRig.PEER_IP;
import static dev.netstack.link.StackRig.PEER_MAC;
import static dev.netstack.link.StackRig.STACK_IP;
import static dev.netstack.link.StackRig.STACK_MAC;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.link.Frames;
import dev.netstack.link.StackRig;
import dev.netstack.metrics.Drop;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import dev.netstack.wire.UdpHeader;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** UDP on the wire: checksums, length rules and demultiplexing. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class UdpLayerTest {
    static final int PORT = 7000;

    static byte[] frameWithUdp(byte[] udp, Ipv4Address destination) {
        return Frames.padded(Frames.ethernet(STACK_MAC.bits(), PEER_MAC.bits(), EthernetHeader.TYPE_IPV4,
                Frames.ipv4(PEER_IP.bits(), destination.bits(), Ipv4Header.PROTOCOL_UDP, udp)));
    }

    static byte[] payloadOf(ByteBuffer in) {
        in.flip();
        byte[] out = new byte[in.remaining()];
        in.get(out);
        return out;
    }

    @Test
    void theChecksumIsFilledOnSend() {
        Random random = new Random(5);
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            for (int size : new int[] {0, 1, 2, 17, 1000, 1472}) {
                byte[] payload = new byte[size];
                random.nextBytes(payload);
                socket.sendTo(ByteBuffer.wrap(payload), PEER_IP, 5000 + size);
                int port = 5000 + size;
                byte[] frame = rig.peer.await(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP) && Frames.udpView(f).destinationPort() == port,
                        "datagram of " + size);
                UdpHeader udp = Frames.udpView(frame);
                assertThat(udp.sourcePort()).isEqualTo(4000);
                assertThat(udp.length()).isEqualTo(8 + size);
                assertThat(udp.checksum()).as("a checksum is always sent").isNotZero();
                assertThat(udp.isChecksumValid(STACK_IP.bits(), PEER_IP.bits())).isTrue();
                assertThat(Frames.ipView(frame).isChecksumValid()).isTrue();
            }
        }
    }

    @Test
    void aSocketWithChecksumsOffSendsZeroAndTheOptionTakesEffectPerSend() {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            assertThat(socket.checksums()).as("on by default").isTrue();
            byte[] payload = new byte[1472];
            new Random(7).nextBytes(payload);
            socket.checksums(false).sendTo(ByteBuffer.wrap(payload), PEER_IP, 5001);
            socket.checksums(true).sendTo(ByteBuffer.wrap(payload), PEER_IP, 5002);
            byte[] off = rig.peer.await(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP) && Frames.udpView(f).destinationPort() == 5001,
                    "datagram without a checksum");
            byte[] on = rig.peer.await(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP) && Frames.udpView(f).destinationPort() == 5002,
                    "datagram with a checksum");
            assertThat(Frames.udpView(off).checksum()).as("0: no checksum (RFC 768)").isZero();
            assertThat(Frames.udpView(off).length()).isEqualTo(8 + payload.length);
            assertThat(Frames.ipView(off).isChecksumValid()).as("the IP header's own checksum stays").isTrue();
            assertThat(Frames.udpView(on).checksum()).isNotZero();
            assertThat(Frames.udpView(on).isChecksumValid(STACK_IP.bits(), PEER_IP.bits())).isTrue();
        }
    }

    @Test
    void aBadChecksumIsDroppedAndZeroMeansNone() throws Exception {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(PORT)) {
            byte[] bad = Frames.udp(PEER_IP.bits(), STACK_IP.bits(), 5000, PORT, new byte[] {1, 2, 3});
            bad[6] ^= 0x01;
            rig.inject(frameWithUdp(bad, STACK_IP));
            rig.awaitDrops(Drop.UDP_BAD_CHECKSUM, 1);

            byte[] none = Frames.udp(PEER_IP.bits(), STACK_IP.bits(), 5000, PORT, new byte[] {4, 5, 6});
            none[6] = 0;
            none[7] = 0;
            rig.inject(frameWithUdp(none, STACK_IP));
            ByteBuffer in = ByteBuffer.allocate(100);
            assertThat(socket.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(payloadOf(in)).containsExactly(4, 5, 6);
            assertThat(socket.tryReceive(in.clear())).isNull();
        }
    }

    @Test
    void lengthsShorterThanTheHeaderOrLongerThanThePacketAreDropped() throws Exception {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(PORT)) {
            byte[] tooShort = Frames.udp(PEER_IP.bits(), STACK_IP.bits(), 5000, PORT, new byte[4]);
            tooShort[4] = 0;
            tooShort[5] = 7;
            tooShort[6] = 0;
            tooShort[7] = 0;
            rig.inject(frameWithUdp(tooShort, STACK_IP));
            byte[] tooLong = Frames.udp(PEER_IP.bits(), STACK_IP.bits(), 5000, PORT, new byte[4]);
            tooLong[5] = 13;   // 12 bytes are there
            tooLong[6] = 0;
            tooLong[7] = 0;
            rig.inject(frameWithUdp(tooLong, STACK_IP));
            byte[] truncated = new byte[6];   // not even a header
            rig.inject(frameWithUdp(truncated, STACK_IP));
            rig.awaitDrops(Drop.UDP_MALFORMED, 3);
            assertThat(socket.receive(ByteBuffer.allocate(10), Duration.ofMillis(50))).isNull();
        }
    }

    @Test
    void aUdpLengthShorterThanTheIpPayloadIsTrimmedToIt() throws Exception {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(PORT)) {
            byte[] datagram = Frames.udp(PEER_IP.bits(), STACK_IP.bits(), 5000, PORT, new byte[] {1, 2, 3, 4});
            byte[] withTrailer = new byte[datagram.length + 6];
            System.arraycopy(datagram, 0, withTrailer, 0, datagram.length);
            java.util.Arrays.fill(withTrailer, datagram.length, withTrailer.length, (byte) 0x77);
            rig.inject(frameWithUdp(withTrailer, STACK_IP));
            ByteBuffer in = ByteBuffer.allocate(100);
            assertThat(socket.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(payloadOf(in)).containsExactly(1, 2, 3, 4);
        }
    }

    @Test
    void theMostSpecificSocketWinsConnectedThenBoundAddressThenWildcard() throws Exception {
        try (StackRig rig = StackRig.start();
                UdpSocket wildcard = rig.stack.openUdpSocket().reuseAddress(true).bind(PORT);
                UdpSocket bound = rig.stack.openUdpSocket().reuseAddress(true).bind(STACK_IP, PORT);
                UdpSocket connected = rig.stack.openUdpSocket().reuseAddress(true).bind(PORT).connect(PEER_IP, 5001)) {
            rig.inject(Frames.udpFrame(STACK_MAC.bits(), PEER_MAC.bits(), PEER_IP, STACK_IP, 5001, PORT, new byte[] {1}));
            rig.inject(Frames.udpFrame(STACK_MAC.bits(), PEER_MAC.bits(), PEER_IP, STACK_IP, 5002, PORT, new byte[] {2}));
            rig.inject(Frames.udpFrame(MacAddress.BROADCAST_BITS, PEER_MAC.bits(), PEER_IP, Ipv4Address.BROADCAST, 5003, PORT, new byte[] {3}));
            ByteBuffer in = ByteBuffer.allocate(10);
            InetSocketAddress from = connected.receive(in, Duration.ofSeconds(5));
            assertThat(from.getPort()).isEqualTo(5001);
            assertThat(payloadOf(in)).containsExactly(1);
            in.clear();
            assertThat(bound.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(payloadOf(in)).containsExactly(2);
            in.clear();
            assertThat(wildcard.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(payloadOf(in)).as("a broadcast from another port matches neither the bound address nor the connected peer").containsExactly(3);
            assertThat(connected.queuedDatagrams() + bound.queuedDatagrams() + wildcard.queuedDatagrams()).isZero();
        }
    }

    @Test
    void connectedSocketsOnlyReceiveFromTheirPeer() throws Exception {
        try (StackRig rig = StackRig.start(); UdpSocket connected = rig.stack.openUdpSocket().bind(PORT).connect(PEER_IP, 5001)) {
            rig.inject(Frames.udpFrame(STACK_MAC.bits(), PEER_MAC.bits(), PEER_IP, STACK_IP, 5002, PORT, new byte[] {2}));
            rig.awaitDrops(Drop.UDP_NO_SOCKET, 1);
            assertThat(connected.tryReceive(ByteBuffer.allocate(10))).isNull();
        }
    }
}
