package dev.netstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.buffer.MbufPool;
import dev.netstack.icmp.PingReply;
import dev.netstack.link.FrameObserver;
import dev.netstack.link.FrameTap;
import dev.netstack.link.Frames;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.metrics.Drop;
import dev.netstack.socket.PortUnreachableException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Two stacks on a virtual cable, as a user of the library would build them. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TwoStacksTest {
    static final Ipv4Address A = Ipv4Address.parse("10.0.2.15");
    static final Ipv4Address B = Ipv4Address.parse("10.0.2.2");

    MbufPool poolA;
    MbufPool poolB;
    NetStack a;
    NetStack b;

    @BeforeEach
    void connect() {
        start(UdpSocketDefaults.QUEUE, 256, 1024);
    }

    void start(int socketQueue, int deviceQueue, int buffers) {
        start(socketQueue, deviceQueue, buffers, null);
    }

    /** As above, with {@code tapA} (unless null) shown every frame A sends or receives. */
    void start(int socketQueue, int deviceQueue, int buffers, FrameObserver tapA) {
        poolA = NetStack.newPool(buffers, 0);
        poolB = NetStack.newPool(buffers, 0);
        VirtualDevice devA = new VirtualDevice("a", MacAddress.parse("52:54:00:12:34:56"), poolA, 1500, deviceQueue);
        VirtualDevice devB = new VirtualDevice("b", MacAddress.parse("52:55:0a:00:02:02"), poolB, 1500, deviceQueue);
        VirtualCable.connect(tapA == null ? devA : FrameTap.on(devA, tapA), devB);
        a = NetStack.builder().device(devA).address("10.0.2.15/24").gateway("10.0.2.2")
                .socketQueue(socketQueue, 64 << 20).build();
        b = NetStack.builder().device(devB).address("10.0.2.2/24")
                .socketQueue(socketQueue, 64 << 20).build();
    }

    @AfterEach
    void close() {
        a.close();
        b.close();
        PoolChecks.assertWhole(poolA);
        PoolChecks.assertWhole(poolB);
    }

    static ByteBuffer text(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void datagramsSentWithoutAChecksumArriveIntact() throws Exception {
        a.close();
        b.close();
        List<Integer> checksumsOnTheWire = new java.util.concurrent.CopyOnWriteArrayList<>();
        start(UdpSocketDefaults.QUEUE, 256, 1024, (frame, outbound) -> {
            byte[] bytes = new byte[frame.remaining()];
            frame.duplicate().get(bytes);
            if (outbound && Frames.isIpv4(bytes, Ipv4Header.PROTOCOL_UDP)) {
                checksumsOnTheWire.add(Frames.udpView(bytes).checksum());
            }
        });
        Random random = new Random(11);
        try (UdpSocket sender = a.openUdpSocket().checksums(false).bind(2000);
                UdpSocket receiver = b.openUdpSocket().bind(25603)) {
            ByteBuffer in = ByteBuffer.allocate(2048);
            for (int size : new int[] {0, 1, 64, 1472}) {
                byte[] payload = new byte[size];
                random.nextBytes(payload);
                sender.sendTo(ByteBuffer.wrap(payload), B, 25603);
                assertThat(receiver.receive(in.clear(), Duration.ofSeconds(5))).as("datagram of %d bytes", size).isNotNull();
                in.flip();
                byte[] got = new byte[in.remaining()];
                in.get(got);
                assertThat(got).containsExactly(payload);
            }
            assertThat(b.counters().drops(Drop.UDP_BAD_CHECKSUM)).isZero();
            assertThat(checksumsOnTheWire).as("every datagram left without a checksum").containsExactly(0, 0, 0, 0);
        }
    }

    @Test
    void theXv6ExchangeBothWays() throws Exception {
        try (UdpSocket guest = a.openUdpSocket().bind(2000); UdpSocket host = b.openUdpSocket().bind(25603)) {
            guest.sendTo(text("a message from xv6!"), B, 25603);
            ByteBuffer in = ByteBuffer.allocate(1500);
            InetSocketAddress from = host.receive(in, Duration.ofSeconds(5));
            assertThat(from).isNotNull();
            assertThat(from.getPort()).isEqualTo(2000);
            assertThat(Ipv4Address.of(from.getAddress())).isEqualTo(A);
            assertThat(new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII)).isEqualTo("a message from xv6!");

            host.sendTo(text("this is the host!"), A, 2000);
            in.clear();
            from = guest.receive(in, Duration.ofSeconds(5));
            assertThat(from.getPort()).isEqualTo(25603);
            assertThat(new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII)).isEqualTo("this is the host!");
        }
        assertThat(a.arpLookup(B)).isEqualTo(MacAddress.parse("52:55:0a:00:02:02"));
        assertThat(b.arpLookup(A)).isEqualTo(MacAddress.parse("52:54:00:12:34:56"));
    }

    @Test
    void pingsAnswerWithRtt() throws Exception {
        for (int i = 0; i < 5; i++) {
            PingReply reply = a.ping(B, 56, Duration.ofSeconds(2));
            assertThat(reply.from()).isEqualTo(B);
            assertThat(reply.bytes()).isEqualTo(64);
            assertThat(reply.ttl()).isEqualTo(64);
            assertThat(reply.rttNanos()).isPositive();
        }
        PingReply big = b.ping(A, 1472, Duration.ofSeconds(2));
        assertThat(big.bytes()).isEqualTo(1480);
    }

    @Test
    void fragmentedPingIsReassembledAndEchoedBack() throws Exception {
        PingReply reply = a.ping(B, 4000, Duration.ofSeconds(2));
        assertThat(reply.bytes()).isEqualTo(4008);
    }

    @Test
    void portUnreachableReachesTheSendersSocket() throws Exception {
        try (UdpSocket guest = a.openUdpSocket().bind(2000)) {
            guest.sendTo(text("anyone?"), B, 9);
            assertThatThrownBy(() -> guest.receive(ByteBuffer.allocate(100), Duration.ofSeconds(5)))
                    .isInstanceOf(PortUnreachableException.class)
                    .hasMessageContaining("10.0.2.2:9");
        }
        assertThat(b.counters().drops(Drop.UDP_NO_SOCKET)).isEqualTo(1);
    }

    @Test
    void eightKilobyteDatagramsAreFragmentedAndReassembledBothWays() throws Exception {
        Random random = new Random(7);
        byte[] payload = new byte[8192];
        random.nextBytes(payload);
        try (UdpSocket sa = a.openUdpSocket().bind(4000); UdpSocket sb = b.openUdpSocket().bind(4001)) {
            sa.sendTo(ByteBuffer.wrap(payload), B, 4001);
            ByteBuffer in = ByteBuffer.allocate(10000);
            assertThat(sb.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(in.flip()).isEqualTo(ByteBuffer.wrap(payload));

            sb.sendTo(ByteBuffer.wrap(payload), A, 4000);
            in.clear();
            assertThat(sa.receive(in, Duration.ofSeconds(5))).isNotNull();
            assertThat(in.flip()).isEqualTo(ByteBuffer.wrap(payload));
        }
    }

    @Test
    void eightSendersLoseNothingWhenQueuesSuffice() throws Exception {
        a.close();
        b.close();
        start(16_384, 16_384, 10_000);   // every datagram may sit in a queue at once: the pool must hold them all
        int threads = 8;
        int perThread = 1000;
        try (UdpSocket receiver = b.openUdpSocket().bind(7000)) {
            a.ping(B, 8, Duration.ofSeconds(2));   // resolve ARP first: only 3 datagrams may wait for it
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                done.add(pool.submit(() -> {
                    try (UdpSocket s = a.openUdpSocket()) {
                        ByteBuffer out = ByteBuffer.allocate(8);
                        for (int i = 0; i < perThread; i++) {
                            out.clear();
                            out.putInt(id).putInt(i).flip();
                            s.sendTo(out, B, 7000);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            pool.shutdown();
            boolean[][] seen = new boolean[threads][perThread];
            ByteBuffer in = ByteBuffer.allocate(64);
            for (int n = 0; n < threads * perThread; n++) {
                in.clear();
                assertThat(receiver.receive(in, Duration.ofSeconds(5))).as("datagram %d", n).isNotNull();
                in.flip();
                int id = in.getInt();
                int seq = in.getInt();
                assertThat(seen[id][seq]).as("duplicate %d/%d", id, seq).isFalse();
                seen[id][seq] = true;
            }
            assertThat(receiver.droppedDatagrams()).isZero();
        }
    }

    @Test
    void aFullSocketQueueDropsAndCounts() throws Exception {
        try (UdpSocket receiver = b.openUdpSocket(10, 1 << 20).bind(7001); UdpSocket sender = a.openUdpSocket()) {
            a.ping(B, 8, Duration.ofSeconds(2));
            for (int i = 0; i < 50; i++) {
                sender.sendTo(text("x"), B, 7001);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (receiver.droppedDatagrams() + receiver.queuedDatagrams() < 50 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(receiver.queuedDatagrams()).isEqualTo(10);
            assertThat(receiver.droppedDatagrams()).isEqualTo(40);
            assertThat(b.counters().drops(Drop.UDP_QUEUE_FULL)).isEqualTo(40);
        }
    }

    /** Socket queue big enough for most tests. */
    static final class UdpSocketDefaults {
        static final int QUEUE = 1024;
    }

    @Test
    void aStackMadeFromMacAndPoolSize() throws Exception {
        VirtualDevice[] made = new VirtualDevice[1];
        try (NetStack c = NetStack.builder().mac("52:54:00:00:00:99").poolSize(64)
                .device((mac, pool) -> made[0] = new VirtualDevice("c", mac, pool))
                .address("10.0.2.99/24").build()) {
            assertThat(c.macAddress()).isEqualTo(MacAddress.parse("52:54:00:00:00:99"));
            assertThat(c.pool().capacity()).isEqualTo(64);
            assertThat(c.pool().memory().uncarved()).isGreaterThanOrEqualTo(1 << 20);   // room left for rings
            assertThat(made[0].pool()).isSameAs(c.pool());
        }
    }

    @Test
    void eightSendersIntoSmallQueuesLoseOnlyWhatIsCounted() throws Exception {
        a.close();
        b.close();
        start(64, 64, 2048);   // socket queue 64, device queue 64: far less than 8 × 1000 in flight
        VirtualDevice deviceB = (VirtualDevice) b.device();
        int threads = 8;
        int perThread = 1000;
        try (UdpSocket receiver = b.openUdpSocket().bind(7002)) {
            a.ping(B, 8, Duration.ofSeconds(2));
            long deviceDropsBefore = deviceB.droppedQueueFull() + deviceB.droppedNoBuffer();
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    try (UdpSocket s = a.openUdpSocket()) {
                        for (int i = 0; i < perThread; i++) {
                            s.sendTo(text("x"), B, 7002);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();   // nobody reads meanwhile: 8000 datagrams meet 64 + 64 queue places
            }
            int received = 0;
            ByteBuffer in = ByteBuffer.allocate(16);
            pool.shutdown();
            while (receiver.receive(in.clear(), Duration.ofMillis(300)) != null) {
                received++;
            }
            long deviceDrops = deviceB.droppedQueueFull() + deviceB.droppedNoBuffer() - deviceDropsBefore;
            long socketDrops = receiver.droppedDatagrams();
            assertThat(socketDrops + deviceDrops).as("some datagrams must not have fit").isPositive();
            assertThat(received + socketDrops + deviceDrops)
                    .as("received %d + socket drops %d + device drops %d", received, socketDrops, deviceDrops)
                    .isEqualTo(threads * perThread);
            assertThat(b.counters().drops(Drop.UDP_QUEUE_FULL)).isEqualTo(socketDrops);
        }
    }

    @Test
    void aStackReachesItsOwnAddressWithoutTheWire() throws Exception {
        VirtualDevice deviceA = (VirtualDevice) a.device();
        long onTheWire = deviceA.transmittedFrames();
        try (UdpSocket server = a.openUdpSocket().bind(5000); UdpSocket client = a.openUdpSocket()) {
            client.sendTo(text("to myself"), A, 5000);
            ByteBuffer in = ByteBuffer.allocate(100);
            InetSocketAddress from = server.receive(in, Duration.ofSeconds(2));
            assertThat(from).isEqualTo(new InetSocketAddress(A.toInetAddress(), client.localPort()));
            assertThat(new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII)).isEqualTo("to myself");

            byte[] big = new byte[6000];   // fragmented and reassembled on the way back in
            new Random(3).nextBytes(big);
            client.sendTo(ByteBuffer.wrap(big), A, 5000);
            in = ByteBuffer.allocate(8000);
            assertThat(server.receive(in, Duration.ofSeconds(2))).isNotNull();
            assertThat(in.flip()).isEqualTo(ByteBuffer.wrap(big));

            assertThat(a.ping(A, 56, Duration.ofSeconds(2)).from()).isEqualTo(A);
            client.sendTo(text("nobody"), A, 5999);   // port unreachable comes back to ourselves too
            assertThatThrownBy(() -> client.receive(ByteBuffer.allocate(10), Duration.ofSeconds(2)))
                    .isInstanceOf(PortUnreachableException.class);
        }
        assertThat(deviceA.transmittedFrames()).as("frames put on the wire").isEqualTo(onTheWire);
    }
}
