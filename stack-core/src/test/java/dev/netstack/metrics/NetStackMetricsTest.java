package dev.netstack.metrics;

import static dev.netstack.link.StackRig.PEER_IP;
import static dev.netstack.link.StackRig.PEER_MAC;
import static dev.netstack.link.StackRig.STACK_IP;
import static dev.netstack.link.StackRig.STACK_MAC;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.link.Frames;
import dev.netstack.link.StackRig;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The Micrometer view of a stack agrees with its counters and its statistics snapshot. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class NetStackMetricsTest {
    static double counter(SimpleMeterRegistry registry, String name, String... tags) {
        FunctionCounter c = registry.find(name).tags(tags).functionCounter();
        assertThat(c).as("%s %s", name, String.join(",", tags)).isNotNull();
        return c.count();
    }

    @Test
    void metersShowPacketsBytesDropsAndTheArpCache() throws Exception {
        try (StackRig rig = StackRig.start(); UdpSocket socket = rig.stack.openUdpSocket().bind(7000)) {
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            rig.stack.metrics().bindTo(registry);

            // traffic: one datagram each way, a ping answered, and a few drops of known reasons
            socket.sendTo(ByteBuffer.wrap(new byte[100]), PEER_IP, 5000);
            rig.inject(Frames.udpFrame(STACK_MAC.bits(), PEER_MAC.bits(), PEER_IP, STACK_IP, 5000, 7000, new byte[50]));
            assertThat(socket.receive(ByteBuffer.allocate(100), Duration.ofSeconds(5))).isNotNull();
            rig.inject(new byte[5]);
            rig.inject(Frames.padded(Frames.ethernet(MacAddress.parse("52:54:00:99:99:99").bits(), PEER_MAC.bits(), EthernetHeader.TYPE_IPV4, new byte[30])));
            rig.inject(Frames.udpFrame(STACK_MAC.bits(), PEER_MAC.bits(), PEER_IP, STACK_IP, 5000, 9, new byte[1]));
            rig.awaitDrops(Drop.UDP_NO_SOCKET, 1);
            rig.peer.await(f -> Frames.isIpv4(f, Ipv4Header.PROTOCOL_ICMP), "port unreachable");

            StackCounters c = rig.stack.counters();
            StackCounters.Snapshot snapshot = rig.stack.statistics();
            String device = rig.device.name();
            for (Layer layer : Layer.values()) {
                assertThat(counter(registry, "netstack.packets", "device", device, "layer", layer.tag(), "direction", "in"))
                        .as("%s packets in", layer).isEqualTo((double) snapshot.packetsIn(layer)).isEqualTo((double) c.packetsIn(layer));
                assertThat(counter(registry, "netstack.packets", "device", device, "layer", layer.tag(), "direction", "out"))
                        .as("%s packets out", layer).isEqualTo((double) snapshot.packetsOut(layer));
                assertThat(counter(registry, "netstack.bytes", "device", device, "layer", layer.tag(), "direction", "in"))
                        .isEqualTo((double) snapshot.bytesIn(layer));
                assertThat(counter(registry, "netstack.bytes", "device", device, "layer", layer.tag(), "direction", "out"))
                        .isEqualTo((double) snapshot.bytesOut(layer));
            }
            assertThat(snapshot.packetsOut(Layer.UDP)).isEqualTo(1);
            assertThat(snapshot.bytesOut(Layer.UDP)).isEqualTo(108);
            assertThat(snapshot.packetsIn(Layer.UDP)).isEqualTo(2);
            assertThat(snapshot.packetsOut(Layer.ICMP)).isEqualTo(1);
            assertThat(snapshot.packetsIn(Layer.ETHERNET)).isGreaterThanOrEqualTo(5);

            for (Drop drop : Drop.values()) {
                assertThat(counter(registry, "netstack.drops", "device", device, "layer", drop.layer().tag(), "reason", drop.reason()))
                        .as("drops %s", drop).isEqualTo((double) snapshot.drops(drop));
            }
            assertThat(snapshot.drops()).containsEntry(Drop.ETHERNET_RUNT, 1L).containsEntry(Drop.ETHERNET_NOT_FOR_US, 1L)
                    .containsEntry(Drop.UDP_NO_SOCKET, 1L);
            assertThat(registry.find("netstack.drops").meters()).hasSize(Drop.values().length);
            assertThat(Drop.values()).extracting(Drop::reason).allMatch(r -> r.matches("[a-z_]+"));

            Gauge arpCache = registry.find("netstack.arp.cache.size").tag("device", device).gauge();
            assertThat(arpCache.value()).isEqualTo(1.0).isEqualTo(rig.stack.arpCacheSize());
            rig.inject(Frames.arpFrame(MacAddress.BROADCAST_BITS, 1, MacAddress.parse("52:54:00:00:00:07").bits(),
                    dev.netstack.wire.Ipv4Address.parse("10.0.2.7").bits(), 0L, STACK_IP.bits()));
            dev.netstack.link.TestPeer.awaitTrue(() -> arpCache.value() == 2.0, "the gauge follows the cache");

            assertThat(registry.find("netstack.udp.sockets").gauge().value()).isEqualTo(1.0);
            assertThat(registry.find("netstack.mbuf.capacity").gauge().value()).isEqualTo(rig.pool.capacity());
            assertThat(counter(registry, "netstack.receive.frames", "device", device, "poller", "receive-thread")
                    + counter(registry, "netstack.receive.frames", "device", device, "poller", "application"))
                    .as("every frame the device delivered, by whoever polled it")
                    .isEqualTo((double) rig.stack.statistics().packetsIn(Layer.ETHERNET));
            for (Meter meter : registry.getMeters()) {
                assertThat(meter.getId().getTag("device")).as(meter.getId().toString()).isEqualTo(device);
                assertThat(meter.getId().getName()).matches("netstack(\\.[a-z]+)+");
            }
            assertThat(snapshot.toString()).contains("udp").contains("no_socket");
        }
    }
}
