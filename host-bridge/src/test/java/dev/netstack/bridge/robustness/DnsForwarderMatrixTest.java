package dev.netstack.bridge.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.bridge.dns.DnsService;
import dev.netstack.bridge.dns.DnsService.DropReason;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The DNS rows of the bad-input matrix: answers from the upstream that must not be believed (wrong
 * id, question or source), each counted under its reason, and the guest's query then failed with
 * SERVFAIL after the timeout instead of answered with the forged data.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class DnsForwarderMatrixTest {
    private static final int RCODE_NOERROR = 0, RCODE_SERVFAIL = 2;

    static Stream<Arguments> rows() {
        return Stream.of(
                row("a right answer is relayed", q -> DnsServiceFuzzTest.answerTo(q, new byte[0]), false, null, RCODE_NOERROR),
                row("wrong id", q -> {
                    byte[] a = DnsServiceFuzzTest.answerTo(q, new byte[0]);
                    a[1] ^= 0x5a;
                    return a;
                }, false, DropReason.WRONG_ID, RCODE_SERVFAIL),
                row("wrong question", q -> {
                    byte[] a = DnsServiceFuzzTest.answerTo(q, new byte[0]);
                    a[13] ^= 0x20;   // first letter of the name in the other case would still match: flip to another letter
                    a[13] = (byte) (a[13] == 'x' ? 'y' : 'x');
                    return a;
                }, false, DropReason.WRONG_QUESTION, RCODE_SERVFAIL),
                row("wrong source port", q -> DnsServiceFuzzTest.answerTo(q, new byte[0]), true, DropReason.WRONG_SOURCE, RCODE_SERVFAIL),
                row("garbage", q -> new byte[] {1, 2, 3}, false, DropReason.MALFORMED_ANSWER, RCODE_SERVFAIL),
                row("no answer at all", q -> null, false, DropReason.UPSTREAM_TIMEOUT, RCODE_SERVFAIL));
    }

    static Arguments row(String name, Function<byte[], byte[]> upstream, boolean otherPort, DropReason reason, int rcode) {
        return Arguments.of(name, upstream, otherPort, reason, rcode);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void upstreamAnswer(String name, Function<byte[], byte[]> upstream, boolean otherPort, DropReason reason, int rcode)
            throws Exception {
        try (FakeUpstream server = new FakeUpstream();
             DnsService service = DnsService.builder().upstream(server.address()).hostResolver(false)
                     .timeout(Duration.ofMillis(300)).build()) {
            server.answer = upstream;
            server.fromOtherPort = otherPort;
            ByteBuffer response = service.respond(ByteBuffer.wrap(query(0x4242, "abc.example"))).get(10, TimeUnit.SECONDS);
            assertThat(response.getShort(0) & 0xffff).as("id").isEqualTo(0x4242);
            assertThat(response.get(3) & 0x0f).as("rcode").isEqualTo(rcode);
            if (reason != null) {
                assertThat(service.drops(reason)).as("drops of %s", reason).isPositive();
            }
            for (DropReason other : DropReason.values()) {
                if (other != reason && other != DropReason.UPSTREAM_TIMEOUT) {
                    assertThat(service.drops(other)).as("drops of %s", other).isZero();
                }
            }
            assertThat(service.inFlight()).isZero();
        }
    }

    static byte[] query(int id, String name) {
        ByteBuffer b = ByteBuffer.allocate(512);
        b.putShort((short) id).putShort((short) 0x0100).putShort((short) 1).putShort((short) 0).putShort((short) 0).putShort((short) 0);
        for (String label : name.split("\\.")) {
            b.put((byte) label.length()).put(label.getBytes(StandardCharsets.US_ASCII));
        }
        b.put((byte) 0).putShort((short) 1).putShort((short) 1);
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }
}
