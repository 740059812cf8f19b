package dev.netstack.bridge.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.bridge.NettyTransport;
import dev.netstack.bridge.dns.DnsService.DropReason;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.dns.DatagramDnsQuery;
import io.netty.handler.codec.dns.DatagramDnsQueryDecoder;
import io.netty.handler.codec.dns.DatagramDnsQueryEncoder;
import io.netty.handler.codec.dns.DatagramDnsResponse;
import io.netty.handler.codec.dns.DatagramDnsResponseDecoder;
import io.netty.handler.codec.dns.DatagramDnsResponseEncoder;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRawRecord;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRawRecord;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponse;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import java.io.File;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class DnsServiceTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static EventLoopGroup group;

    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    @BeforeAll
    static void startEventLoop() {
        group = NettyTransport.newEventLoopGroup(2, "dns-test");
    }

    @AfterAll
    static void stopEventLoop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeAfter.size() - 1; i >= 0; i--) {
            closeAfter.get(i).close();
        }
    }

    private DnsService track(DnsService service) {
        closeAfter.add(service);
        return service;
    }

    // --- message helpers (netty-codec-dns on both sides) ----------------------------------------

    static ByteBuffer query(int id, String name, DnsRecordType type, boolean edns) {
        DatagramDnsQuery query = new DatagramDnsQuery(null, new InetSocketAddress(LOOPBACK, 53), id);
        query.setRecursionDesired(true);
        if (name != null) {
            query.addRecord(DnsSection.QUESTION, new DefaultDnsQuestion(name, type));
        }
        if (edns) {
            query.addRecord(DnsSection.ADDITIONAL, new DefaultDnsRawRecord(".", DnsRecordType.OPT, 4096, 0,
                    Unpooled.EMPTY_BUFFER));
        }
        EmbeddedChannel encoder = new EmbeddedChannel(new DatagramDnsQueryEncoder());
        encoder.writeOutbound(query);
        DatagramPacket packet = encoder.readOutbound();
        ByteBuffer bytes = ByteBuffer.wrap(ByteBufUtil.getBytes(packet.content()));
        packet.release();
        encoder.finishAndReleaseAll();
        return bytes;
    }

    static ByteBuffer query(int id, String name, DnsRecordType type) {
        return query(id, name, type, false);
    }

    /** Parses a response; the caller releases it. */
    static DnsResponse parse(ByteBuffer response) {
        assertThat(response).as("a response").isNotNull();
        EmbeddedChannel decoder = new EmbeddedChannel(new DatagramDnsResponseDecoder());
        decoder.writeInbound(new DatagramPacket(Unpooled.wrappedBuffer(response.duplicate()),
                new InetSocketAddress(LOOPBACK, 5353), new InetSocketAddress(LOOPBACK, 53)));
        DnsResponse parsed = decoder.readInbound();
        decoder.finish();
        return parsed;
    }

    static ByteBuffer await(CompletableFuture<ByteBuffer> future) throws Exception {
        return future.get(10, TimeUnit.SECONDS);
    }

    static List<InetAddress> addresses(DnsResponse response) throws Exception {
        List<InetAddress> out = new ArrayList<>();
        for (int i = 0; i < response.count(DnsSection.ANSWER); i++) {
            DnsRecord record = response.recordAt(DnsSection.ANSWER, i);
            if (record.type().equals(DnsRecordType.A) || record.type().equals(DnsRecordType.AAAA)) {
                out.add(InetAddress.getByAddress(ByteBufUtil.getBytes(((DnsRawRecord) record).content())));
            }
        }
        return out;
    }

    // --- static records --------------------------------------------------------------------------

    @Test
    void staticRecordIsAnsweredAuthoritatively() throws Exception {
        DnsService dns = track(DnsService.builder().hostResolver(false).eventLoopGroup(group)
                .staticRecord("printer.lan", InetAddress.getByName("10.0.2.50"))
                .staticRecords("v6.lan=fd00::1")
                .build());

        ByteBuffer q = query(0x1234, "Printer.LAN.", DnsRecordType.A);
        int position = q.position();
        CompletableFuture<ByteBuffer> future = dns.respond(q);
        assertThat(q.position()).isEqualTo(position);
        assertThat(future).isDone();   // static answers need no waiting
        DnsResponse response = parse(future.get());
        try {
            assertThat(response.id()).isEqualTo(0x1234);
            assertThat(response.code()).isEqualTo(DnsResponseCode.NOERROR);
            assertThat(response.isAuthoritativeAnswer()).isTrue();
            assertThat(response.isRecursionDesired()).isTrue();
            assertThat(((DnsQuestion) response.recordAt(DnsSection.QUESTION)).name()).isEqualToIgnoringCase("printer.lan.");
            assertThat(addresses(response)).containsExactly(InetAddress.getByName("10.0.2.50"));
        } finally {
            response.release();
        }

        DnsResponse v6 = parse(await(dns.respond(query(2, "v6.lan", DnsRecordType.AAAA))));
        DnsResponse noData = parse(await(dns.respond(query(3, "v6.lan", DnsRecordType.A))));
        try {
            assertThat(addresses(v6)).containsExactly(InetAddress.getByName("fd00::1"));
            assertThat(noData.code()).isEqualTo(DnsResponseCode.NOERROR);
            assertThat(noData.count(DnsSection.ANSWER)).isZero();
        } finally {
            v6.release();
            noData.release();
        }
        assertThat(dns.answeredFromStatic()).isEqualTo(3);
    }

    @Test
    void hostsFileRecordsAreServed(@TempDir Path dir) throws Exception {
        Path hosts = dir.resolve("hosts");
        Files.writeString(hosts, "# lab machines\n10.0.2.60   build.lab  ci   # the builder\n\n"
                + "10.0.2.61 db.lab\nfd00::61 db.lab\n");
        DnsService dns = track(DnsService.builder().hostResolver(false).eventLoopGroup(group).hostsFile(hosts).build());

        DnsResponse ci = parse(await(dns.respond(query(1, "ci", DnsRecordType.A))));
        DnsResponse db = parse(await(dns.respond(query(2, "db.lab", DnsRecordType.AAAA))));
        try {
            assertThat(addresses(ci)).containsExactly(InetAddress.getByName("10.0.2.60"));
            assertThat(addresses(db)).containsExactly(InetAddress.getByName("fd00::61"));
        } finally {
            ci.release();
            db.release();
        }

        Path broken = dir.resolve("broken");
        Files.writeString(broken, "10.0.2.60 ok\nnot-an-address name\n");
        assertThatThrownBy(() -> DnsService.builder().hostsFile(broken))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("line 2");
        assertThatThrownBy(() -> DnsService.builder().staticRecords("nameonly"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("name=address");
    }

    @Test
    void localhostIsResolvedByTheHost() throws Exception {
        DnsService dns = track(DnsService.builder().eventLoopGroup(group).build());
        DnsResponse response = parse(await(dns.respond(query(7, "localhost", DnsRecordType.A))));
        try {
            assertThat(response.code()).isEqualTo(DnsResponseCode.NOERROR);
            assertThat(response.isAuthoritativeAnswer()).isFalse();
            assertThat(addresses(response)).isNotEmpty().allMatch(InetAddress::isLoopbackAddress);
        } finally {
            response.release();
        }
        assertThat(dns.answeredByHost()).isEqualTo(1);
    }

    // --- bad queries -----------------------------------------------------------------------------

    @Test
    void badQueriesGetFormerrOrAreDropped() throws Exception {
        DnsService dns = track(DnsService.builder().hostResolver(false).eventLoopGroup(group).build());

        assertThat(await(dns.respond(ByteBuffer.allocate(11)))).isNull();
        assertThat(dns.drops(DropReason.SHORT)).isEqualTo(1);

        DnsResponse noQuestion = parse(await(dns.respond(query(0x0101, null, null))));
        ByteBuffer responseBit = query(0x0202, "x.test", DnsRecordType.A);
        responseBit.put(2, (byte) (responseBit.get(2) | 0x80));
        DnsResponse notQuery = parse(await(dns.respond(responseBit)));
        ByteBuffer cut = query(0x0303, "truncated.example.test", DnsRecordType.A);
        cut.limit(20);   // header says one question, the name runs off the end
        DnsResponse malformed = parse(await(dns.respond(cut)));
        try {
            assertThat(noQuestion.code()).isEqualTo(DnsResponseCode.FORMERR);
            assertThat(noQuestion.id()).isEqualTo(0x0101);
            assertThat(notQuery.code()).isEqualTo(DnsResponseCode.FORMERR);
            assertThat(notQuery.id()).isEqualTo(0x0202);
            assertThat(malformed.code()).isEqualTo(DnsResponseCode.FORMERR);
            assertThat(malformed.id()).isEqualTo(0x0303);
        } finally {
            noQuestion.release();
            notQuery.release();
            malformed.release();
        }
        assertThat(dns.drops(DropReason.NO_QUESTION)).isEqualTo(1);
        assertThat(dns.drops(DropReason.NOT_QUERY)).isEqualTo(1);
        assertThat(dns.drops(DropReason.MALFORMED)).isEqualTo(1);
    }

    // --- truncation ------------------------------------------------------------------------------

    @Test
    void answersOver512BytesAreTruncatedUnlessTheQueryHasEdns() throws Exception {
        DnsService.Builder builder = DnsService.builder().hostResolver(false).eventLoopGroup(group);
        for (int i = 1; i <= 40; i++) {   // 40 A records: about 700 bytes
            builder.staticRecord("many.lan", InetAddress.getByName("10.0.3." + i));
        }
        DnsService dns = track(builder.build());

        ByteBuffer plain = await(dns.respond(query(1, "many.lan", DnsRecordType.A)));
        ByteBuffer withEdns = await(dns.respond(query(2, "many.lan", DnsRecordType.A, true)));
        DnsResponse cut = parse(plain);
        DnsResponse whole = parse(withEdns);
        try {
            assertThat(plain.remaining()).isLessThanOrEqualTo(512);
            assertThat(cut.isTruncated()).isTrue();
            assertThat(cut.count(DnsSection.ANSWER)).isZero();
            assertThat(cut.count(DnsSection.QUESTION)).isEqualTo(1);

            assertThat(withEdns.remaining()).isGreaterThan(512);
            assertThat(whole.isTruncated()).isFalse();
            assertThat(whole.count(DnsSection.ANSWER)).isEqualTo(40);
            assertThat(whole.recordAt(DnsSection.ADDITIONAL).type()).isEqualTo(DnsRecordType.OPT);
        } finally {
            cut.release();
            whole.release();
        }
    }

    // --- forwarding ------------------------------------------------------------------------------

    /** A DNS server on 127.0.0.1 whose behaviour each test sets: it gets the query and its own channel. */
    final class FakeUpstream implements AutoCloseable {
        final Channel channel;
        final AtomicInteger queries = new AtomicInteger();
        volatile BiConsumer<DatagramDnsQuery, Channel> behaviour = (q, ch) -> { };

        FakeUpstream() throws InterruptedException {
            channel = new Bootstrap().group(group).channel(NettyTransport.datagramChannelClass(group))
                    .handler(new ChannelInitializer<DatagramChannel>() {
                        @Override
                        protected void initChannel(DatagramChannel ch) {
                            ch.pipeline().addLast(new DatagramDnsQueryDecoder(), new DatagramDnsResponseEncoder(),
                                    new SimpleChannelInboundHandler<DatagramDnsQuery>() {
                                        @Override
                                        protected void channelRead0(ChannelHandlerContext ctx, DatagramDnsQuery q) {
                                            queries.incrementAndGet();
                                            behaviour.accept(q, ctx.channel());
                                        }
                                    });
                        }
                    }).bind(new InetSocketAddress(LOOPBACK, 0)).sync().channel();
            closeAfter.add(this);
        }

        InetSocketAddress address() {
            return (InetSocketAddress) channel.localAddress();
        }

        @Override
        public void close() {
            channel.close().syncUninterruptibly();
        }
    }

    /** An answer to {@code q} with an A record, optionally forged in id or question. */
    static DatagramDnsResponse answer(DatagramDnsQuery q, Channel from, int id, String name, String address)
            throws Exception {
        DnsQuestion asked = q.recordAt(DnsSection.QUESTION);
        DatagramDnsResponse response = new DatagramDnsResponse((InetSocketAddress) from.localAddress(), q.sender(), id);
        response.setRecursionAvailable(true).setRecursionDesired(q.isRecursionDesired());
        response.addRecord(DnsSection.QUESTION, new DefaultDnsQuestion(name, asked.type()));
        response.addRecord(DnsSection.ANSWER, new DefaultDnsRawRecord(name, DnsRecordType.A, 60,
                Unpooled.wrappedBuffer(InetAddress.getByName(address).getAddress())));
        return response;
    }

    static String askedName(DatagramDnsQuery q) {
        return ((DnsQuestion) q.recordAt(DnsSection.QUESTION)).name();
    }

    @Test
    void forwardedAnswerIsRelayedUnderTheGuestsId() throws Exception {
        FakeUpstream upstream = new FakeUpstream();
        List<Integer> upstreamIds = new ArrayList<>();
        upstream.behaviour = (q, ch) -> {
            upstreamIds.add(q.id());
            try {
                ch.writeAndFlush(answer(q, ch, q.id(), askedName(q), "192.0.2.7"));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        DnsService dns = track(DnsService.builder().eventLoopGroup(group).upstream(upstream.address()).build());
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        dns.bindTo(registry);

        DnsResponse response = parse(await(dns.respond(query(0x4242, "www.example.test", DnsRecordType.A))));
        try {
            assertThat(response.id()).isEqualTo(0x4242);
            assertThat(addresses(response)).containsExactly(InetAddress.getByName("192.0.2.7"));
        } finally {
            response.release();
        }
        assertThat(dns.answeredByForwarding()).isEqualTo(1);
        assertThat(dns.inFlight()).isZero();
        assertThat(registry.get("netstack.dns.answers").tag("source", "forward").functionCounter().count()).isEqualTo(1);
        assertThat(registry.get("netstack.dns.latency").functionTimer().count()).isEqualTo(1);

        // fresh random ids: a second query almost surely gets another one
        DnsResponse again = parse(await(dns.respond(query(0x4242, "www.example.test", DnsRecordType.A))));
        again.release();
        assertThat(upstreamIds).hasSize(2);
    }

    @Test
    void forgedAnswersAreRejectedThenTheQueryTimesOut() throws Exception {
        FakeUpstream upstream = new FakeUpstream();
        Channel otherPort = new Bootstrap().group(group).channel(NettyTransport.datagramChannelClass(group))
                .handler(new DatagramDnsResponseEncoder()).bind(new InetSocketAddress(LOOPBACK, 0)).sync().channel();
        closeAfter.add(() -> otherPort.close().syncUninterruptibly());
        upstream.behaviour = (q, ch) -> {
            try {
                ch.write(answer(q, ch, q.id() ^ 1, askedName(q), "203.0.113.66"));              // wrong id
                ch.write(answer(q, ch, q.id(), "evil.example.test.", "203.0.113.66"));          // wrong question
                otherPort.writeAndFlush(answer(q, otherPort, q.id(), askedName(q), "203.0.113.66"));   // wrong port
                ch.flush();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        DnsService dns = track(DnsService.builder().eventLoopGroup(group).upstream(upstream.address())
                .timeout(Duration.ofMillis(700)).build());

        DnsResponse response = parse(await(dns.respond(query(9, "bank.example.test", DnsRecordType.A))));
        try {
            assertThat(response.code()).isEqualTo(DnsResponseCode.SERVFAIL);
            assertThat(response.id()).isEqualTo(9);
            assertThat(addresses(response)).isEmpty();
        } finally {
            response.release();
        }
        assertThat(dns.drops(DropReason.WRONG_ID)).isEqualTo(1);
        assertThat(dns.drops(DropReason.WRONG_QUESTION)).isEqualTo(1);
        assertThat(dns.drops(DropReason.WRONG_SOURCE)).isEqualTo(1);
        assertThat(dns.drops(DropReason.UPSTREAM_TIMEOUT)).isEqualTo(1);
        assertThat(dns.failures()).isEqualTo(1);
    }

    @Test
    void silentFirstServerIsSkippedForTheSecond() throws Exception {
        FakeUpstream silent = new FakeUpstream();
        FakeUpstream helpful = new FakeUpstream();
        helpful.behaviour = (q, ch) -> {
            try {
                ch.writeAndFlush(answer(q, ch, q.id(), askedName(q), "192.0.2.8"));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        DnsService dns = track(DnsService.builder().eventLoopGroup(group).upstream(silent.address())
                .upstream(helpful.address()).timeout(Duration.ofMillis(500)).build());

        DnsResponse response = parse(await(dns.respond(query(5, "second.example.test", DnsRecordType.A))));
        try {
            assertThat(addresses(response)).containsExactly(InetAddress.getByName("192.0.2.8"));
        } finally {
            response.release();
        }
        assertThat(silent.queries.get()).isEqualTo(1);
        assertThat(helpful.queries.get()).isEqualTo(1);
        assertThat(dns.drops(DropReason.UPSTREAM_TIMEOUT)).isEqualTo(1);
    }

    @Test
    void queriesBeyondTheInFlightBoundGetServfail() throws Exception {
        FakeUpstream silent = new FakeUpstream();
        DnsService dns = DnsService.builder().eventLoopGroup(group).upstream(silent.address())
                .maxInFlight(4).timeout(Duration.ofSeconds(20)).build();
        List<CompletableFuture<ByteBuffer>> waiting = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                waiting.add(dns.respond(query(100 + i, "slow" + i + ".example.test", DnsRecordType.A)));
            }
            assertThat(dns.inFlight()).isEqualTo(4);
            CompletableFuture<ByteBuffer> refused = dns.respond(query(200, "one-too-many.example.test", DnsRecordType.A));
            assertThat(refused).isDone();
            DnsResponse response = parse(refused.get());
            assertThat(response.code()).isEqualTo(DnsResponseCode.SERVFAIL);
            response.release();
            assertThat(dns.drops(DropReason.IN_FLIGHT_LIMIT)).isEqualTo(1);
            assertThat(waiting).noneMatch(CompletableFuture::isDone);
        } finally {
            dns.close();
        }
        for (CompletableFuture<ByteBuffer> future : waiting) {   // closing answers everyone still waiting
            DnsResponse response = parse(await(future));
            assertThat(response.code()).isEqualTo(DnsResponseCode.SERVFAIL);
            response.release();
        }
        assertThat(dns.inFlight()).isZero();
        assertThatThrownBy(() -> dns.respond(query(1, "late.test", DnsRecordType.A)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    // --- spare upstream sockets ------------------------------------------------------------------

    /** An upstream that answers every query and remembers the source port each came from. */
    /** A service on the test's event loops forwarding to {@code upstream}, with {@code spares} spare sockets. */
    private DnsService withSpares(FakeUpstream upstream, int spares) {
        return track(DnsService.builder().eventLoopGroup(group).upstream(upstream.address()).spareSockets(spares).build());
    }

    private FakeUpstream answeringUpstream(List<Integer> sourcePorts) throws Exception {
        FakeUpstream upstream = new FakeUpstream();
        upstream.behaviour = (q, ch) -> {
            synchronized (sourcePorts) {
                sourcePorts.add(q.sender().getPort());
            }
            try {
                ch.writeAndFlush(answer(q, ch, q.id(), askedName(q), "192.0.2.9"));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        return upstream;
    }

    private static void waitFor(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting for %s", what).isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    private static void assertAnswered(DnsService dns, int id) throws Exception {
        DnsResponse response = parse(await(dns.respond(query(id, "spare.example.test", DnsRecordType.A))));
        try {
            assertThat(response.id()).isEqualTo(id);
            assertThat(addresses(response)).containsExactly(InetAddress.getByName("192.0.2.9"));
        } finally {
            response.release();
        }
    }

    @Test
    void queriesGoOutFromSocketsBoundAheadEachUsedOnce() throws Exception {
        List<Integer> sourcePorts = new ArrayList<>();
        FakeUpstream upstream = answeringUpstream(sourcePorts);
        DnsService dns = withSpares(upstream, 2);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        dns.bindTo(registry);
        assertThat(dns.spareSockets()).as("nothing is bound before the first forwarded query").isZero();

        assertAnswered(dns, 1);   // the first binds its own socket and starts the spares
        waitFor("two spare sockets", () -> dns.spareSockets() == 2);
        assertThat(registry.get("netstack.dns.spare.sockets").gauge().value()).isEqualTo(2.0);
        List<Integer> spares = dns.spareLoopbackPorts();

        assertAnswered(dns, 2);
        synchronized (sourcePorts) {
            assertThat(spares).as("the second query left from a spare bound before it was asked")
                    .contains(sourcePorts.get(1));
        }
        for (int id = 3; id <= 40; id++) {
            assertAnswered(dns, id);
        }
        assertFreshSourcePorts(sourcePorts, 40);
        waitFor("the spares replaced", () -> dns.spareSockets() == 2);
    }

    @Test
    void aDatagramAtASpareIsDroppedAndTheSpareStillServes() throws Exception {
        List<Integer> sourcePorts = new ArrayList<>();
        FakeUpstream upstream = answeringUpstream(sourcePorts);
        DnsService dns = withSpares(upstream, 1);
        assertAnswered(dns, 1);
        waitFor("a spare socket", () -> dns.spareSockets() == 1);
        int spare = dns.spareLoopbackPorts().get(0);

        // an answer sent before any query, from the server's own address and port: a guess at the port
        DatagramDnsQuery guessed = new DatagramDnsQuery(new InetSocketAddress(LOOPBACK, spare), upstream.address(), 1);
        guessed.addRecord(DnsSection.QUESTION, new DefaultDnsQuestion("spare.example.test", DnsRecordType.A));
        upstream.channel.writeAndFlush(answer(guessed, upstream.channel, 1, "spare.example.test", "203.0.113.66"))
                .sync();
        waitFor("the unsolicited datagram counted", () -> dns.drops(DropReason.UNSOLICITED) == 1);

        assertAnswered(dns, 2);   // the real answer, not the early one
        synchronized (sourcePorts) {
            assertThat(sourcePorts.get(1)).isEqualTo(spare);
        }
    }

    @Test
    void withNoSparesEachQueryBindsItsOwnSocket() throws Exception {
        List<Integer> sourcePorts = new ArrayList<>();
        FakeUpstream upstream = answeringUpstream(sourcePorts);
        DnsService dns = withSpares(upstream, 0);
        for (int id = 1; id <= 10; id++) {
            assertAnswered(dns, id);
            assertThat(dns.spareSockets()).isZero();
        }
        assertFreshSourcePorts(sourcePorts, 10);
    }

    /**
     * {@code queries} queries left from as many sockets. Each socket carries one query and closes;
     * the kernel picks a new socket's port at random and may pick one a closed socket had (a run of
     * 40 queries sees such a repeat about one time in thirty), so a socket used twice shows as
     * repeats beyond a chance one or two.
     */
    private static void assertFreshSourcePorts(List<Integer> sourcePorts, int queries) {
        synchronized (sourcePorts) {
            assertThat(sourcePorts).hasSize(queries);
            assertThat(new java.util.HashSet<>(sourcePorts)).as("a fresh source port for each query, but by chance")
                    .hasSizeGreaterThanOrEqualTo(queries - 2);
        }
    }

    @Test
    void closingReleasesTheSparesPorts() throws Exception {
        FakeUpstream upstream = answeringUpstream(new ArrayList<>());
        DnsService dns = DnsService.builder().eventLoopGroup(group).upstream(upstream.address()).spareSockets(3).build();
        List<Integer> ports;
        try {
            assertAnswered(dns, 1);
            waitFor("three spare sockets", () -> dns.spareSockets() == 3);
            ports = dns.spareLoopbackPorts();
        } finally {
            dns.close();
        }
        assertThat(dns.spareSockets()).isZero();
        for (int port : ports) {
            waitFor("port " + port + " released", () -> canBind(port));
        }
    }

    private static boolean canBind(int port) {
        try (java.net.DatagramSocket socket = new java.net.DatagramSocket(new InetSocketAddress(LOOPBACK, port))) {
            return true;
        } catch (java.net.SocketException inUse) {
            return false;
        }
    }

    @Test
    void spareSocketsOutOfRangeAreRefused() {
        assertThatThrownBy(() -> DnsService.builder().spareSockets(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was -1");
        assertThatThrownBy(() -> DnsService.builder().spareSockets(DnsService.MAX_SPARE_SOCKETS + 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("from 0 to 256");
    }

    // --- a real DNS server -----------------------------------------------------------------------

    private static String findDnsmasq() {
        for (String dir : new String[] {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin"}) {
            File candidate = new File(dir, "dnsmasq");
            if (candidate.canExecute()) {
                return candidate.getPath();
            }
        }
        return null;
    }

    private static int freeUdpAndTcpPort() throws Exception {
        for (int attempt = 0; attempt < 20; attempt++) {
            try (ServerSocket tcp = new ServerSocket(0, 1, LOOPBACK);
                 java.net.DatagramSocket udp = new java.net.DatagramSocket(new InetSocketAddress(LOOPBACK, tcp.getLocalPort()))) {
                return tcp.getLocalPort();
            } catch (java.net.BindException e) {
                // the UDP twin was taken; try another
            }
        }
        throw new IllegalStateException("no free loopback port for dnsmasq");
    }

    @Test
    void forwardsToARealDnsmasq(@TempDir Path dir) throws Exception {
        String dnsmasq = findDnsmasq();
        Assumptions.assumeTrue(dnsmasq != null,
                "dnsmasq is not installed (apt-get install dnsmasq); skipping the real-server forwarding test");
        int port = freeUdpAndTcpPort();
        Process process = new ProcessBuilder(dnsmasq, "--no-daemon", "--port=" + port, "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--user=root",
                "--pid-file=" + dir.resolve("dnsmasq.pid"),
                "--address=/example.test/10.1.2.3", "--host-record=box.example.test,10.1.2.4")
                .redirectErrorStream(true).redirectOutput(dir.resolve("dnsmasq.log").toFile()).start();
        closeAfter.add(() -> {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        });
        // the default 2 s per attempt: the second query below is not retried, and a loaded machine can
        // take longer than half a second to get it through dnsmasq and back
        DnsService dns = track(DnsService.builder().eventLoopGroup(group).upstream(new InetSocketAddress(LOOPBACK, port))
                .timeout(Duration.ofSeconds(2)).build());

        // dnsmasq needs a moment to bind: retry until it answers (each attempt times out alone).
        DnsResponse response = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            assertThat(process.isAlive()).as("dnsmasq running; log: %s", dir.resolve("dnsmasq.log")).isTrue();
            DnsResponse attempt = parse(await(dns.respond(query(0x7777, "www.example.test", DnsRecordType.A))));
            if (attempt.code().equals(DnsResponseCode.NOERROR)) {
                response = attempt;
                break;
            }
            attempt.release();
        }
        assertThat(response).as("an answer from dnsmasq within 10 s").isNotNull();
        DnsResponse box = parse(await(dns.respond(query(0x7778, "box.example.test", DnsRecordType.A))));
        try {
            assertThat(response.id()).isEqualTo(0x7777);
            assertThat(addresses(response)).containsExactly(InetAddress.getByName("10.1.2.3"));
            assertThat(addresses(box)).containsExactly(InetAddress.getByName("10.1.2.4"));
        } finally {
            response.release();
            box.release();
        }
        assertThat(dns.answeredByForwarding()).isGreaterThanOrEqualTo(2);
    }
}
