package dev.netstack.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.link.VirtualSwitch.DropReason;
import dev.netstack.link.VirtualSwitch.SwitchPort;
import dev.netstack.testing.Fixtures;
import dev.netstack.wire.MacAddress;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class VirtualSwitchTest {
    private static final long A = 0x02_00_00_00_00_0aL;
    private static final long B = 0x02_00_00_00_00_0bL;
    private static final long C = 0x02_00_00_00_00_0cL;
    private static final long D = 0x02_00_00_00_00_0dL;

    private final AtomicLong clock = new AtomicLong(1_000_000_000L);

    private VirtualSwitch newSwitch(int capacity) {
        return new VirtualSwitch("test", capacity, Duration.ofSeconds(300), clock::get);
    }

    private void advance(Duration by) {
        clock.addAndGet(by.toNanos());
    }

    /** An endpoint that records what it receives and sends what the test tells it to. */
    static class Station implements LinkEndpoint {
        final String name;
        final List<byte[]> received = new CopyOnWriteArrayList<>();
        volatile FramePort peer;

        Station(String name) {
            this.name = name;
        }

        @Override
        public void attach(FramePort peer) {
            this.peer = peer;
        }

        @Override
        public void receiveFrame(ByteBuffer frame) {
            int position = frame.position();
            int limit = frame.limit();
            byte[] copy = new byte[frame.remaining()];
            frame.get(position, copy);
            received.add(copy);
            assertThat(frame.position()).isEqualTo(position);
            assertThat(frame.limit()).isEqualTo(limit);
        }

        void send(byte[] frame) {
            peer.receiveFrame(ByteBuffer.wrap(frame));
        }

        void send(long destination, long source) {
            send(frame(destination, source));
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static byte[] frame(long destination, long source) {
        ByteBuffer frame = ByteBuffer.allocate(60);
        MacAddress.write(frame, 0, destination);
        MacAddress.write(frame, 6, source);
        frame.putShort(12, (short) 0x88b5);   // IEEE local experimental EtherType
        return frame.array();
    }

    @Test
    void broadcastFloodsToEveryOtherPortButNotBack() {
        VirtualSwitch sw = newSwitch(16);
        Station a = new Station("a"), b = new Station("b"), c = new Station("c");
        SwitchPort pa = sw.connect(a);
        SwitchPort pb = sw.connect(b);
        sw.connect(c);

        a.send(MacAddress.BROADCAST_BITS, A);

        assertThat(a.received).isEmpty();
        assertThat(b.received).hasSize(1);
        assertThat(c.received).hasSize(1);
        assertThat(pa.receivedFrames()).isEqualTo(1);
        assertThat(pa.receivedBytes()).isEqualTo(60);
        assertThat(pb.transmittedFrames()).isEqualTo(1);
        assertThat(pb.transmittedBytes()).isEqualTo(60);
        assertThat(sw.portOf(MacAddress.of(A))).isSameAs(pa);
    }

    @Test
    void learnedDestinationGoesOnlyToItsPortAndUnknownFloods() {
        VirtualSwitch sw = newSwitch(16);
        Station a = new Station("a"), b = new Station("b"), c = new Station("c");
        sw.connect(a);
        sw.connect(b);
        sw.connect(c);

        b.send(A, B);                       // A unknown: flooded to a and c; B learned
        assertThat(a.received).hasSize(1);
        assertThat(c.received).hasSize(1);

        a.send(B, A);                       // B known: only b
        assertThat(b.received).hasSize(1);
        assertThat(c.received).hasSize(1);

        b.send(A, B);                       // A learned by now: only a
        assertThat(a.received).hasSize(2);
        assertThat(c.received).hasSize(1);
    }

    @Test
    void multicastDestinationIsFlooded() {
        VirtualSwitch sw = newSwitch(16);
        Station a = new Station("a"), b = new Station("b"), c = new Station("c");
        sw.connect(a);
        sw.connect(b);
        sw.connect(c);
        c.send(A, C);
        a.send(0x01_00_5e_00_00_01L, A);     // IPv4 all-hosts group

        assertThat(b.received).hasSize(2);
        assertThat(c.received).hasSize(1);
    }

    @Test
    void frameForStationOnIngressPortIsFiltered() {
        VirtualSwitch sw = newSwitch(16);
        Station hub = new Station("hub"), other = new Station("other");
        SwitchPort hubPort = sw.connect(hub);
        sw.connect(other);

        hub.send(MacAddress.BROADCAST_BITS, A);   // A and C both sit behind the hub port
        hub.send(A, C);

        assertThat(other.received).hasSize(1);   // only the broadcast
        assertThat(hub.received).isEmpty();
        assertThat(hubPort.drops(DropReason.SAME_PORT)).isEqualTo(1);
    }

    @Test
    void learnedMacAgesOutAndIsFloodedAgain() {
        VirtualSwitch sw = newSwitch(16);
        Station a = new Station("a"), b = new Station("b"), c = new Station("c");
        sw.connect(a);
        sw.connect(b);
        sw.connect(c);
        a.send(MacAddress.BROADCAST_BITS, A);

        advance(Duration.ofSeconds(299));
        b.send(A, B);
        assertThat(c.received).hasSize(1);   // only the first broadcast

        advance(Duration.ofSeconds(2));       // 301 s since A was last seen
        assertThat(sw.portOf(MacAddress.of(A))).isNull();
        b.send(A, B);
        assertThat(c.received).hasSize(2);   // flooded again
        assertThat(a.received).hasSize(2);
    }

    @Test
    void stationThatMovesIsRelearnedOnItsNewPort() {
        VirtualSwitch sw = newSwitch(16);
        Station a = new Station("a"), b = new Station("b"), c = new Station("c");
        sw.connect(a);
        sw.connect(b);
        SwitchPort pc = sw.connect(c);
        a.send(MacAddress.BROADCAST_BITS, A);
        c.send(MacAddress.BROADCAST_BITS, A);   // A now speaks from port c

        assertThat(sw.portOf(MacAddress.of(A))).isSameAs(pc);
        b.send(A, B);
        assertThat(c.received).hasSize(2);       // a's broadcast, then b's frame for A
        assertThat(a.received).hasSize(1);       // c's broadcast only
    }

    @Test
    void fullTableForgetsTheLeastRecentlySeen() {
        VirtualSwitch sw = newSwitch(3);
        Station a = new Station("a"), b = new Station("b");
        sw.connect(a);
        SwitchPort pb = sw.connect(b);
        for (long mac : new long[] {A, B, C}) {
            b.send(MacAddress.BROADCAST_BITS, mac);
            advance(Duration.ofSeconds(2));
        }
        b.send(MacAddress.BROADCAST_BITS, A);   // refresh A: B is now the oldest
        advance(Duration.ofSeconds(2));
        b.send(MacAddress.BROADCAST_BITS, D);

        assertThat(sw.macTableSize()).isEqualTo(3);
        assertThat(sw.portOf(MacAddress.of(B))).isNull();
        assertThat(sw.portOf(MacAddress.of(A))).isSameAs(pb);
        assertThat(sw.portOf(MacAddress.of(C))).isSameAs(pb);
        assertThat(sw.portOf(MacAddress.of(D))).isSameAs(pb);
    }

    @Test
    void runtsAndMulticastSourcesAreDroppedAndCounted() {
        VirtualSwitch sw = newSwitch(16);
        Station a = new Station("a"), b = new Station("b");
        SwitchPort pa = sw.connect(a);
        sw.connect(b);

        a.send(new byte[13]);
        a.send(MacAddress.BROADCAST_BITS, 0x01_00_5e_00_00_01L);

        assertThat(b.received).isEmpty();
        assertThat(pa.drops(DropReason.RUNT)).isEqualTo(1);
        assertThat(pa.drops(DropReason.MULTICAST_SOURCE)).isEqualTo(1);
        assertThat(sw.macTableSize()).isZero();
    }

    @Test
    void disconnectUnplugsTheEndpointAndForgetsItsMacs() {
        VirtualSwitch sw = newSwitch(16);
        Station a = new Station("a"), b = new Station("b"), c = new Station("c");
        SwitchPort pa = sw.connect(a);
        sw.connect(b);
        sw.connect(c);
        FramePort oldPeer = a.peer;
        a.send(MacAddress.BROADCAST_BITS, A);

        pa.disconnect();
        assertThat(a.peer).isNull();
        assertThat(pa.isConnected()).isFalse();
        assertThat(sw.portOf(MacAddress.of(A))).isNull();
        assertThat(sw.ports()).extracting(SwitchPort::endpoint).containsExactly(b, c);

        b.send(MacAddress.BROADCAST_BITS, B);
        assertThat(a.received).isEmpty();
        oldPeer.receiveFrame(ByteBuffer.wrap(frame(MacAddress.BROADCAST_BITS, A)));   // a late sender
        assertThat(pa.drops(DropReason.DISCONNECTED)).isEqualTo(1);
        assertThat(b.received).hasSize(1);

        Station d = new Station("d");
        SwitchPort pd = sw.connect(d);
        assertThat(pd.number()).isEqualTo(pa.number());   // the slot is reused, with no stale entries
        b.send(A, B);
        assertThat(d.received).hasSize(1);
    }

    @Test
    void connectingTheSameEndpointTwiceIsRefused() {
        VirtualSwitch sw = newSwitch(16);
        Station a = new Station("a");
        sw.connect(a);
        assertThatThrownBy(() -> sw.connect(a)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already connected");
    }

    @Test
    void fixtureFramesPassByteForByte() {
        VirtualSwitch sw = newSwitch(16);
        Station guest = new Station("guest"), gateway = new Station("gateway");
        sw.connect(guest);
        sw.connect(gateway);

        byte[] arpRequest = Fixtures.frame(Fixtures.ARP_REQUEST_FROM_GATEWAY);
        byte[] arpReply = Fixtures.frame(Fixtures.ARP_REPLY_FROM_GUEST);
        byte[] udpOut = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        byte[] udpIn = Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST);
        gateway.send(arpRequest);
        guest.send(arpReply);
        guest.send(udpOut);
        gateway.send(udpIn);

        assertThat(guest.received).containsExactly(arpRequest, udpIn);
        assertThat(gateway.received).containsExactly(arpReply, udpOut);
    }

    @Test
    void endpointThatThrowsDoesNotStopTheFlood() {
        VirtualSwitch sw = newSwitch(16);
        Station a = new Station("a"), c = new Station("c");
        sw.connect(a);
        LinkEndpoint broken = new LinkEndpoint() {
            @Override
            public void attach(FramePort peer) {
            }

            @Override
            public void receiveFrame(ByteBuffer frame) {
                throw new IllegalStateException("broken");
            }
        };
        SwitchPort pBroken = sw.connect(broken);
        sw.connect(c);
        a.send(MacAddress.BROADCAST_BITS, A);

        assertThat(c.received).hasSize(1);
        assertThat(pBroken.drops(DropReason.EGRESS_ERROR)).isEqualTo(1);
    }

    @Test
    void metricsSumAllPorts() {
        VirtualSwitch sw = newSwitch(16);
        Station a = new Station("a"), b = new Station("b");
        SwitchPort pa = sw.connect(a);
        sw.connect(b);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        sw.bindTo(registry);
        a.send(MacAddress.BROADCAST_BITS, A);
        a.send(new byte[3]);
        pa.disconnect();   // counts of disconnected ports are kept

        assertThat(registry.get("netstack.switch.frames").tag("direction", "rx").functionCounter().count()).isEqualTo(2);
        assertThat(registry.get("netstack.switch.frames").tag("direction", "tx").functionCounter().count()).isEqualTo(1);
        assertThat(registry.get("netstack.switch.drops").tag("reason", "runt").functionCounter().count()).isEqualTo(1);
        assertThat(registry.get("netstack.switch.ports").gauge().value()).isEqualTo(1);
    }

    @Test
    void framesFromManyThreadsAreAllForwarded() throws Exception {
        VirtualSwitch sw = new VirtualSwitch("concurrent");
        int stations = 8;
        int framesEach = 20_000;
        List<Station> all = new ArrayList<>();
        AtomicLong delivered = new AtomicLong();
        for (int i = 0; i < stations; i++) {
            Station s = new Station("s" + i) {
                @Override
                public void receiveFrame(ByteBuffer frame) {
                    delivered.incrementAndGet();   // no copies: keep the test about the switch
                }
            };
            all.add(s);
            sw.connect(s);
        }
        long mac0 = 0x02_00_00_00_01_00L;
        for (int i = 0; i < stations; i++) {   // everyone learned before the timed part
            all.get(i).send(MacAddress.BROADCAST_BITS, mac0 + i);
        }
        delivered.set(0);
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < stations; i++) {
            int me = i;
            Thread t = new Thread(() -> {
                byte[][] frames = new byte[stations][];
                for (int d = 0; d < stations; d++) {
                    frames[d] = frame(mac0 + d, mac0 + me);
                }
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int n = 0; n < framesEach; n++) {
                    int to = (me + 1 + n % (stations - 1)) % stations;
                    all.get(me).send(frames[to]);
                }
            });
            threads.add(t);
            t.start();
        }
        start.countDown();
        for (Thread t : threads) {
            t.join();
        }
        assertThat(delivered.get()).isEqualTo((long) stations * framesEach);
        for (SwitchPort port : sw.ports()) {
            assertThat(port.receivedFrames()).isEqualTo(framesEach + 1);
            assertThat(port.transmittedFrames()).isEqualTo(framesEach + stations - 1);
        }
    }

    /**
     * Model-based: a plain map beside the switch, compared after every random frame. Each step
     * moves the clock on by at least a second so age refreshes are exact and there are no ties.
     */
    @Test
    void behavesLikeAReferenceModel() {
        for (long seed = 1; seed <= 40; seed++) {
            Random random = new Random(seed);
            int capacity = 1 + random.nextInt(6);
            VirtualSwitch sw = new VirtualSwitch("model", capacity, Duration.ofSeconds(20), clock::get);
            int portCount = 2 + random.nextInt(4);
            List<Station> stations = new ArrayList<>();
            for (int p = 0; p < portCount; p++) {
                Station s = new Station("p" + p);
                stations.add(s);
                sw.connect(s);
            }
            Map<Long, long[]> model = new HashMap<>();   // mac -> {port, lastSeen}
            for (int step = 0; step < 400; step++) {
                advance(Duration.ofSeconds(1 + random.nextInt(3)));
                long now = clock.get();
                int ingress = random.nextInt(portCount);
                long source = 0x02_00_00_00_00_00L + random.nextInt(12);
                long destination = random.nextInt(10) == 0 ? MacAddress.BROADCAST_BITS
                        : 0x02_00_00_00_00_00L + random.nextInt(12);

                // model: learn
                long[] entry = model.get(source);
                if (entry != null) {
                    entry[0] = ingress;
                    entry[1] = now;
                } else {
                    if (model.size() >= capacity) {
                        model.values().removeIf(e -> now - e[1] > Duration.ofSeconds(20).toNanos());
                        if (model.size() >= capacity) {
                            Long oldest = null;
                            for (Map.Entry<Long, long[]> e : model.entrySet()) {
                                if (oldest == null || e.getValue()[1] < model.get(oldest)[1]) {
                                    oldest = e.getKey();
                                }
                            }
                            model.remove(oldest);
                        }
                    }
                    model.put(source, new long[] {ingress, now});
                }
                // model: forward
                Set<Integer> expected = new HashSet<>();
                long[] target = MacAddress.isMulticast(destination) ? null : model.get(destination);
                if (target != null && now - target[1] <= Duration.ofSeconds(20).toNanos()) {
                    if (target[0] != ingress) {
                        expected.add((int) target[0]);
                    }
                } else {
                    for (int p = 0; p < portCount; p++) {
                        if (p != ingress) {
                            expected.add(p);
                        }
                    }
                }

                int[] before = new int[portCount];
                for (int p = 0; p < portCount; p++) {
                    before[p] = stations.get(p).received.size();
                }
                stations.get(ingress).send(destination, source);
                Set<Integer> actual = new HashSet<>();
                for (int p = 0; p < portCount; p++) {
                    if (stations.get(p).received.size() > before[p]) {
                        actual.add(p);
                    }
                }
                assertThat(actual).as("seed %d step %d", seed, step).isEqualTo(expected);
                assertThat(sw.macTableSize()).as("seed %d step %d", seed, step).isEqualTo(model.size());
            }
        }
    }
}
