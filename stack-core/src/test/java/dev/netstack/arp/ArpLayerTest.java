package dev.netstack.arp;

import static dev.netstack.link.StackRig.PEER_IP;
import static dev.netstack.link.StackRig.PEER_MAC;
import static dev.netstack.link.StackRig.STACK_IP;
import static dev.netstack.link.StackRig.STACK_MAC;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.link.Frames;
import dev.netstack.link.StackRig;
import dev.netstack.link.TestPeer;
import dev.netstack.metrics.Drop;
import dev.netstack.socket.HostUnreachableException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** ARP (RFC 826) as seen on the wire: answers, learning, cache lifetime and size, resolution and its failure. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ArpLayerTest {
    static final Ipv4Address ABSENT = Ipv4Address.parse("10.0.2.50");

    static byte[] requestForUs(MacAddress senderMac, Ipv4Address senderIp) {
        return Frames.arpFrame(MacAddress.BROADCAST_BITS, ArpPacket.OP_REQUEST, senderMac.bits(), senderIp.bits(), 0L, STACK_IP.bits());
    }

    static int replies(StackRig rig) {
        return rig.peer.count(f -> Frames.isArp(f, ArpPacket.OP_REPLY));
    }

    static int requestsFor(StackRig rig, Ipv4Address ip) {
        return rig.peer.count(f -> Frames.isArpRequestFor(f, ip.bits()));
    }

    static ByteBuffer bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return ByteBuffer.wrap(b);
    }

    @Test
    void theFirstFrameOutIsAGratuitousArp() {
        try (StackRig rig = StackRig.start()) {
            byte[] first = rig.peer.frames().get(0);
            assertThat(Frames.destinationMac(first)).isEqualTo(MacAddress.BROADCAST_BITS);
            assertThat(Frames.sourceMac(first)).isEqualTo(STACK_MAC.bits());
            assertThat(Frames.etherType(first)).isEqualTo(EthernetHeader.TYPE_ARP);
            ArpPacket arp = Frames.arpView(first);
            assertThat(arp.isEthernetIpv4()).isTrue();
            assertThat(arp.operation()).isEqualTo(ArpPacket.OP_REQUEST);
            assertThat(arp.senderMac()).isEqualTo(STACK_MAC.bits());
            assertThat(arp.senderIp()).isEqualTo(STACK_IP.bits());
            assertThat(arp.targetIp()).isEqualTo(STACK_IP.bits());
            assertThat(arp.targetMac()).isZero();
        }
    }

    @Test
    void anUnconfiguredStackSendsNothing() throws Exception {
        try (StackRig rig = StackRig.unconfigured()) {
            Thread.sleep(50);
            assertThat(rig.peer.frames()).isEmpty();
            rig.inject(requestForUs(PEER_MAC, PEER_IP));
            TestPeer.awaitTrue(() -> rig.drops(Drop.ARP_NOT_FOR_US) == 1, "request not for an unconfigured stack");
            assertThat(rig.peer.frames()).isEmpty();
            assertThat(rig.stack.arpCacheSize()).isZero();
        }
    }

    @Test
    void answersARequestForUsWithExactFieldsAndLearnsTheSender() {
        try (StackRig rig = StackRig.start()) {
            rig.inject(requestForUs(PEER_MAC, PEER_IP));
            byte[] reply = rig.peer.await(f -> Frames.isArp(f, ArpPacket.OP_REPLY), "ARP reply");
            assertThat(reply).hasSize(EthernetHeader.MIN_FRAME_LENGTH);
            assertThat(Frames.destinationMac(reply)).isEqualTo(PEER_MAC.bits());
            assertThat(Frames.sourceMac(reply)).isEqualTo(STACK_MAC.bits());
            ArpPacket arp = Frames.arpView(reply);
            assertThat(arp.isEthernetIpv4()).isTrue();
            assertThat(arp.senderMac()).isEqualTo(STACK_MAC.bits());
            assertThat(arp.senderIp()).isEqualTo(STACK_IP.bits());
            assertThat(arp.targetMac()).isEqualTo(PEER_MAC.bits());
            assertThat(arp.targetIp()).isEqualTo(PEER_IP.bits());
            assertThat(rig.stack.arpLookup(PEER_IP)).isEqualTo(PEER_MAC);
            assertThat(rig.stack.arpCacheSize()).isEqualTo(1);
        }
    }

    @Test
    void aRequestForAnotherHostIsNotAnsweredNorLearned() {
        try (StackRig rig = StackRig.start()) {
            Ipv4Address other = Ipv4Address.parse("10.0.2.77");
            rig.inject(Frames.arpFrame(MacAddress.BROADCAST_BITS, ArpPacket.OP_REQUEST, MacAddress.parse("52:54:00:00:00:07").bits(),
                    Ipv4Address.parse("10.0.2.7").bits(), 0L, other.bits()));
            rig.awaitDrops(Drop.ARP_NOT_FOR_US, 1);
            assertThat(rig.stack.arpLookup(Ipv4Address.parse("10.0.2.7"))).isNull();
            assertThat(replies(rig)).isZero();
        }
    }

    @Test
    void neverCachesZeroBroadcastOrMulticastSenders() {
        try (StackRig rig = StackRig.start()) {
            MacAddress mac = MacAddress.parse("52:54:00:00:00:09");
            rig.inject(Frames.arpFrame(MacAddress.BROADCAST_BITS, ArpPacket.OP_REQUEST, mac.bits(), 0, 0L, Ipv4Address.parse("10.0.2.9").bits()));
            rig.inject(requestForUs(mac, Ipv4Address.BROADCAST));
            rig.inject(requestForUs(mac, Ipv4Address.parse("10.0.2.255")));   // our subnet's broadcast
            rig.inject(requestForUs(mac, Ipv4Address.parse("224.0.0.251")));
            rig.inject(requestForUs(MacAddress.parse("01:00:5e:00:00:fb"), Ipv4Address.parse("10.0.2.9")));
            rig.inject(requestForUs(MacAddress.ZERO, Ipv4Address.parse("10.0.2.9")));
            rig.inject(requestForUs(mac, STACK_IP));   // someone claiming our own address
            rig.awaitDrops(Drop.ARP_BAD_SENDER, 7);
            assertThat(rig.stack.arpCacheSize()).isZero();
            assertThat(replies(rig)).isZero();

            // an RFC 5227 probe (sender 0.0.0.0) for our address is answered, and still not cached
            rig.inject(Frames.arpFrame(MacAddress.BROADCAST_BITS, ArpPacket.OP_REQUEST, mac.bits(), 0, 0L, STACK_IP.bits()));
            byte[] defence = rig.peer.await(f -> Frames.isArp(f, ArpPacket.OP_REPLY), "reply to a probe");
            assertThat(Frames.destinationMac(defence)).isEqualTo(mac.bits());
            assertThat(rig.stack.arpCacheSize()).isZero();
        }
    }

    @Test
    void entriesExpireAfterTheirLifetimeAndAreResolvedAgain() {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            rig.introducePeer();
            rig.clock.advance(Duration.ofSeconds(59));
            rig.stack.runTimers();
            assertThat(rig.stack.arpLookup(PEER_IP)).isEqualTo(PEER_MAC);
            int requestsBefore = requestsFor(rig, PEER_IP);

            rig.clock.advance(Duration.ofSeconds(2));
            assertThat(rig.stack.arpLookup(PEER_IP)).as("expired after the default 60 s").isNull();
            rig.stack.runTimers();
            assertThat(rig.stack.arpCacheSize()).isZero();

            socket.sendTo(bytes(1, 2, 3), PEER_IP, 5000);
            rig.peer.awaitCount(f -> Frames.isArpRequestFor(f, PEER_IP.bits()), requestsBefore + 1, "a new ARP request");
            rig.peer.await(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP), "the datagram after resolution");
            assertThat(rig.stack.arpLookup(PEER_IP)).isEqualTo(PEER_MAC);
        }
    }

    @Test
    void sendingToAResolvedNeighbourReadsNoClock() {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            rig.introducePeer();
            socket.sendTo(bytes(1), PEER_IP, 5000);
            long before = rig.clock.readsOnThisThread();
            for (int i = 0; i < 100; i++) {
                socket.sendTo(bytes(1), PEER_IP, 5000);
            }
            assertThat(rig.clock.readsOnThisThread() - before).as("clock reads on the send path").isZero();
            rig.peer.awaitCount(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP), 101, "the datagrams");
        }
    }

    @Test
    void aConfiguredLifetimeIsHonoured() {
        try (StackRig rig = StackRig.start(b -> b.arpLifetime(Duration.ofSeconds(5)))) {
            rig.introducePeer();
            rig.clock.advance(Duration.ofMillis(4900));
            assertThat(rig.stack.arpLookup(PEER_IP)).isNotNull();
            rig.clock.advance(Duration.ofMillis(200));
            assertThat(rig.stack.arpLookup(PEER_IP)).isNull();
        }
    }

    @Test
    void theCacheIsBoundedAndEvictsTheLeastRecentlyUsed() {
        try (StackRig rig = StackRig.start(b -> b.arpCacheSize(16))) {
            for (int i = 0; i < 100; i++) {
                rig.clock.advanceMillis(1);   // distinct use times: one sender at a time
                rig.inject(requestForUs(MacAddress.of(0x5254_0000_1000L + i), Ipv4Address.parse("10.0.2." + (100 + i))));
                rig.peer.awaitCount(f -> Frames.isArp(f, ArpPacket.OP_REPLY), i + 1, "ARP replies");
                assertThat(rig.stack.arpCacheSize()).isLessThanOrEqualTo(16);
            }
            assertThat(rig.stack.arpCacheSize()).isEqualTo(16);
            for (int i = 0; i < 100; i++) {
                MacAddress cached = rig.stack.arpLookup(Ipv4Address.parse("10.0.2." + (100 + i)));
                if (i >= 84) {
                    assertThat(cached).as("recent sender %d", i).isEqualTo(MacAddress.of(0x5254_0000_1000L + i));
                } else {
                    assertThat(cached).as("old sender %d", i).isNull();
                }
            }
            assertThat(rig.stack.metrics()).isNotNull();
        }
    }

    @Test
    void usingAnEntryKeepsItFromEviction() {
        try (StackRig rig = StackRig.start(b -> b.arpCacheSize(4)); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            rig.introducePeer();                                   // oldest entry ...
            for (int i = 0; i < 3; i++) {
                rig.clock.advanceMillis(1);
                rig.inject(requestForUs(MacAddress.of(0x5254_0000_2000L + i), Ipv4Address.parse("10.0.2." + (30 + i))));
            }
            rig.peer.awaitCount(f -> Frames.isArp(f, ArpPacket.OP_REPLY), 4, "ARP replies");
            rig.clock.advanceMillis(1);
            socket.sendTo(bytes(1), PEER_IP, 5000);                // ... but just used
            rig.clock.advanceMillis(1);
            rig.inject(requestForUs(MacAddress.of(0x5254_0000_2009L), Ipv4Address.parse("10.0.2.39")));
            rig.peer.awaitCount(f -> Frames.isArp(f, ArpPacket.OP_REPLY), 5, "ARP replies");
            assertThat(rig.stack.arpLookup(PEER_IP)).isEqualTo(PEER_MAC);
            assertThat(rig.stack.arpLookup(Ipv4Address.parse("10.0.2.30"))).as("least recently used").isNull();
            assertThat(rig.stack.arpCacheSize()).isEqualTo(4);
        }
    }

    @Test
    void aGratuitousArpUpdatesAKnownAddress() {
        try (StackRig rig = StackRig.start()) {
            rig.introducePeer();
            MacAddress moved = MacAddress.parse("52:55:0a:00:02:99");
            rig.inject(Frames.arpFrame(MacAddress.BROADCAST_BITS, ArpPacket.OP_REQUEST, moved.bits(), PEER_IP.bits(), 0L, PEER_IP.bits()));
            TestPeer.awaitTrue(() -> moved.equals(rig.stack.arpLookup(PEER_IP)), "the new MAC replaces the old");
            // a gratuitous ARP about a host we never talked to is not cached (RFC 826: only update)
            rig.inject(Frames.arpFrame(MacAddress.BROADCAST_BITS, ArpPacket.OP_REPLY, moved.bits(), Ipv4Address.parse("10.0.2.66").bits(),
                    MacAddress.BROADCAST_BITS, Ipv4Address.parse("10.0.2.66").bits()));
            rig.settle();
            assertThat(rig.stack.arpLookup(Ipv4Address.parse("10.0.2.66"))).isNull();
        }
    }

    @Test
    void threePacketsWaitForResolutionAndLeaveInOrderAFourthIsDropped() {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            for (int i = 0; i < 4; i++) {
                socket.sendTo(bytes(i), ABSENT, 5000);
            }
            assertThat(requestsFor(rig, ABSENT)).isEqualTo(1);
            assertThat(rig.drops(Drop.ARP_QUEUE_FULL)).isEqualTo(1);
            assertThat(rig.peer.count(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP))).isZero();

            MacAddress absentMac = MacAddress.parse("52:54:00:00:00:50");
            rig.inject(Frames.arpFrame(STACK_MAC.bits(), ArpPacket.OP_REPLY, absentMac.bits(), ABSENT.bits(), STACK_MAC.bits(), STACK_IP.bits()));
            List<byte[]> sent = rig.peer.awaitCount(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP), 3, "queued datagrams");
            for (int i = 0; i < 3; i++) {
                byte[] frame = sent.get(i);
                assertThat(Frames.destinationMac(frame)).isEqualTo(absentMac.bits());
                assertThat(frame[Frames.transportOffset(frame) + 8]).as("datagram %d in order", i).isEqualTo((byte) i);
            }
            assertThat(rig.stack.arpLookup(ABSENT)).isEqualTo(absentMac);
        }
    }

    @Test
    void atMostOneRequestPerSecondAndGivesUpAfterThree() {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            for (int i = 0; i < 10; i++) {
                socket.sendTo(bytes(i), ABSENT, 5000);
                rig.stack.runTimers();
            }
            assertThat(requestsFor(rig, ABSENT)).isEqualTo(1);
            int[] expected = {1, 2, 2, 3, 3};   // at 500, 1000, ... 2500 ms
            for (int step = 0; step < expected.length; step++) {
                rig.clock.advanceMillis(500);
                rig.stack.runTimers();
                socket.sendTo(bytes(99), ABSENT, 5000);   // more traffic must not mean more requests
                assertThat(requestsFor(rig, ABSENT)).as("requests after %d ms", (step + 1) * 500).isEqualTo(expected[step]);
            }
            rig.clock.advanceMillis(500);
            rig.stack.runTimers();                           // 3 s: a second after the third request, it gives up
            assertThat(requestsFor(rig, ABSENT)).isEqualTo(3);
            assertThat(rig.drops(Drop.ARP_UNRESOLVED)).isEqualTo(3);
            assertThat(rig.drops(Drop.ARP_QUEUE_FULL)).isEqualTo(7 + 5);
            assertThatThrownBy(() -> socket.sendTo(bytes(1), ABSENT, 5000)).isInstanceOf(HostUnreachableException.class);
            assertThat(rig.stack.arpCacheSize()).isZero();
        }
    }

    @Test
    void givingUpFailsTheWaitingSocketOnItsNextReceive() {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            socket.sendTo(bytes(1), ABSENT, 5000);
            giveUp(rig);
            assertThatThrownBy(() -> socket.receive(ByteBuffer.allocate(10), Duration.ofSeconds(2)))
                    .isInstanceOf(HostUnreachableException.class)
                    .hasMessageContaining("10.0.2.50");
            assertThat(rig.drops(Drop.ARP_UNRESOLVED)).isEqualTo(1);
        }
    }

    @Test
    void givingUpFailsTheWaitingSocketOnItsNextSend() {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            socket.sendTo(bytes(1), ABSENT, 5000);
            giveUp(rig);
            assertThatThrownBy(() -> socket.sendTo(bytes(2), ABSENT, 5000))
                    .isInstanceOf(HostUnreachableException.class)
                    .hasMessageContaining("host unreachable");
            // reported once: the socket works again afterwards
            socket.sendTo(bytes(3), PEER_IP, 5000);
            rig.peer.await(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_UDP), "a datagram to the peer");
        }
    }

    @Test
    void aBlockedReceiverWakesWithHostUnreachable() throws Exception {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(4000)) {
            socket.sendTo(bytes(1), ABSENT, 5000);
            CompletableFuture<Object> receiver = CompletableFuture.supplyAsync(() -> {
                try {
                    return socket.receive(ByteBuffer.allocate(10), Duration.ofSeconds(20));
                } catch (Exception e) {
                    return e;
                }
            });
            Thread.sleep(50);
            giveUp(rig);
            assertThat(receiver.get(10, TimeUnit.SECONDS)).isInstanceOf(HostUnreachableException.class);
        }
    }

    @Test
    void pingToAnAbsentHostFailsWithHostUnreachable() throws Exception {
        try (StackRig rig = StackRig.start()) {
            CompletableFuture<Object> ping = CompletableFuture.supplyAsync(() -> {
                try {
                    return rig.stack.ping(ABSENT, 56, Duration.ofSeconds(20));
                } catch (Exception e) {
                    return e;
                }
            });
            rig.peer.await(f -> Frames.isArpRequestFor(f, ABSENT.bits()), "ARP request for the pinged host");
            giveUp(rig);
            Object outcome = ping.get(10, TimeUnit.SECONDS);
            assertThat(outcome).isInstanceOf(HostUnreachableException.class);
            assertThat(((Exception) outcome).getMessage()).contains("10.0.2.50").contains("unreachable");
        }
    }

    /** Moves time on until the stack gives up on {@link #ABSENT} (3 requests, one a second). */
    static void giveUp(StackRig rig) {
        long before = rig.drops(Drop.ARP_UNRESOLVED);
        for (int second = 0; second < 4; second++) {
            rig.clock.advance(Duration.ofSeconds(1));
            rig.stack.runTimers();
        }
        assertThat(requestsFor(rig, ABSENT)).isEqualTo(3);
        assertThat(rig.drops(Drop.ARP_UNRESOLVED)).isGreaterThan(before);
    }
}
