package dev.netstack.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.NetStack;
import dev.netstack.buffer.MbufPool;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.socket.SocketClosedException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.dns.DefaultDnsOptEcsRecord;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRawRecord;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRecordDecoder;
import io.netty.handler.codec.dns.DnsRecordEncoder;
import io.netty.handler.codec.dns.DnsRecordType;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The resolver against a fake DNS server: a second stack on a cable, answering on UDP port 53. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class DnsResolverTest {
    static final Ipv4Address SERVER = Ipv4Address.parse("10.0.2.3");
    static final Duration TIMEOUT = Duration.ofSeconds(2);

    MbufPool clientPool;
    MbufPool serverPool;
    NetStack client;
    NetStack server;
    FakeDnsServer fake;

    @BeforeEach
    void start() {
        clientPool = NetStack.newPool(256, 0);
        serverPool = NetStack.newPool(256, 0);
        VirtualDevice clientDevice = new VirtualDevice("client", MacAddress.parse("52:54:00:12:34:56"), clientPool);
        VirtualDevice serverDevice = new VirtualDevice("dns", MacAddress.parse("52:55:0a:00:02:03"), serverPool);
        VirtualCable.connect(clientDevice, serverDevice);
        client = NetStack.builder().device(clientDevice).address("10.0.2.15/24").dnsServer(SERVER).build();
        server = NetStack.builder().device(serverDevice).address("10.0.2.3/24").build();
    }

    @AfterEach
    void stop() {
        if (fake != null) {
            fake.close();
        }
        client.close();
        server.close();
        PoolChecks.assertWhole(clientPool);
        PoolChecks.assertWhole(serverPool);
    }

    DnsResolver resolver(boolean strict) {
        return DnsResolver.builder(client).strict(strict).build();
    }

    // --- the fake server ---------------------------------------------------------------------------

    /** A parsed query as the fake server saw it. */
    record Query(int id, int flags, DnsQuestion question, int length) {
    }

    /** Answers each query with the datagrams {@code answer} makes of it, on its own thread. */
    final class FakeDnsServer implements AutoCloseable {
        final UdpSocket socket = server.openUdpSocket().bind(53);
        final List<Query> queries = new ArrayList<>();
        final Thread thread;

        FakeDnsServer(Function<Query, List<byte[]>> answer) {
            thread = new Thread(() -> {
                ByteBuffer in = ByteBuffer.allocate(2048);
                try {
                    while (true) {
                        in.clear();
                        long sender = socket.receiveFrom(in, Long.MAX_VALUE);
                        Query query = parse(in.flip());
                        synchronized (queries) {
                            queries.add(query);
                        }
                        for (byte[] reply : answer.apply(query)) {
                            socket.sendTo(ByteBuffer.wrap(reply), UdpSocket.senderAddressBits(sender), UdpSocket.senderPort(sender));
                        }
                    }
                } catch (InterruptedException | SocketClosedException e) {
                    // closed by the test
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }, "fake-dns");
            thread.start();
        }

        Query parse(ByteBuffer datagram) throws Exception {
            ByteBuf in = Unpooled.wrappedBuffer(datagram);
            int id = in.readUnsignedShort();
            int flags = in.readUnsignedShort();
            in.skipBytes(8);
            DnsQuestion question = DnsRecordDecoder.DEFAULT.decodeQuestion(in);
            return new Query(id, flags, question, datagram.remaining());
        }

        @Override
        public void close() {
            socket.close();
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Builds responses with Netty's encoder: header by hand, question and records by the codec. */
    static final class Response {
        final ByteBuf out = Unpooled.buffer();
        int answers;
        int additionals;

        Response(int id, int flags, DnsQuestion question) throws Exception {
            out.writeShort(id).writeShort(flags).writeShort(1).writeShort(0).writeShort(0).writeShort(0);
            DnsRecordEncoder.DEFAULT.encodeQuestion(question, out);
        }

        static Response to(Query query) throws Exception {
            return new Response(query.id(), DnsResponse.FLAG_QR | DnsResponse.FLAG_RD | DnsResponse.FLAG_RA, query.question());
        }

        /** An A record whose owner name is a compression pointer to the question's name at offset 12. */
        Response compressedA(long ttl, int a, int b, int c, int d) {
            out.writeShort(0xc000 | DnsMessages.HEADER_LENGTH);
            out.writeShort(DnsRecordType.A.intValue()).writeShort(1).writeInt((int) ttl).writeShort(4);
            out.writeByte(a).writeByte(b).writeByte(c).writeByte(d);
            answers++;
            return this;
        }

        /** An uncompressed record encoded by Netty. */
        Response answer(String name, DnsRecordType type, long ttl, int... rdata) throws Exception {
            byte[] bytes = new byte[rdata.length];
            for (int i = 0; i < rdata.length; i++) {
                bytes[i] = (byte) rdata[i];
            }
            DnsRecordEncoder.DEFAULT.encodeRecord(new DefaultDnsRawRecord(name, type, ttl, Unpooled.wrappedBuffer(bytes)), out);
            answers++;
            return this;
        }

        Response additional(io.netty.handler.codec.dns.DnsRecord record) throws Exception {
            DnsRecordEncoder.DEFAULT.encodeRecord(record, out);
            additionals++;
            return this;
        }

        Response rcode(int rcode) {
            out.setShort(2, (out.getUnsignedShort(2) & ~0xf) | rcode);
            return this;
        }

        Response id(int id) {
            out.setShort(0, id);
            return this;
        }

        Response trailing(int... bytes) {
            for (int b : bytes) {
                out.writeByte(b);
            }
            return this;
        }

        byte[] bytes() {
            out.setShort(6, answers);
            out.setShort(10, additionals);
            byte[] bytes = ByteBufUtil.getBytes(out);
            out.release();
            return bytes;
        }
    }

    static List<byte[]> one(Response response) {
        return List.of(response.bytes());
    }

    // --- tests -------------------------------------------------------------------------------------

    @Test
    void resolvesACompressedAnswer() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                return one(Response.to(q).compressedA(3600, 10, 1, 2, 3).compressedA(3600, 10, 1, 2, 4));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertThat(resolver(false).resolve("www.example.test", TIMEOUT))
                .containsExactly(Ipv4Address.parse("10.1.2.3"), Ipv4Address.parse("10.1.2.4"));

        Query query = fake.queries.get(0);
        assertThat(query.question().name()).isEqualTo("www.example.test.");
        assertThat(query.question().type()).isEqualTo(DnsRecordType.A);
        assertThat(query.flags()).isEqualTo(DnsResponse.FLAG_RD);
        assertThat(query.length()).isEqualTo(12 + 18 + 4);
    }

    @Test
    void queryReturnsEveryFieldAndPassesStrictChecks() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                return one(Response.to(q).compressedA(86400, 127, 0, 0, 1)
                        .additional(new DefaultDnsOptEcsRecord(1232, 0, new byte[4])));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        DnsResponse response = resolver(true).query("localhost", DnsRecordType.A, SERVER, TIMEOUT);

        assertThat(response.id()).isEqualTo(fake.queries.get(0).id());
        assertThat(response.isResponse()).isTrue();
        assertThat(response.flagNames()).isEqualTo("qr rd ra");
        assertThat(response.opcodeName()).isEqualTo("QUERY");
        assertThat(response.rcodeName()).isEqualTo("NOERROR");
        assertThat(response.questions()).containsExactly(new DnsQuestionEntry("localhost.", DnsRecordType.A, 1));
        assertThat(response.answers()).hasSize(1);
        DnsAnswer answer = response.answers().get(0);
        assertThat(answer.name()).isEqualTo("localhost.");
        assertThat(answer.ttl()).isEqualTo(86400);
        assertThat(answer.type()).isEqualTo(DnsRecordType.A);
        assertThat(answer.className()).isEqualTo("IN");
        assertThat(answer.data()).isEqualTo("127.0.0.1");
        assertThat(answer.address()).isEqualTo(Ipv4Address.LOOPBACK);
        assertThat(response.additionals()).extracting(DnsAnswer::type).containsExactly(DnsRecordType.OPT);
        // header 12 + question 15 + answer 16 + OPT with an empty ECS option 19
        assertThat(response.messageLength()).isEqualTo(12 + 15 + 16 + 19);
        assertThat(response.server()).isEqualTo(SERVER);
        assertThat(response.queryTime()).isPositive();
    }

    @Test
    void otherRecordTypesAreFormattedAsDigDoes() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                return one(Response.to(q)
                        .answer("alias.test.", DnsRecordType.CNAME, 60, 3, 'w', 'w', 'w', 4, 't', 'e', 's', 't', 0)
                        .answer("alias.test.", DnsRecordType.TXT, 60, 2, 'h', 'i')
                        .answer("alias.test.", DnsRecordType.MX, 60, 0, 10, 0));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        DnsResponse response = resolver(true).query("alias.test", DnsRecordType.ANY, SERVER, TIMEOUT);
        assertThat(response.answers()).extracting(DnsAnswer::data)
                .containsExactly("www.test.", "\"hi\"", "\\# 3 000A00");
        assertThat(response.addresses()).isEmpty();
    }

    @Test
    void aResponseWithTheWrongIdIsIgnoredByDefault() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                return List.of(Response.to(q).compressedA(1, 10, 9, 9, 9).id(q.id() ^ 0x5555).bytes(),
                        Response.to(q).compressedA(1, 10, 1, 1, 1).bytes());
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        DnsResolver resolver = resolver(false);
        assertThat(resolver.resolve("spoof.test", TIMEOUT)).containsExactly(Ipv4Address.parse("10.1.1.1"));
        assertThat(resolver.ignoredDatagrams()).isEqualTo(1);
    }

    @Test
    void aResponseWithTheWrongIdIsRejectedInStrictMode() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                return one(Response.to(q).compressedA(1, 10, 9, 9, 9).id(q.id() ^ 0x5555));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertThatThrownBy(() -> resolver(true).query("spoof.test", DnsRecordType.A, SERVER, TIMEOUT))
                .isInstanceOf(DnsProtocolException.class)
                .hasMessageStartingWith("DNS wrong id: expected id ")
                .satisfies(e -> assertThat(((DnsProtocolException) e).actual())
                        .isEqualTo("id " + (fake.queries.get(0).id() ^ 0x5555)));
    }

    @Test
    void nxdomainIsReported() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                return one(Response.to(q).rcode(DnsResponse.RCODE_NXDOMAIN));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        DnsResponse response = resolver(false).query("nowhere.test", DnsRecordType.A, SERVER, TIMEOUT);
        assertThat(response.rcode()).isEqualTo(3);
        assertThat(response.rcodeName()).isEqualTo("NXDOMAIN");
        assertThat(response.answers()).isEmpty();

        assertThatThrownBy(() -> resolver(false).resolve("nowhere.test", TIMEOUT))
                .isInstanceOf(DnsServerErrorException.class)
                .hasMessage("nowhere.test.: no such name (NXDOMAIN from 10.0.2.3)")
                .satisfies(e -> assertThat(((DnsServerErrorException) e).rcode()).isEqualTo(3));
        assertThatThrownBy(() -> resolver(true).query("nowhere.test", DnsRecordType.A, SERVER, TIMEOUT))
                .isInstanceOf(DnsProtocolException.class)
                .hasMessage("DNS rcode error: expected rcode NOERROR (0), got rcode NXDOMAIN (3)");
    }

    @Test
    void strictModeRejectsTrailingBytes() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                return one(Response.to(q).compressedA(1, 10, 1, 1, 1).trailing(0xde, 0xad));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertThat(resolver(false).resolve("long.test", TIMEOUT)).containsExactly(Ipv4Address.parse("10.1.1.1"));
        assertThatThrownBy(() -> resolver(true).query("long.test", DnsRecordType.A, SERVER, TIMEOUT))
                .isInstanceOf(DnsProtocolException.class)
                .hasMessageContaining("processed 43 data bytes but received 45");
    }

    @Test
    void strictModeRejectsAdditionalRecordsOtherThanOpt() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                return one(Response.to(q).compressedA(1, 10, 1, 1, 1)
                        .additional(new DefaultDnsRawRecord("ns.test.", DnsRecordType.A, 1, Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4}))));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertThatThrownBy(() -> resolver(true).query("extra.test", DnsRecordType.A, SERVER, TIMEOUT))
                .isInstanceOf(DnsProtocolException.class)
                .hasMessage("invalid additional record: expected only an EDNS0 OPT record (type 41), got A record (type 1) for ns.test.");
    }

    @Test
    void strictModeRejectsCountsThatRunPastTheEnd() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                byte[] bytes = Response.to(q).compressedA(1, 10, 1, 1, 1).bytes();
                bytes[7] = 2;   // ANCOUNT says 2, one is there
                return List.of(bytes);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertThatThrownBy(() -> resolver(true).query("short.test", DnsRecordType.A, SERVER, TIMEOUT))
                .isInstanceOf(DnsProtocolException.class)
                .hasMessageStartingWith("truncated DNS response: expected 2 answer(s) as the header says");
    }

    @Test
    void strictModeRejectsACompressionLoop() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                Response response = Response.to(q);
                int at = response.out.writerIndex();
                response.out.writeShort(0xc000 | at);   // a pointer to itself
                response.out.writeShort(1).writeShort(1).writeInt(1).writeShort(4).writeInt(0x0a010101);
                response.answers++;
                return one(response);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertThatThrownBy(() -> resolver(true).query("loop.test", DnsRecordType.A, SERVER, TIMEOUT))
                .isInstanceOf(DnsProtocolException.class)
                .hasMessageStartingWith("corrupt DNS response");
    }

    @Test
    void silenceTimesOut() throws Exception {
        fake = new FakeDnsServer(q -> List.of());
        assertThatThrownBy(() -> resolver(false).resolve("quiet.test", Duration.ofMillis(300)))
                .isInstanceOf(DnsTimeoutException.class)
                .hasMessage("no response from 10.0.2.3#53 for quiet.test. A within 300 ms");
    }

    @Test
    void badNamesAreRefusedBeforeSending() {
        DnsResolver resolver = resolver(false);
        assertThatThrownBy(() -> resolver.resolve("a..b", TIMEOUT)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("empty label");
        assertThatThrownBy(() -> resolver.resolve("x".repeat(64) + ".test", TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("longer than 63");
        assertThatThrownBy(() -> resolver.resolve("", TIMEOUT)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void queriesInARowReuseTheirReceiveBuffer() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                return one(Response.to(q).compressedA(3600, 10, 1, 2, 3));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        DnsResolver resolver = resolver(true);
        for (int i = 0; i < 50; i++) {
            resolver.resolve("www.example.test", TIMEOUT);
        }
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        int queries = 200;
        for (int i = 0; i < queries; i++) {
            assertThat(resolver.resolve("www.example.test", TIMEOUT)).containsExactly(Ipv4Address.parse("10.1.2.3"));
        }
        long perQuery = (threads.getCurrentThreadAllocatedBytes() - before) / queries;
        // A fresh 64 KiB receive buffer per query is 65,536 bytes each on its own. What remains is the
        // socket, the messages and the decoded answer: 10 KB once compiled, 31 KB with the test run alone.
        assertThat(perQuery).as("bytes allocated per query").isLessThan(48 * 1024);
    }

    @Test
    void queriesUseRandomIds() throws Exception {
        fake = new FakeDnsServer(q -> {
            try {
                return one(Response.to(q).compressedA(1, 10, 1, 1, 1));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        DnsResolver resolver = resolver(true);
        for (int i = 0; i < 8; i++) {
            resolver.query("ids.test", DnsRecordType.A, SERVER, TIMEOUT);
        }
        assertThat(fake.queries.stream().map(Query::id).distinct().count()).isGreaterThan(4);
    }

    @Test
    void theQuestionIsEncodedAsNettyDecodesIt() {
        ByteBuffer query = DnsMessages.encodeQuery(0x1234, "pdos.csail.mit.edu.", DnsRecordType.A, true);
        byte[] expected = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
            4, 'p', 'd', 'o', 's', 5, 'c', 's', 'a', 'i', 'l', 3, 'm', 'i', 't', 3, 'e', 'd', 'u', 0, 0, 1, 0, 1};
        assertThat(query).isEqualTo(ByteBuffer.wrap(expected));
        assertThat(new DefaultDnsQuestion("x", DnsRecordType.A).name()).isEqualTo("x.");
    }
}
