package dev.netstack.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.testing.PoolChecks;
import java.io.IOException;
import java.net.DatagramSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class NettestsCommandTest {
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void nettestsPassesAndPrintsWhatXv6Prints(@TempDir Path dir) throws Exception {
        Path pcap = dir.resolve("nettests.pcap");
        CommandRunner.Result result = CommandRunner.run("nettests", "--server-port", "0", "--pcap", pcap.toString());

        assertThat(result.err()).isEmpty();
        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).matches("(?s)nettests running on port \\d+\n.*");
        assertThat(result.out()).containsSubsequence(
                "testing ping: OK\n",
                "testing single-process pings: OK\n",
                "testing multi-process pings: OK\n",
                "testing DNS\n",
                "DNS arecord for localhost. is 127.0.0.1\n",
                "DNS OK\n",
                "all tests passed.\n");
        assertThat(Files.size(pcap)).isGreaterThan(24);

        String dump = tcpdump(pcap);
        assertThat(dump).contains("ARP, Request who-has 10.0.2.2 tell 10.0.2.15", "ARP, Reply 10.0.2.2 is-at 52:55:0a:00:02:02", "UDP");
        // the payload starts at byte 42, so the hex dump's ASCII column breaks it across two lines
        assertThat(asciiColumns(dump)).contains("a.message.from.xv6", "this.is.the.host");
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void theDnsTestAsksForTheNameItIsGiven() {
        CommandRunner.Result result = CommandRunner.run("nettests", "--server-port", "0",
                "--dns-name", "pdos.csail.mit.edu", "--add-host", "pdos.csail.mit.edu=128.52.129.126");
        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).contains("DNS arecord for pdos.csail.mit.edu. is 128.52.129.126\n", "all tests passed.\n");
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aPingWithNoServerSaysWhatItExpectedAndWhatCame() throws Exception {
        int deadPort;
        try (DatagramSocket probe = new DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
            deadPort = probe.getLocalPort();   // free once closed: nothing answers there
        }
        GuestWorld world = GuestWorld.builder().build();
        try {
            assertThatThrownBy(() -> NettestsCommand.ping(world.guest().stack(), 2000, deadPort, 1))
                    .isInstanceOf(NettestsCommand.TestFailure.class)
                    .hasMessageStartingWith("ping from port 2000: expected \"this is the host!\"")
                    .hasMessageContaining(", got ");
        } finally {
            world.close();
            PoolChecks.assertWhole(world.guest().pool());
        }
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aTakenServerPortFallsBackToAFreeOne() throws Exception {
        try (DatagramSocket taken = new DatagramSocket(0, java.net.InetAddress.getByName("127.0.0.1"))) {
            // nettests prefers the given port but falls back to a free one, as the lab's Makefile picks one
            CommandRunner.Result result = CommandRunner.run("nettests", "--server-port", "" + taken.getLocalPort());
            assertThat(result.exitCode()).isZero();
            assertThat(result.out()).doesNotContain("running on port " + taken.getLocalPort() + "\n");
        }
    }

    /** The ASCII columns of each packet's hex dump lines joined, one packet per line. */
    static String asciiColumns(String dump) {
        StringBuilder joined = new StringBuilder();
        for (String line : dump.split("\n")) {
            if (line.startsWith("\t0x")) {
                String[] columns = line.trim().split("\\s+");
                joined.append(columns[columns.length - 1]);
            } else {
                joined.append('\n');
            }
        }
        return joined.toString();
    }

    /** {@code tcpdump -XXnr FILE}, or the test is skipped when tcpdump is not installed. */
    static String tcpdump(Path pcap) throws IOException, InterruptedException {
        Process process;
        try {
            process = new ProcessBuilder(List.of("tcpdump", "-XXnr", pcap.toString())).redirectErrorStream(true).start();
        } catch (IOException notInstalled) {
            Assumptions.abort("tcpdump is not installed (apt-get install tcpdump): cannot read the pcap back");
            throw notInstalled;
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("tcpdump exit status; output:\n%s", output).isZero();
        return output;
    }
}
