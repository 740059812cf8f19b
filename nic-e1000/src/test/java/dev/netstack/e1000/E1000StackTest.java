package dev.netstack.e1000;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.NetStack;
import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.icmp.PingReply;
import dev.netstack.link.FrameTap;
import dev.netstack.link.VirtualCable;
import dev.netstack.metrics.Layer;
import dev.netstack.socket.PingTimeoutException;
import dev.netstack.socket.PortUnreachableException;
import dev.netstack.socket.SocketClosedException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Two NetStacks, each on its own emulated E1000 in its own guest memory, joined by a cable. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class E1000StackTest {
    static final Ipv4Address GUEST = Ipv4Address.parse("10.0.2.15");
    static final Ipv4Address HOST = Ipv4Address.parse("10.0.2.2");

    final List<AutoCloseable> toClose = new ArrayList<>();
    final List<MbufPool> pools = new ArrayList<>();
    final List<String> wire = Collections.synchronizedList(new ArrayList<>());
    /** The UDP checksum field of every UDP frame the guest's card sent, in order. */
    final List<Integer> udpChecksumsSent = Collections.synchronizedList(new ArrayList<>());
    /** Extra stack settings for the next {@link #pair}. */
    UnaryOperator<NetStack.Builder> stackOptions = b -> b;

    /** One guest: memory, pool, card, driver, stack. */
    final class Guest {
        final MbufPool pool;
        final E1000Device card;
        final E1000Driver driver;
        NetStack stack;

        Guest(String name, MacAddress mac, E1000Config config) {
            int buffers = config.receiveRingSize() + config.transmitRingSize() + 512;
            DmaMemory memory = DmaMemory.allocate(buffers * Mbuf.SIZE + (1 << 20));
            pool = MbufPool.carve(memory, buffers, true);
            card = new E1000Device(memory, mac);
            driver = new E1000Driver(card, memory, pool, mac, config.withName(name));
            pools.add(pool);
        }

        Guest start(String cidr) {
            stack = stackOptions.apply(NetStack.builder().device(driver).address(cidr).socketQueue(4096, 16 << 20)).build();
            toClose.add(0, stack);
            return this;
        }
    }

    Guest[] pair(E1000Config config) {
        Guest guest = new Guest("guest", MacAddress.parse("52:54:00:12:34:56"), config);
        Guest host = new Guest("host", MacAddress.parse("52:55:0a:00:02:02"), config);
        // the guest card's port goes through a tap that notes ARP frames, like tcpdump on the guest's link
        VirtualCable.connect(FrameTap.on(guest.card.port(), (frame, outbound) -> {
            noteArp(frame, outbound);
            noteUdpChecksum(frame, outbound);
        }), host.card.port());
        return new Guest[] {guest.start("10.0.2.15/24"), host.start("10.0.2.2/24")};
    }

    void noteArp(ByteBuffer frame, boolean outbound) {
        EthernetHeader eth = new EthernetHeader();
        ArpPacket arp = new ArpPacket();
        if (eth.wrap(frame, frame.position(), frame.remaining()) && eth.etherType() == EthernetHeader.TYPE_ARP
                && arp.wrap(frame, frame.position() + 14, frame.remaining() - 14)) {
            wire.add((outbound ? "out " : "in ") + (arp.operation() == ArpPacket.OP_REQUEST ? "request " : "reply ")
                    + Ipv4Address.toString(arp.targetIp()));
        }
    }

    void noteUdpChecksum(ByteBuffer frame, boolean outbound) {
        int at = frame.position();
        if (outbound && frame.remaining() >= 14 + 20 + 8 && (frame.getShort(at + 12) & 0xffff) == EthernetHeader.TYPE_IPV4
                && (frame.get(at + 14 + 9) & 0xff) == 17) {
            int udp = at + 14 + (frame.get(at + 14) & 0x0f) * 4;
            udpChecksumsSent.add(frame.getShort(udp + 6) & 0xffff);
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        helpers.shutdownNow();
        for (AutoCloseable c : toClose) {
            c.close();
        }
        for (MbufPool pool : pools) {
            PoolChecks.assertWhole(pool);
        }
    }

    static ByteBuffer text(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
    }

    static String text(ByteBuffer b) {
        return new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII);
    }

    @Test
    void theXv6LabExchange() throws Exception {
        Guest[] g = pair(E1000Config.defaults());
        try (UdpSocket guest = g[0].stack.openUdpSocket().bind(2000);
             UdpSocket host = g[1].stack.openUdpSocket().bind(25603)) {
            guest.sendTo(text("a message from xv6!"), HOST, 25603);
            ByteBuffer in = ByteBuffer.allocate(2048);
            InetSocketAddress from = host.receive(in, Duration.ofSeconds(5));
            assertThat(from).isEqualTo(new InetSocketAddress(GUEST.toInetAddress(), 2000));
            assertThat(text(in)).isEqualTo("a message from xv6!");

            host.sendTo(text("this is the host!"), GUEST, 2000);
            in.clear();
            from = guest.receive(in, Duration.ofSeconds(5));
            assertThat(from).isEqualTo(new InetSocketAddress(HOST.toInetAddress(), 25603));
            assertThat(text(in)).isEqualTo("this is the host!");
        }
        // the guest asked who has 10.0.2.2 and heard the answer, as in the lab's tcpdump
        assertThat(wire).contains("out request 10.0.2.2", "in reply 10.0.2.15");
        assertThat(g[0].card.statisticTotal(E1000Registers.GPTC)).isGreaterThanOrEqualTo(2);
        assertThat(g[0].card.statisticTotal(E1000Registers.GPRC)).isGreaterThanOrEqualTo(2);
    }

    @Test
    void pingsBothWaysIncludingFragmented() throws Exception {
        Guest[] g = pair(E1000Config.defaults());
        for (int size : new int[] {0, 56, 1472, 4000, 8000}) {
            PingReply reply = g[0].stack.ping(HOST, size, Duration.ofSeconds(2));
            assertThat(reply.bytes()).isEqualTo(size + 8);
            reply = g[1].stack.ping(GUEST, size, Duration.ofSeconds(2));
            assertThat(reply.bytes()).isEqualTo(size + 8);
        }
    }

    @Test
    void thousandsOfDatagramsWrapRingsOfEightManyTimes() throws Exception {
        Guest[] g = pair(E1000Config.defaults().withRingSizes(8, 8));
        int rounds = 3000;
        try (UdpSocket client = g[0].stack.openUdpSocket().bind(3000);
             UdpSocket server = g[1].stack.openUdpSocket().bind(3001)) {
            ByteBuffer out = ByteBuffer.allocate(64);
            ByteBuffer in = ByteBuffer.allocate(64);
            for (int i = 0; i < rounds; i++) {
                out.clear();
                out.putInt(i).flip();
                client.sendTo(out, HOST, 3001);
                in.clear();
                long sender = server.receiveFrom(in, TimeUnit.SECONDS.toNanos(5));
                assertThat(sender).as("datagram %d", i).isNotEqualTo(UdpSocket.NOTHING);
                assertThat(in.getInt(0)).isEqualTo(i);
                in.flip();
                server.sendTo(in, GUEST, 3000);
                in.clear();
                assertThat(client.receiveFrom(in, TimeUnit.SECONDS.toNanos(5))).isNotEqualTo(UdpSocket.NOTHING);
                assertThat(in.getInt(0)).isEqualTo(i);
            }
        }
        // each ring of 8 went round hundreds of times, and the cards counted every frame
        long sent = g[0].card.statisticTotal(E1000Registers.GPTC);
        assertThat(sent).isGreaterThanOrEqualTo(rounds);
        assertThat(g[1].card.statisticTotal(E1000Registers.GPRC)).isEqualTo(sent);
        assertThat(g[1].card.statisticTotal(E1000Registers.MPC)).isZero();
    }

    @Test
    void socketBurstsCrossRingsOfEightInOrder() throws Exception {
        // 200 bursts of twenty through a transmit ring of 8: each burst fills the ring, has the card
        // send what it holds, and goes on, so nothing is dropped as ring-full
        Guest[] g = pair(E1000Config.defaults().withRingSizes(64, 8));
        try (UdpSocket client = g[0].stack.openUdpSocket().bind(3000);
             UdpSocket server = g[1].stack.openUdpSocket().bind(3001)) {
            g[0].stack.ping(HOST, 0, Duration.ofSeconds(2));
            ByteBuffer[] burst = new ByteBuffer[20];
            ByteBuffer in = ByteBuffer.allocate(64);
            int next = 0;
            for (int round = 0; round < 200; round++) {
                for (int i = 0; i < burst.length; i++) {
                    burst[i] = ByteBuffer.allocate(4).putInt(0, next + i);
                }
                assertThat(client.sendTo(burst, 0, burst.length, HOST, 3001)).isEqualTo(burst.length);
                for (int i = 0; i < burst.length; i++) {
                    in.clear();
                    assertThat(server.receiveFrom(in, TimeUnit.SECONDS.toNanos(5))).isNotEqualTo(UdpSocket.NOTHING);
                    assertThat(in.getInt(0)).as("datagram %d of round %d", i, round).isEqualTo(next + i);
                }
                next += burst.length;
            }
        }
        assertThat(g[0].stack.counters().drops(dev.netstack.metrics.Drop.ETHERNET_TX_RING_FULL)).isZero();
        assertThat(g[1].card.statisticTotal(E1000Registers.GPRC)).isEqualTo(g[0].card.statisticTotal(E1000Registers.GPTC));
    }

    @Test
    void aBurstIntoASmallRingLosesOnlyWhatTheCardCounted() throws Exception {
        Guest[] g = pair(E1000Config.defaults().withRingSizes(8, 64));
        int burst = 2000;
        try (UdpSocket client = g[0].stack.openUdpSocket().bind(3000);
             UdpSocket server = g[1].stack.openUdpSocket().bind(3001)) {
            g[0].stack.ping(HOST, 0, Duration.ofSeconds(2));
            long missedBefore = g[1].card.statisticTotal(E1000Registers.MPC);
            for (int i = 0; i < burst; i++) {
                client.sendTo(text("burst"), HOST, 3001);
            }
            ByteBuffer in = ByteBuffer.allocate(64);
            int received = 0;
            while (server.receiveFrom(in, TimeUnit.MILLISECONDS.toNanos(500)) != UdpSocket.NOTHING) {
                in.clear();
                received++;
            }
            // lost either at the card (no free descriptor: MPC) or at the driver (no mbuf to refill the
            // descriptor while received datagrams fill the socket queue: the driver's no_buffer drop)
            long missed = g[1].card.statisticTotal(E1000Registers.MPC) - missedBefore;
            long noBuffer = g[1].driver.drops(E1000Driver.Drop.NO_BUFFER);
            assertThat(received + missed + noBuffer)
                    .as("received %d + missed %d + no buffer %d", received, missed, noBuffer).isEqualTo(burst);
            assertThat(g[1].stack.counters().packetsIn(Layer.UDP)).isEqualTo(received);
        }
    }

    @Test
    void busyPollWithChecksumOffload() throws Exception {
        Guest[] g = pair(E1000Config.defaults().withBusyPoll(32).withChecksumOffload(true));
        try (UdpSocket guest = g[0].stack.openUdpSocket().bind(2000);
             UdpSocket host = g[1].stack.openUdpSocket().bind(25603)) {
            for (int i = 0; i < 200; i++) {
                guest.sendTo(text("a message from xv6!"), HOST, 25603);
                ByteBuffer in = ByteBuffer.allocate(2048);
                assertThat(host.receive(in, Duration.ofSeconds(5))).isNotNull();
                assertThat(text(in)).isEqualTo("a message from xv6!");
            }
            assertThat(g[1].stack.counters().drops(dev.netstack.metrics.Drop.UDP_BAD_CHECKSUM)).isZero();
            assertThat(g[1].stack.counters().drops(dev.netstack.metrics.Drop.IPV4_BAD_CHECKSUM)).isZero();
            assertThat(g[0].stack.ping(HOST, 1000, Duration.ofSeconds(2)).bytes()).isEqualTo(1008);
        }
    }

    @Test
    void aSocketWithoutChecksumsKeepsItsZeroThroughACardThatOffloadsThem() throws Exception {
        // the card fills in the checksums the stack asks for; a datagram sent without one (RFC 768's 0)
        // must leave without one, as Linux's drivers offload only what the stack marks for it
        Guest[] g = pair(E1000Config.defaults().withChecksumOffload(true));
        try (UdpSocket without = g[0].stack.openUdpSocket().checksums(false).bind(2000);
             UdpSocket with = g[0].stack.openUdpSocket().bind(2001);
             UdpSocket host = g[1].stack.openUdpSocket().bind(25603)) {
            ByteBuffer in = ByteBuffer.allocate(2048);
            for (UdpSocket sender : new UdpSocket[] {without, with}) {
                for (int size : new int[] {64, 1472}) {
                    ByteBuffer payload = ByteBuffer.allocate(size);
                    while (payload.hasRemaining()) {
                        payload.put((byte) (payload.position() * 7 + size));
                    }
                    sender.sendTo(payload.flip(), HOST, 25603);
                    assertThat(host.receive(in.clear(), Duration.ofSeconds(5))).isNotNull();
                    assertThat(in.flip()).isEqualTo(payload.rewind());
                }
            }
            assertThat(udpChecksumsSent).hasSize(4);
            assertThat(udpChecksumsSent.subList(0, 2)).as("checksums off").containsExactly(0, 0);
            assertThat(udpChecksumsSent.subList(2, 4)).as("checksums on, filled in by the card").doesNotContain(0);
            assertThat(g[1].stack.counters().drops(dev.netstack.metrics.Drop.UDP_BAD_CHECKSUM)).isZero();
        }
    }

    @Test
    @Timeout(30)
    void aBusyPollReaderSpinningOnAnEmptyQueueSeesACloseAndAnIcmpError() throws Exception {
        stackOptions = b -> b.busyPollSpin(Duration.ofSeconds(60));   // the readers never stop spinning to wait
        Guest[] g = pair(E1000Config.defaults().withBusyPoll(32));
        UdpSocket reader = g[1].stack.openUdpSocket().bind(4000);
        assertAWaitingReaderSeesACloseAndAnIcmpError(g, reader);
    }

    /** {@code reader} (on the host) closed under a waiting thread; then an asker's port unreachable. */
    private static void assertAWaitingReaderSeesACloseAndAnIcmpError(Guest[] g, UdpSocket reader) throws Exception {
        CompletableFuture<Throwable> closedUnder = CompletableFuture.supplyAsync(() -> failureOf(reader));
        Thread.sleep(100);
        reader.close();
        assertThat(closedUnder.get(10, TimeUnit.SECONDS)).isInstanceOf(SocketClosedException.class);

        try (UdpSocket asker = g[1].stack.openUdpSocket().bind(4001)) {
            CompletableFuture<Throwable> refused = CompletableFuture.supplyAsync(() -> failureOf(asker));
            Thread.sleep(100);
            asker.sendTo(text("anyone there?"), GUEST, 9);   // nothing listens there: port unreachable comes back
            assertThat(refused.get(10, TimeUnit.SECONDS)).isInstanceOf(PortUnreachableException.class);
        }
    }

    // --- interrupt mode: a reader awaiting an answer takes the interrupt itself ----------------------

    /**
     * Threads of their own for the blocking helpers: the common pool has a single thread on a 2-core
     * machine, where an echo server waiting on it would keep the next one from starting.
     */
    final java.util.concurrent.ExecutorService helpers = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "e1000-stack-test-helper");
        t.setDaemon(true);
        return t;
    });

    /** Echoes {@code rounds} datagrams on {@code server}, each within 10 s; the sender learns its address. */
    private CompletableFuture<Integer> echo(UdpSocket server, int rounds) {
        return CompletableFuture.supplyAsync(() -> {
            ByteBuffer in = ByteBuffer.allocate(2048);
            try {
                for (int i = 0; i < rounds; i++) {
                    in.clear();
                    InetSocketAddress from = server.receive(in, Duration.ofSeconds(10));
                    in.flip();
                    server.sendTo(in, Ipv4Address.of(from.getAddress()), from.getPort());
                }
                return rounds;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, helpers);
    }

    /** {@code rounds} requests from {@code client} to {@code server}:{@code port}, each answered within 10 s. */
    private static void pingPong(UdpSocket client, Ipv4Address server, int port, int rounds) throws Exception {
        ByteBuffer in = ByteBuffer.allocate(2048);
        for (int i = 0; i < rounds; i++) {
            client.sendTo(text("round " + i), server, port);
            in.clear();
            client.receive(in, Duration.ofSeconds(10));
            assertThat(text(in)).isEqualTo("round " + i);
        }
    }

    @Test
    void inInterruptModeAReaderAwaitingAnAnswerRunsTheReceivePipelineItself() throws Exception {
        Guest[] g = pair(E1000Config.defaults());
        try (UdpSocket client = g[0].stack.openUdpSocket().bind(3000);
             UdpSocket server = g[1].stack.openUdpSocket().bind(3001)) {
            CompletableFuture<Integer> served = echo(server, 200);
            pingPong(client, HOST, 3001, 200);
            assertThat(served.get(10, TimeUnit.SECONDS)).isEqualTo(200);
        }
        // Both ends' readers sent before they waited, so each waited for the card's interrupt itself
        // and took frames from the ring on its own thread (the receive thread, woken as well, may
        // win some of them).
        assertThat(g[0].stack.framesReceivedByApplications()).isPositive();
        assertThat(g[1].stack.framesReceivedByApplications()).isPositive();
    }

    @Test
    void inInterruptModeAOneWayReaderLeavesTheRingToTheReceiveThread() throws Exception {
        Guest[] g = pair(E1000Config.defaults());
        try (UdpSocket sender = g[0].stack.openUdpSocket().bind(3000);
             UdpSocket reader = g[1].stack.openUdpSocket().bind(3001)) {
            ByteBuffer in = ByteBuffer.allocate(2048);
            for (int i = 0; i < 200; i++) {
                sender.sendTo(text("one way " + i), HOST, 3001);
                in.clear();
                reader.receive(in, Duration.ofSeconds(10));
                assertThat(text(in)).isEqualTo("one way " + i);
            }
        }
        // the reader never sent: it parked on its socket and the receive thread worked beside it (and
        // counts a batch after delivering it, so its count may trail the reader by one batch)
        assertThat(g[1].stack.framesReceivedByApplications()).isZero();
        assertThat(g[1].stack.framesReceivedByReceiveThread()).isPositive();
    }

    @Test
    void inInterruptModeTwoReadersAwaitingAnswersBothGetThem() throws Exception {
        Guest[] g = pair(E1000Config.defaults());
        try (UdpSocket a = g[0].stack.openUdpSocket().bind(3000);
             UdpSocket b = g[0].stack.openUdpSocket().bind(3002);
             UdpSocket echoA = g[1].stack.openUdpSocket().bind(3001);
             UdpSocket echoB = g[1].stack.openUdpSocket().bind(3003)) {
            CompletableFuture<Integer> servedA = echo(echoA, 300);
            CompletableFuture<Integer> servedB = echo(echoB, 300);
            // one reader at a time waits for the interrupt; the other parks on its socket meanwhile
            CompletableFuture<Void> second = CompletableFuture.runAsync(() -> {
                try {
                    pingPong(b, HOST, 3003, 300);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, helpers);
            pingPong(a, HOST, 3001, 300);
            second.get(30, TimeUnit.SECONDS);
            assertThat(servedA.get(10, TimeUnit.SECONDS)).isEqualTo(300);
            assertThat(servedB.get(10, TimeUnit.SECONDS)).isEqualTo(300);
        }
    }

    private static E1000Config mode(boolean busyPoll) {
        return busyPoll ? E1000Config.defaults().withBusyPoll(64) : E1000Config.defaults();
    }

    @ParameterizedTest(name = "busy-poll {0}")
    @ValueSource(booleans = {false, true})
    void aPingTakesItsReplyFromTheCardItself(boolean busyPoll) throws Exception {
        Guest[] g = pair(mode(busyPoll));
        for (int i = 0; i < 100; i++) {
            assertThat(g[0].stack.ping(HOST, 56, Duration.ofSeconds(10)).sequence()).isEqualTo(i);
        }
        // the pinging thread polled the card (busy-poll) or waited for its interrupt, and ran the
        // pipeline that found its reply; the receive thread may still take some of them
        assertThat(g[0].stack.framesReceivedByApplications()).isPositive();
    }

    @ParameterizedTest(name = "busy-poll {0}")
    @ValueSource(booleans = {false, true})
    @Timeout(60)
    void pingsFromTwoThreadsEachGetTheirReplies(boolean busyPoll) throws Exception {
        Guest[] g = pair(mode(busyPoll));
        // interrupt mode: one thread at a time waits for the interrupt, the other for the receive
        // thread; busy-poll: both poll the card, and the pipeline's lock lets one in at a time
        CompletableFuture<Void> second = CompletableFuture.runAsync(() -> {
            try {
                for (int i = 0; i < 300; i++) {
                    g[0].stack.ping(HOST, 8, Duration.ofSeconds(10));
                }
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, helpers);
        for (int i = 0; i < 300; i++) {
            g[0].stack.ping(HOST, 8, Duration.ofSeconds(10));
        }
        second.get(30, TimeUnit.SECONDS);
    }

    @Test
    @Timeout(30)
    void inInterruptModeAPingWaitingForTheInterruptIsWokenByAReplyAnotherThreadDelivers() throws Exception {
        Guest[] g = pair(E1000Config.defaults());
        // a third thread keeps taking frames from the ring, so replies often reach their slot while
        // the pinger waits for an interrupt that has already come and gone: only the delivery can
        // wake it then, and a pinger left asleep would sit out its whole timeout, a minute
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        CompletableFuture<Void> taker = CompletableFuture.runAsync(() -> {
            while (!stop.get()) {
                if (g[0].stack.receiveNow() == 0) {
                    Thread.onSpinWait();
                }
            }
        }, helpers);
        try {
            for (int i = 0; i < 500; i++) {
                assertThat(g[0].stack.ping(HOST, 8, Duration.ofMinutes(1)).sequence()).isEqualTo(i);
            }
        } finally {
            stop.set(true);
            taker.get(10, TimeUnit.SECONDS);
        }
    }

    @ParameterizedTest(name = "busy-poll {0}")
    @ValueSource(booleans = {false, true})
    @Timeout(30)
    void aWaitingPingTimesOutAndCanBeInterrupted(boolean busyPoll) throws Exception {
        Guest[] g = pair(mode(busyPoll));
        // on the cable's subnet, never answers ARP; ARP gives up only after a second or more
        Ipv4Address nobody = Ipv4Address.parse("10.0.2.77");
        assertThatThrownBy(() -> g[0].stack.ping(nobody, 8, Duration.ofMillis(300)))
                .isInstanceOf(PingTimeoutException.class);

        Thread pinger = Thread.currentThread();
        CompletableFuture<Void> interrupter = CompletableFuture.runAsync(() -> {
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
            pinger.interrupt();
        }, helpers);
        try {
            assertThatThrownBy(() -> g[0].stack.ping(nobody, 8, Duration.ofSeconds(20)))
                    .isInstanceOf(InterruptedException.class);
        } finally {
            interrupter.get(10, TimeUnit.SECONDS);
            Thread.interrupted();
        }
    }

    @Test
    @Timeout(30)
    void inInterruptModeAReaderWaitingForTheInterruptSeesACloseAndAnIcmpError() throws Exception {
        Guest[] g = pair(E1000Config.defaults());
        try (UdpSocket silent = g[0].stack.openUdpSocket().bind(4999)) {
            UdpSocket reader = g[1].stack.openUdpSocket().bind(4000);
            reader.sendTo(text("hello?"), GUEST, 4999);   // bound but never answers: the reader awaits a reply
            assertAWaitingReaderSeesACloseAndAnIcmpError(g, reader);
        }
    }

    private static Throwable failureOf(UdpSocket socket) {
        try {
            socket.receive(ByteBuffer.allocate(64), Duration.ofSeconds(60));
            return null;
        } catch (Throwable t) {
            return t;
        }
    }
}
