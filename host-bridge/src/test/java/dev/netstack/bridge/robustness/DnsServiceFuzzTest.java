package dev.netstack.bridge.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.netstack.bridge.dns.DnsService;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;

/**
 * The gateway's DNS service under arbitrary queries from the guest and arbitrary answers from its
 * upstream (a fake server on 127.0.0.1; the host resolver is off, so nothing leaves the machine).
 * Every query must be answered or dropped promptly, never with an exception; an answer carries the
 * query's id; the in-flight count returns to zero.
 */
class DnsServiceFuzzTest {
    private static final FakeUpstream UPSTREAM = new FakeUpstream();
    private static final DnsService SERVICE = DnsService.builder()
            .staticRecord("static.test", InetAddress.getLoopbackAddress())
            .upstream(UPSTREAM.address())
            .hostResolver(false)
            .timeout(Duration.ofMillis(100))
            .build();

    @AfterAll
    static void close() {
        SERVICE.close();
        UPSTREAM.close();
    }

    @FuzzTest(maxDuration = "60s")
    void queriesAndUpstreamAnswers(FuzzedDataProvider data) throws Exception {
        int upstreamKind = data.consumeInt(0, 5);
        byte[] tail = data.consumeBytes(data.consumeInt(0, 600));
        int otherId = data.consumeInt(0, 0xffff);
        UPSTREAM.fromOtherPort = upstreamKind == 4;
        UPSTREAM.answer = q -> upstreamAnswer(upstreamKind, q, tail, otherId);
        byte[] query = data.consumeBoolean() ? data.consumeBytes(data.consumeInt(0, 600)) : query(data);

        var future = SERVICE.respond(ByteBuffer.wrap(query));
        ByteBuffer response = future.get(5, TimeUnit.SECONDS);   // every upstream attempt times out at 100 ms
        if (query.length < 12) {
            assertThat(response).as("answer to a message shorter than a header").isNull();
        } else {
            assertThat(response).as("answer to a %d-byte query", query.length).isNotNull();
            assertThat(response.remaining()).isGreaterThanOrEqualTo(12);
            assertThat(response.getShort(response.position()) & 0xffff).as("response id").isEqualTo(((query[0] & 0xff) << 8) | (query[1] & 0xff));
            assertThat(response.get(response.position() + 2) & 0x80).as("QR bit of the response").isNotZero();
            assertThat(response.remaining()).as("response size").isLessThanOrEqualTo(DnsService.MAX_EDNS_PAYLOAD);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (SERVICE.inFlight() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(SERVICE.inFlight()).as("queries in flight after the answer").isZero();
    }

    /** The upstream's answer to the forwarded query {@code q}. */
    static byte[] upstreamAnswer(int kind, byte[] q, byte[] tail, int otherId) {
        switch (kind) {
            case 0:
                return null;                               // silence: the service times out
            case 1:
                return tail;                               // anything at all
            case 2: {                                      // wrong id, right question
                byte[] a = answerTo(q, tail);
                a[0] = (byte) (otherId >>> 8);
                a[1] = (byte) otherId;
                if (a[0] == q[0] && a[1] == q[1]) {
                    a[1] ^= 1;
                }
                return a;
            }
            case 3: {                                      // right id, question mangled by the tail's first bytes
                byte[] a = answerTo(q, tail);
                for (int i = 0; i < Math.min(4, tail.length) && 12 + i < a.length; i++) {
                    a[12 + i] ^= tail[i];
                }
                return a;
            }
            default:
                return answerTo(q, tail);                  // right id and question, fuzzed records (or other port)
        }
    }

    /** The query turned into a response (QR set, NOERROR) with {@code tail} as its answer section. */
    static byte[] answerTo(byte[] q, byte[] tail) {
        int questionEnd = 12;
        while (questionEnd < q.length && q[questionEnd] != 0) {
            questionEnd += (q[questionEnd] & 0xff) + 1;
        }
        questionEnd = Math.min(q.length, questionEnd + 5);
        ByteBuffer a = ByteBuffer.allocate(questionEnd + tail.length);
        a.put(q, 0, questionEnd).put(tail);
        byte[] out = a.array();
        if (out.length >= 12) {
            out[2] = (byte) (out[2] | 0x80);
            int answers = tail.length == 0 ? 0 : (tail[0] & 0x03);
            out[6] = 0;
            out[7] = (byte) answers;
            out[8] = 0;
            out[9] = 0;
            out[10] = 0;
            out[11] = 0;
        }
        return out;
    }

    /** A plausible query: a header, one question with fuzzed labels, type and class, maybe an OPT record. */
    static byte[] query(FuzzedDataProvider data) {
        ByteBuffer b = ByteBuffer.allocate(600);
        b.putShort((short) data.consumeInt(0, 0xffff));
        b.putShort((short) (data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 0xffff) : 0x0100));
        b.putShort((short) (data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 3) : 1));
        b.putShort((short) 0).putShort((short) 0);
        boolean opt = data.consumeBoolean();
        b.putShort((short) (opt ? 1 : 0));
        if (data.consumeInt(0, 3) == 0) {
            for (String label : new String[] {"static", "test"}) {
                b.put((byte) label.length()).put(label.getBytes(StandardCharsets.US_ASCII));
            }
        } else {
            int labels = data.consumeInt(0, 5);
            for (int i = 0; i < labels && b.remaining() > 80; i++) {
                byte[] label = data.consumeBytes(data.consumeInt(0, 63));
                b.put((byte) label.length).put(label);
            }
        }
        b.put((byte) 0);
        b.putShort((short) (data.consumeBoolean() ? 1 : data.consumeInt(0, 0xffff)));
        b.putShort((short) (data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 0xffff) : 1));
        if (opt) {
            b.put((byte) 0).putShort((short) 41).putShort((short) data.consumeInt(0, 0xffff)).putInt(0).putShort((short) 0);
        }
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }
}
