package dev.netstack.ethernet;

import static dev.netstack.link.StackRig.PEER_IP;
import static dev.netstack.link.StackRig.PEER_MAC;
import static dev.netstack.link.StackRig.STACK_IP;
import static dev.netstack.link.StackRig.STACK_MAC;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.link.Frames;
import dev.netstack.link.StackRig;
import dev.netstack.metrics.Drop;
import dev.netstack.metrics.Layer;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.MacAddress;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Ethernet input: which frames the stack accepts, and how it counts the rest. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class EthernetLayerTest {
    StackRig rig;

    @BeforeEach
    void start() {
        rig = StackRig.start();
    }

    @AfterEach
    void close() {
        rig.close();
    }

    byte[] requestForUs(long ethernetDestination) {
        return Frames.arpFrame(ethernetDestination, ArpPacket.OP_REQUEST, PEER_MAC.bits(), PEER_IP.bits(), 0L, STACK_IP.bits());
    }

    int replies() {
        return rig.peer.count(f -> Frames.isArp(f, ArpPacket.OP_REPLY));
    }

    /** Injects a request for us and waits for the answer: every frame injected before it has been handled. */
    void sync() {
        int before = replies();
        rig.inject(requestForUs(STACK_MAC.bits()));
        rig.peer.awaitCount(f -> Frames.isArp(f, ArpPacket.OP_REPLY), before + 1, "ARP reply");
    }

    @Test
    void framesForOurMacAndBroadcastAreAccepted() {
        rig.inject(requestForUs(STACK_MAC.bits()));
        rig.inject(requestForUs(MacAddress.BROADCAST_BITS));
        rig.peer.awaitCount(f -> Frames.isArp(f, ArpPacket.OP_REPLY), 2, "ARP reply");
        assertThat(rig.stack.counters().drops(Layer.ETHERNET)).isZero();
        assertThat(rig.stack.counters().packetsIn(Layer.ARP)).isEqualTo(2);
    }

    @Test
    void unicastForAnotherMacIsDropped() {
        rig.inject(requestForUs(MacAddress.parse("52:54:00:99:99:99").bits()));
        rig.inject(requestForUs(MacAddress.parse("01:00:5e:00:00:01").bits()));   // multicast we never joined
        rig.awaitDrops(Drop.ETHERNET_NOT_FOR_US, 2);
        sync();
        assertThat(replies()).isEqualTo(1);
        assertThat(rig.stack.counters().packetsIn(Layer.ARP)).isEqualTo(1);
    }

    @Test
    void runtsAreDropped() {
        rig.inject(new byte[0]);
        rig.inject(new byte[13]);
        rig.awaitDrops(Drop.ETHERNET_RUNT, 2);
        sync();
        assertThat(rig.stack.counters().packetsIn(Layer.ETHERNET)).isEqualTo(3);
        assertThat(rig.stack.counters().drops(Layer.ETHERNET)).isEqualTo(2);
    }

    @Test
    void unknownEtherTypeIsDroppedAndCounted() {
        byte[] ipv6 = Frames.padded(Frames.ethernet(STACK_MAC.bits(), PEER_MAC.bits(), EthernetHeader.TYPE_IPV6, new byte[40]));
        rig.inject(ipv6);
        rig.inject(Frames.padded(Frames.ethernet(MacAddress.BROADCAST_BITS, PEER_MAC.bits(), 0x88cc, new byte[10])));   // LLDP
        rig.awaitDrops(Drop.ETHERNET_UNKNOWN_TYPE, 2);
        sync();
        assertThat(rig.stack.counters().drops(Drop.ETHERNET_UNKNOWN_TYPE)).isEqualTo(2);
        assertThat(rig.stack.counters().packetsIn(Layer.ETHERNET)).isEqualTo(3);
    }

    @Test
    void outgoingFramesCarryOurSourceMac() {
        sync();
        for (byte[] frame : rig.peer.frames()) {
            assertThat(MacAddress.of(Frames.sourceMac(frame))).isEqualTo(STACK_MAC);
            assertThat(frame.length).isGreaterThanOrEqualTo(EthernetHeader.MIN_FRAME_LENGTH);
        }
    }
}
