package dev.netstack.bridge.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.bridge.SlirpGateway;
import dev.netstack.bridge.dns.DnsService;
import dev.netstack.buffer.MbufPool;
import dev.netstack.ipv4.Reassembler;
import dev.netstack.link.FramePort;
import dev.netstack.link.Frames;
import dev.netstack.link.LinkEndpoint;
import dev.netstack.link.VirtualDevice;
import dev.netstack.link.VirtualSwitch;
import dev.netstack.robustness.Accounting;
import dev.netstack.robustness.Guest;
import dev.netstack.socket.NetworkException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A soak: three guests and the gateway on a {@link VirtualSwitch}, with mixed traffic for
 * {@code -Dnetstack.soak.seconds} (default 60 s, the length CI runs): UDP between guests, UDP through the gateway's NAT
 * to an echo on 127.0.0.1, DNS, pings, fragmented datagrams, and ARP churn (gratuitous ARPs from
 * strangers, short ARP lifetimes). Afterwards every pool is whole, the heap is where it was and
 * every guest's counters balance.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SoakTest {
    static final Ipv4Address GATEWAY = Ipv4Address.parse("10.0.2.2");

    @Test
    void mixedTrafficThroughASwitchAndTheGateway() throws Exception {
        long seconds = Long.getLong("netstack.soak.seconds", 60);
        VirtualSwitch lan = new VirtualSwitch("soak");
        SlirpGatewayFuzzTest.LoopbackEcho echo = new SlirpGatewayFuzzTest.LoopbackEcho();
        DnsService dns = DnsService.builder().hostResolver(false).staticRecord("echo.test", InetAddress.getLoopbackAddress()).build();
        SlirpGateway gateway = SlirpGateway.builder().dnsService(dns).build();
        lan.connect(gateway);
        int n = 3;
        MbufPool[] pools = new MbufPool[n];
        Reassembler[] reassemblers = new Reassembler[n];
        NetStack[] guests = new NetStack[n];
        for (int i = 0; i < n; i++) {
            pools[i] = NetStack.newPool(1024, 0);
            VirtualDevice device = new VirtualDevice("g" + i, MacAddress.of(0x5254_0000_0100L + i), pools[i]);
            lan.connect(device);
            reassemblers[i] = Guest.defaultReassembler(pools[i]);
            guests[i] = NetStack.builder().device(device).address("10.0.2." + (15 + i) + "/24").gateway("10.0.2.2")
                    .dnsServer("10.0.2.3").reassembler(reassemblers[i]).arpLifetime(Duration.ofSeconds(1)).build();
        }
        Stranger stranger = new Stranger();
        lan.connect(stranger);

        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong operations = new AtomicLong();
        AtomicLong failures = new AtomicLong();
        List<UdpSocket> sinks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            sinks.add(guests[i].openUdpSocket().bind(9000));
        }
        ExecutorService workers = Executors.newCachedThreadPool();
        try {
            runPhase(guests, sinks, echo, stranger, workers, running, operations, failures, 3);   // warm up
            long heapBefore = usedHeapAfterGc();
            running.set(true);
            runPhase(guests, sinks, echo, stranger, workers, running, operations, failures, seconds);
            for (int i = 0; i < n; i++) {
                guests[i].receiveNow();
                drain(sinks.get(i));
            }
            long heapAfter = usedHeapAfterGc();
            assertThat(operations.get()).as("operations done").isGreaterThan(seconds * 100);
            assertThat(failures.get()).as("operations that failed (of %d)", operations.get()).isLessThan(operations.get() / 10 + 10);
            for (int i = 0; i < n; i++) {
                // the workers' own sockets and the resolver's came and went with datagrams: no socket line
                Accounting.assertBalanced(guests[i].counters(), reassemblers[i], -1);
            }
            assertThat(heapAfter - heapBefore).as("heap growth over the soak (bytes)").isLessThan(32L << 20);
        } finally {
            running.set(false);
            workers.shutdownNow();
            workers.awaitTermination(10, TimeUnit.SECONDS);
            for (UdpSocket s : sinks) {
                s.close();
            }
            for (NetStack g : guests) {
                g.close();
            }
            gateway.close();
            dns.close();
            echo.close();
        }
        for (MbufPool p : pools) {
            PoolChecks.assertWhole(p);
        }
        PoolChecks.assertWhole(gateway.pool());
    }

    private static void runPhase(NetStack[] guests, List<UdpSocket> sinks, SlirpGatewayFuzzTest.LoopbackEcho echo, Stranger stranger,
            ExecutorService workers, AtomicBoolean running, AtomicLong operations, AtomicLong failures, long seconds)
            throws Exception {
        List<Future<?>> tasks = new ArrayList<>();
        for (int i = 0; i < guests.length; i++) {
            NetStack me = guests[i];
            NetStack other = guests[(i + 1) % guests.length];
            UdpSocket sink = sinks.get(i);
            tasks.add(workers.submit(() -> {   // traffic of one guest
                ThreadLocalRandom random = ThreadLocalRandom.current();
                ByteBuffer into = ByteBuffer.allocate(65536);
                try (UdpSocket s = me.openUdpSocket().bind(0)) {
                    while (running.get()) {
                        try {
                            switch (random.nextInt(6)) {
                                case 0 -> s.sendTo(ByteBuffer.allocate(random.nextInt(1, 1400)), other.address(), 9000);
                                case 1 -> s.sendTo(ByteBuffer.allocate(random.nextInt(1500, 9000)), other.address(), 9000);   // fragments
                                case 2 -> {
                                    s.sendTo(ByteBuffer.allocate(random.nextInt(1, 3000)), GATEWAY, echo.port());   // NAT to 127.0.0.1
                                    s.receive(into.clear(), Duration.ofMillis(50));
                                }
                                case 3 -> me.ping(random.nextBoolean() ? GATEWAY : other.address(), random.nextInt(0, 3000), Duration.ofSeconds(2));
                                case 4 -> dev.netstack.dns.DnsResolver.builder(me).build().resolve("echo.test", Duration.ofSeconds(2));
                                default -> drain(sink);
                            }
                        } catch (NetworkException e) {   // DnsException too
                            failures.incrementAndGet();
                        }
                        operations.incrementAndGet();
                    }
                }
                return null;
            }));
        }
        tasks.add(workers.submit(() -> {   // ARP churn
            while (running.get()) {
                stranger.gratuitous();
                Thread.sleep(5);
            }
            return null;
        }));
        Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
        running.set(false);
        for (Future<?> f : tasks) {
            f.get(30, TimeUnit.SECONDS);
        }
    }

    static void drain(UdpSocket socket) {
        ByteBuffer into = ByteBuffer.allocate(65536);
        while (true) {
            try {
                if (socket.tryReceive(into.clear()) == null) {
                    return;
                }
            } catch (NetworkException e) {
                // a reported ICMP error
            }
        }
    }

    static long usedHeapAfterGc() throws InterruptedException {
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
            used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    /** A machine on the switch that announces itself under ever new MACs and addresses (ARP churn). */
    static final class Stranger implements LinkEndpoint {
        private volatile FramePort port;
        private int n;

        @Override
        public void attach(FramePort peer) {
            this.port = peer;
        }

        @Override
        public void receiveFrame(java.nio.ByteBuffer frame) {
            // it answers nothing
        }

        void gratuitous() {
            n++;
            long mac = 0x0200_0000_0000L | n;
            int ip = 0x0a000200 | (100 + n % 100);   // 10.0.2.100-199
            byte[] frame = Frames.arpFrame(MacAddress.BROADCAST_BITS, ArpPacket.OP_REQUEST, mac, ip, 0, ip);
            FramePort p = port;
            if (p != null) {
                p.receiveFrame(ByteBuffer.wrap(frame));
            }
        }
    }
}
