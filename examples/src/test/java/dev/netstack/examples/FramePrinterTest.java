package dev.netstack.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.testing.Fixtures;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.time.LocalTime;
import org.junit.jupiter.api.Test;

/** The -v lines for the xv6 lab's golden frames. */
class FramePrinterTest {
    private String print(String fixture) {
        StringWriter text = new StringWriter();
        FramePrinter printer = new FramePrinter(new PrintWriter(text), () -> LocalTime.of(12, 0, 0, 1000));
        ByteBuffer frame = ByteBuffer.wrap(Fixtures.frame(fixture));
        printer.observe(frame, true);
        assertThat(frame.position()).isZero();
        return text.toString();
    }

    @Test
    void arpRequestAndReply() {
        assertThat(print(Fixtures.ARP_REQUEST_FROM_GATEWAY))
                .isEqualTo("12:00:00.000001 52:55:0a:00:02:02 > ff:ff:ff:ff:ff:ff, ARP, Request who-has 10.0.2.15 tell 10.0.2.2, length 28\n");
        assertThat(print(Fixtures.ARP_REPLY_FROM_GUEST))
                .isEqualTo("12:00:00.000001 52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff, ARP, Reply 10.0.2.15 is-at 52:54:00:12:34:56, length 28\n");
    }

    @Test
    void udpBothWays() {
        assertThat(print(Fixtures.UDP_GUEST_TO_HOST)).isEqualTo("12:00:00.000001 IP 10.0.2.15.2000 > 10.0.2.2.25603: UDP, length 19\n");
        assertThat(print(Fixtures.UDP_HOST_TO_GUEST)).isEqualTo("12:00:00.000001 IP 10.0.2.2.25603 > 10.0.2.15.2000: UDP, length 17\n");
    }

    @Test
    void truncatedFramesAreSaidToBe() {
        StringWriter text = new StringWriter();
        new FramePrinter(new PrintWriter(text), () -> LocalTime.NOON).observe(ByteBuffer.allocate(6), false);
        assertThat(text.toString()).isEqualTo("12:00:00.000000 truncated Ethernet frame, length 6\n");
    }
}
