package dev.netstack.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class DigCommandTest {
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void findsAStaticRecordInDigsLayout() {
        CommandRunner.Result result = CommandRunner.run("dig", "files.lan", "--add-host", "files.lan=10.0.2.50");

        assertThat(result.exitCode()).isZero();
        assertThat(result.err()).isEmpty();
        assertThat(result.out()).containsSubsequence(
                "; <<>> netstack dig <<>> files.lan\n",
                ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: ",
                ";; flags: qr aa rd ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0\n",
                ";; QUESTION SECTION:\n",
                ";files.lan.\t\t\tIN\tA\n",
                ";; ANSWER SECTION:\n",
                "files.lan.\t\t",
                "\tIN\tA\t10.0.2.50\n",
                ";; Query time: ",
                ";; SERVER: 10.0.2.3#53(10.0.2.3)");
        assertThat(result.out()).containsPattern(";; MSG SIZE  rcvd: \\d+\n");
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void findsLocalhostThroughTheHostResolver() {
        CommandRunner.Result result = CommandRunner.run("dig", "localhost", "A", "@10.0.2.3");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).contains("; <<>> netstack dig <<>> localhost A @10.0.2.3\n", "status: NOERROR")
                .containsPattern("localhost\\.\\t\\t\\d+\\tIN\\tA\\t127\\.0\\.0\\.1\n");
    }
}
