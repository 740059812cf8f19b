package dev.netstack.icmp;

import static dev.netstack.link.StackRig.PEER_IP;
import static dev.netstack.link.StackRig.PEER_MAC;
import static dev.netstack.link.StackRig.STACK_IP;
import static dev.netstack.link.StackRig.STACK_MAC;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.link.Frames;
import dev.netstack.link.StackRig;
import dev.netstack.metrics.Drop;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** ICMP: echo replies, checksums, and the rules about when errors are sent. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class IcmpLayerTest {
    static final int ID = 0x4242;

    static byte[] echoRequest(long ethernetDestination, Ipv4Address destination, int sequence, byte[] data) {
        byte[] icmp = Frames.icmp(IcmpHeader.TYPE_ECHO_REQUEST, 0, ID, sequence, data);
        return Frames.padded(Frames.ethernet(ethernetDestination, PEER_MAC.bits(), EthernetHeader.TYPE_IPV4,
                Frames.ipv4(PEER_IP.bits(), destination.bits(), Ipv4Header.PROTOCOL_ICMP, icmp)));
    }

    static boolean isEchoReply(byte[] frame, int sequence) {
        return Frames.isIcmp(frame, IcmpHeader.TYPE_ECHO_REPLY, 0) && Frames.icmpView(frame).sequence() == sequence;
    }

    static int errors(StackRig rig, int type, int code) {
        return rig.peer.count(f -> Frames.isIcmp(f, type, code));
    }

    @Test
    void echoRepliesCarryExactlyTheRequestData() {
        Random random = new Random(1234);
        int[] sizes = new int[40];
        sizes[0] = 0;
        sizes[1] = 1;
        sizes[2] = 1472;   // the largest that fits one 1500-byte packet
        sizes[3] = 1471;   // odd lengths exercise the checksum's last byte
        for (int i = 4; i < sizes.length; i++) {
            sizes[i] = random.nextInt(1473);
        }
        try (StackRig rig = StackRig.start()) {
            rig.introducePeer();
            for (int seq = 0; seq < sizes.length; seq++) {
                byte[] data = new byte[sizes[seq]];
                random.nextBytes(data);
                rig.inject(echoRequest(STACK_MAC.bits(), STACK_IP, seq, data));
                int s = seq;
                byte[] reply = rig.peer.await(f -> isEchoReply(f, s), "echo reply " + seq);
                assertThat(Frames.destinationMac(reply)).isEqualTo(PEER_MAC.bits());
                Ipv4Header ip = Frames.ipView(reply);
                assertThat(ip.isChecksumValid()).isTrue();
                assertThat(ip.source()).isEqualTo(STACK_IP.bits());
                assertThat(ip.destination()).isEqualTo(PEER_IP.bits());
                assertThat(ip.totalLength()).isEqualTo(20 + 8 + data.length);
                IcmpHeader icmp = Frames.icmpView(reply);
                assertThat(icmp.identifier()).isEqualTo(ID);
                assertThat(icmp.sequence()).isEqualTo(seq);
                assertThat(Frames.icmpChecksumValid(reply)).as("checksum of a %d-byte echo reply", data.length).isTrue();
                int at = Frames.transportOffset(reply) + IcmpHeader.HEADER_LENGTH;
                assertThat(Arrays.copyOfRange(reply, at, at + data.length)).isEqualTo(data);
            }
            assertThat(rig.stack.counters().drops(dev.netstack.metrics.Layer.ICMP)).isZero();
        }
    }

    @Test
    void aBadIcmpChecksumIsDropped() {
        try (StackRig rig = StackRig.start()) {
            rig.introducePeer();
            byte[] frame = echoRequest(STACK_MAC.bits(), STACK_IP, 1, new byte[] {1, 2, 3, 4});
            frame[Frames.transportOffset(frame) + IcmpHeader.HEADER_LENGTH] ^= 0x40;   // data changed, checksum not
            rig.inject(frame);
            rig.awaitDrops(Drop.ICMP_BAD_CHECKSUM, 1);
            rig.inject(echoRequest(STACK_MAC.bits(), STACK_IP, 2, new byte[] {1, 2, 3, 4}));
            rig.peer.await(f -> isEchoReply(f, 2), "reply to the good request");
            assertThat(rig.peer.count(f -> isEchoReply(f, 1))).isZero();
        }
    }

    @Test
    void broadcastEchoRequestsAreIgnored() {
        try (StackRig rig = StackRig.start()) {
            rig.introducePeer();
            rig.inject(echoRequest(MacAddress.BROADCAST_BITS, Ipv4Address.BROADCAST, 1, new byte[8]));
            rig.inject(echoRequest(MacAddress.BROADCAST_BITS, Ipv4Address.parse("10.0.2.255"), 2, new byte[8]));
            rig.inject(echoRequest(STACK_MAC.bits(), STACK_IP, 3, new byte[8]));
            rig.peer.await(f -> isEchoReply(f, 3), "reply to the unicast request");
            assertThat(rig.peer.count(f -> Frames.isIcmp(f, IcmpHeader.TYPE_ECHO_REPLY, 0))).isEqualTo(1);
        }
    }

    @Test
    void portUnreachableIsRateLimited() {
        try (StackRig rig = StackRig.start(b -> b.icmpErrorsPerSecond(10))) {   // a burst of one
            rig.introducePeer();
            for (int i = 0; i < 10; i++) {
                rig.inject(Frames.udpFrame(STACK_MAC.bits(), PEER_MAC.bits(), PEER_IP, STACK_IP, 5000, 9, new byte[] {(byte) i}));
            }
            rig.awaitDrops(Drop.UDP_NO_SOCKET, 10);
            assertThat(rig.drops(Drop.ICMP_RATE_LIMITED)).isEqualTo(9);
            byte[] error = rig.peer.await(f -> Frames.isIcmp(f, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE),
                    "port unreachable");
            assertThat(Frames.icmpChecksumValid(error)).isTrue();
            assertThat(errors(rig, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE)).isEqualTo(1);

            rig.clock.advanceMillis(100);
            rig.inject(Frames.udpFrame(STACK_MAC.bits(), PEER_MAC.bits(), PEER_IP, STACK_IP, 5000, 9, new byte[] {1}));
            rig.peer.awaitCount(f -> Frames.isIcmp(f, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE), 2,
                    "another error 100 ms later");
        }
    }

    @Test
    void noErrorsAboutBroadcasts() {
        try (StackRig rig = StackRig.start()) {
            rig.introducePeer();
            // UDP to a closed port at the limited and the directed broadcast
            rig.inject(Frames.udpFrame(MacAddress.BROADCAST_BITS, PEER_MAC.bits(), PEER_IP, Ipv4Address.BROADCAST, 5000, 9, new byte[] {1}));
            rig.inject(Frames.udpFrame(MacAddress.BROADCAST_BITS, PEER_MAC.bits(), PEER_IP, Ipv4Address.parse("10.0.2.255"), 5000, 9, new byte[] {1}));
            // unicast to us, but sent as a link-layer broadcast (RFC 1122 §3.2.2)
            rig.inject(Frames.udpFrame(MacAddress.BROADCAST_BITS, PEER_MAC.bits(), PEER_IP, STACK_IP, 5000, 9, new byte[] {1}));
            // unknown protocol to the directed broadcast
            rig.inject(Frames.padded(Frames.ethernet(MacAddress.BROADCAST_BITS, PEER_MAC.bits(), EthernetHeader.TYPE_IPV4,
                    Frames.ipv4(PEER_IP.bits(), Ipv4Address.parse("10.0.2.255").bits(), 253, new byte[8]))));
            rig.awaitDrops(Drop.IPV4_UNKNOWN_PROTOCOL, 1);
            rig.settle();
            assertThat(rig.drops(Drop.UDP_NO_SOCKET)).isEqualTo(3);
            assertThat(rig.peer.count(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_ICMP))).isZero();
            assertThat(rig.drops(Drop.ICMP_RATE_LIMITED)).isZero();
        }
    }

    @Test
    void noErrorsAboutIcmpErrorsButTimeExceededAboutAnEchoRequest() {
        try (StackRig rig = StackRig.start()) {
            rig.introducePeer();
            // the first fragment of an ICMP error that never completes ...
            byte[] quoted = Frames.ipv4(STACK_IP.bits(), PEER_IP.bits(), Ipv4Header.PROTOCOL_UDP, new byte[16]);
            byte[] icmpError = Frames.icmp(IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE, 0, 0, quoted);
            rig.inject(Frames.padded(Frames.ethernet(STACK_MAC.bits(), PEER_MAC.bits(), EthernetHeader.TYPE_IPV4,
                    Frames.ipv4(PEER_IP.bits(), STACK_IP.bits(), Ipv4Header.PROTOCOL_ICMP, Ipv4Header.FLAG_MORE_FRAGMENTS, icmpError))));
            // ... and of an echo request that never completes
            byte[] echo = Frames.icmp(IcmpHeader.TYPE_ECHO_REQUEST, 0, ID, 1, new byte[32]);
            byte[] echoPacket = Frames.ipv4(PEER_IP.bits(), STACK_IP.bits(), Ipv4Header.PROTOCOL_ICMP, Ipv4Header.FLAG_MORE_FRAGMENTS, echo);
            echoPacket[5] = 0x35;   // another identification than the first
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(echoPacket);
            b.putShort(10, (short) 0);
            b.putShort(10, (short) dev.netstack.wire.InternetChecksum.compute(b, 0, 20));
            rig.inject(Frames.padded(Frames.ethernet(STACK_MAC.bits(), PEER_MAC.bits(), EthernetHeader.TYPE_IPV4, echoPacket)));
            rig.settle();
            rig.clock.advance(Duration.ofSeconds(31));
            rig.stack.runTimers();
            byte[] exceeded = rig.peer.await(f -> Frames.isIcmp(f, IcmpHeader.TYPE_TIME_EXCEEDED, IcmpHeader.CODE_REASSEMBLY_TIME_EXCEEDED),
                    "time exceeded about the echo request");
            assertThat(Frames.icmpChecksumValid(exceeded)).isTrue();
            int quoteAt = Frames.transportOffset(exceeded) + IcmpHeader.HEADER_LENGTH;
            assertThat(exceeded[quoteAt + 5]).as("quotes the echo request's header").isEqualTo((byte) 0x35);
            assertThat(errors(rig, IcmpHeader.TYPE_TIME_EXCEEDED, IcmpHeader.CODE_REASSEMBLY_TIME_EXCEEDED)).isEqualTo(1);
        }
    }

    @Test
    void anUnmatchedEchoReplyIsCounted() {
        try (StackRig rig = StackRig.start()) {
            byte[] icmp = Frames.icmp(IcmpHeader.TYPE_ECHO_REPLY, 0, 1, 1, new byte[8]);
            rig.inject(Frames.padded(Frames.ethernet(STACK_MAC.bits(), PEER_MAC.bits(), EthernetHeader.TYPE_IPV4,
                    Frames.ipv4(PEER_IP.bits(), STACK_IP.bits(), Ipv4Header.PROTOCOL_ICMP, icmp))));
            rig.awaitDrops(Drop.ICMP_UNMATCHED_REPLY, 1);
        }
    }
}
