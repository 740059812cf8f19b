package dev.netstack.bench;

import dev.netstack.NetStack;
import dev.netstack.bridge.SlirpGateway;
import dev.netstack.bridge.dns.DnsService;
import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.e1000.E1000Config;
import dev.netstack.e1000.E1000Device;
import dev.netstack.e1000.E1000Driver;
import dev.netstack.link.VirtualCable;
import dev.netstack.wire.MacAddress;

/** A guest stack on an E1000 card cabled to the SLIRP gateway, which relays to 127.0.0.1. */
final class GatewayWorld implements AutoCloseable {
    final MbufPool pool;
    final E1000Device card;
    final E1000Driver driver;
    final SlirpGateway gateway;
    final NetStack guest;

    /** A gateway without DNS, for up to {@code maxFlows} NAT flows. */
    GatewayWorld(E1000Config config, int maxFlows, boolean segmentation) {
        this(config, maxFlows, null, segmentation);
    }

    /** A gateway whose DNS service it builds from {@code dnsConfig} on its own event loop. */
    GatewayWorld(E1000Config config, DnsService.Builder dnsConfig) {
        this(config, 64, dnsConfig, true);
    }

    private GatewayWorld(E1000Config config, int maxFlows, DnsService.Builder dnsConfig, boolean segmentation) {
        int buffers = config.receiveRingSize() + config.transmitRingSize() + 2048;
        DmaMemory memory = DmaMemory.allocate(buffers * Mbuf.SIZE + (1 << 20));
        pool = MbufPool.carve(memory, buffers, false);
        MacAddress mac = MacAddress.parse("52:54:00:12:34:56");
        card = new E1000Device(memory, mac);
        driver = new E1000Driver(card, memory, pool, mac, config.withName("bench-guest"));
        SlirpGateway.Builder b = SlirpGateway.builder().maxFlows(maxFlows).buffers(4096)
                .segmentation(segmentation);
        if (dnsConfig != null) {
            b.dns(dnsConfig);
        } else {
            b.dnsEnabled(false);
        }
        gateway = b.build();
        VirtualCable.connect(card.port(), gateway);
        guest = NetStack.builder().device(driver).address("10.0.2.15/24").gateway("10.0.2.2").dnsServer("10.0.2.3")
                .socketQueue(1024, 64 << 20).build();
        try {
            guest.ping(SlirpGateway.DEFAULT_GATEWAY, 0, java.time.Duration.ofSeconds(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    Thread receiveThread() {
        String name = "netstack-rx-" + driver.name();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals(name) && t.isAlive()) {
                return t;
            }
        }
        return null;
    }

    /** The guest stack's receive thread and the gateway's event loop thread(s): netstack's side of a run. */
    java.util.List<Thread> netstackThreads() {
        java.util.List<Thread> out = Measure.threads(receiveThread());
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("slirp-") && t.isAlive()) {
                out.add(t);
            }
        }
        return out;
    }

    @Override
    public void close() {
        if (System.getenv("BENCH_THREADS") != null) {
            var m = gateway.metrics();
            System.out.printf("   gateway: %d datagrams to the host, %d of them in %d segmented sends%n",
                    m.guestToHostPackets(), m.segmentedDatagrams(), m.segmentedSends());
        }
        guest.close();
        gateway.close();
    }
}
