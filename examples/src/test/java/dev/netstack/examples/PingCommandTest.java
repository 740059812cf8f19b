package dev.netstack.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class PingCommandTest {
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void pingsTheGatewayAsIputilsPrints() {
        CommandRunner.Result result = CommandRunner.run("ping", "-c", "3", "-i", "0.1", "10.0.2.2");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).startsWith("PING 10.0.2.2 (10.0.2.2) 56(84) bytes of data.\n");
        assertThat(result.out()).containsPattern("64 bytes from 10.0.2.2: icmp_seq=1 ttl=\\d+ time=\\d+\\.\\d{3} ms\n")
                .containsPattern("icmp_seq=2 ttl=\\d+ time=")
                .containsPattern("icmp_seq=3 ttl=\\d+ time=")
                .contains("--- 10.0.2.2 ping statistics ---\n")
                .containsPattern("3 packets transmitted, 3 received, 0% packet loss, time \\d+ms\n")
                .containsPattern("rtt min/avg/max/mdev = \\d+\\.\\d{3}/\\d+\\.\\d{3}/\\d+\\.\\d{3}/\\d+\\.\\d{3} ms\n");
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void theDnsServerAnswersWithLargerPayloads() {
        CommandRunner.Result result = CommandRunner.run("ping", "-c", "2", "-i", "0.1", "-s", "1000", "10.0.2.3");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).startsWith("PING 10.0.2.3 (10.0.2.3) 1000(1028) bytes of data.\n")
                .contains("1008 bytes from 10.0.2.3: icmp_seq=1")
                .contains("2 packets transmitted, 2 received, 0% packet loss");
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void anAbsentHostLosesEverythingAndExitsOne() {
        CommandRunner.Result result = CommandRunner.run("ping", "-c", "2", "-W", "1", "-i", "0.2", "10.0.2.99");

        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.out()).startsWith("PING 10.0.2.99 (10.0.2.99) 56(84) bytes of data.\n")
                .doesNotContain("bytes from")
                .containsPattern("2 packets transmitted, 0 received, (\\+2 errors, )?100% packet loss, time \\d+ms\n")
                .doesNotContain("rtt min");
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aNameIsLookedUpThroughTheGatewaysDns() {
        CommandRunner.Result result = CommandRunner.run("ping", "-c", "1", "--add-host", "router.lan=10.0.2.2", "router.lan");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).startsWith("PING router.lan (10.0.2.2) 56(84) bytes of data.\n")
                .contains("--- router.lan ping statistics ---");
    }

    @Test
    void lossIsPrintedAsPercentG() {
        assertThat(PingCommand.loss(3, 3)).isEqualTo("0");
        assertThat(PingCommand.loss(2, 0)).isEqualTo("100");
        assertThat(PingCommand.loss(3, 2)).isEqualTo("33.3333");
        assertThat(PingCommand.loss(4, 2)).isEqualTo("50");
    }
}
