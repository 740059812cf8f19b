package dev.netstack.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class LanCommandTest {
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void everyGuestReachesEveryOtherAndTheGateway() {
        CommandRunner.Result result = CommandRunner.run("lan", "--hosts", "4");

        assertThat(result.exitCode()).as(result.out()).isZero();
        assertThat(result.out()).startsWith("lan: 4 guests and the gateway 10.0.2.2 on one switch\n")
                .containsPattern("RTT ms +10\\.0\\.2\\.15 +10\\.0\\.2\\.16 +10\\.0\\.2\\.17 +10\\.0\\.2\\.18 +10\\.0\\.2\\.2\n")
                .containsPattern("10\\.0\\.2\\.15 +- +\\d+\\.\\d{3} +\\d+\\.\\d{3} +\\d+\\.\\d{3} +\\d+\\.\\d{3}\n")
                .containsPattern("10\\.0\\.2\\.18 +\\d+\\.\\d{3} +\\d+\\.\\d{3} +\\d+\\.\\d{3} +- +\\d+\\.\\d{3}\n")
                .contains("all 16 pairs reachable\n")
                .doesNotContain("FAIL");
    }
}
