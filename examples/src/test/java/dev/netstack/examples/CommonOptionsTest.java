package dev.netstack.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** --metrics, --metrics-port and -v, which every subcommand has. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CommonOptionsTest {
    @Test
    void verbosePrintsOneTcpdumpLinePerFrame() {
        CommandRunner.Result result = CommandRunner.run("ping", "-v", "-c", "1", "10.0.2.2");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out())
                .containsPattern("\\d\\d:\\d\\d:\\d\\d\\.\\d{6} 52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff, ARP, Request who-has 10.0.2.2 tell 10.0.2.15, length 28\n")
                .containsPattern("52:55:0a:00:02:02 > 52:54:00:12:34:56, ARP, Reply 10.0.2.2 is-at 52:55:0a:00:02:02, length 28\n")
                .containsPattern("IP 10.0.2.15 > 10.0.2.2: ICMP echo request, id \\d+, seq \\d+, length 64\n")
                .containsPattern("IP 10.0.2.2 > 10.0.2.15: ICMP echo reply, id \\d+, seq \\d+, length 64\n");
    }

    @Test
    void verboseNettestsShowsTheUdpExchange() {
        CommandRunner.Result result = CommandRunner.run("nettests", "-v", "--server-port", "0");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).containsPattern("IP 10.0.2.15.2000 > 10.0.2.2.\\d+: UDP, length 19\n")
                .containsPattern("IP 10.0.2.2.\\d+ > 10.0.2.15.2000: UDP, length 17\n")
                .containsPattern("IP 10.0.2.15.\\d+ > 10.0.2.3.53: UDP, length \\d+\n");
    }

    @Test
    void metricsPrintsATableAtExit() {
        CommandRunner.Result result = CommandRunner.run("ping", "--metrics", "-c", "1", "10.0.2.2");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).contains("--- metrics ---\n").containsPattern("METER +TAGS +VALUE +UNIT\n")
                .containsPattern("netstack.nic.tx.packets +device=e1000-0 +\\d+")
                .containsPattern("netstack.packets +device=e1000-0,direction=in,layer=icmp +1 +packets")
                .containsPattern("netstack.gateway.icmp.echo.replies +gateway=slirp +1")
                .containsPattern("\\(\\d+ meters, \\d+ at zero not shown\\)\n");
    }

    @Test
    void metricsPortServesPrometheusText() throws Exception {
        CommandRunner.Background ping = new CommandRunner.Background("ping", "--metrics-port", "0", "-i", "0.2", "10.0.2.2");
        try {
            String err = ping.awaitErr("metrics: http://127.0.0.1:", 10_000);
            ping.awaitOut("icmp_seq=2 ", 10_000);
            Matcher port = Pattern.compile("127\\.0\\.0\\.1:(\\d+)/").matcher(err);
            assertThat(port.find()).isTrue();
            HttpResponse<String> response = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port.group(1) + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
            assertThat(response.body()).contains("# TYPE netstack_nic_tx_packets")
                    .containsPattern("netstack_packets_total\\{device=\"e1000-0\",direction=\"out\",layer=\"icmp\"\\} [1-9]")
                    .contains("netstack_gateway_");
        } finally {
            assertThat(ping.stop()).isZero();   // Ctrl-C after replies: the summary, status 0
        }
        assertThat(ping.out.toString()).contains("--- 10.0.2.2 ping statistics ---");
    }
}
