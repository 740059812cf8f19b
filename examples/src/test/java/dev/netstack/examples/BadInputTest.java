package dev.netstack.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/** Bad input: one line saying what is wrong, the usage, exit status 2, and never a stack trace. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BadInputTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "ping --bogus 10.0.2.2                     | Unknown option: '--bogus'",
        "ping 10.0.2.300                           | 10.0.2.300: Name or service not known",
        "ping -c 0 10.0.2.2                        | Invalid value for option '-c'",
        "ping -s 70000 10.0.2.2                    | Invalid value for option '-s'",
        "ping -c x 10.0.2.2                        | Invalid value for option '-c'",
        "ping                                      | Missing required parameter: 'HOST'",
        "server --port 70000                       | 70000 is not a port",
        "server --port -1                          | -1 is not a port",
        "nettests --server-port 99999              | 99999 is not a port",
        "dig localhost @10.0.2                     | '10.0.2' is not an IPv4 address",
        "dig localhost BOGUS                       | not a record type",
        "dig a..b                                  | not a valid name",
        "lan --hosts 0                             | Invalid value for option '--hosts'",
        "guest --tunnel bogus                      | is not raw:LOCALHOST:PORT@REMOTEHOST:PORT",
        "guest --tunnel raw:127.0.0.1:0@127.0.0.1:99999 | 99999 is not a port",
        "guest --tunnel raw:127.0.0.1:0@127.0.0.1:9 --ip 10.0.2.16/33 | Invalid value for option '--ip'",
        "guest                                     | Missing required option: '--tunnel=SPEC'",
        "ping --metrics-port 70000 10.0.2.2        | 70000 is not a port (0-65535)",
        "ping --add-host nonsense 10.0.2.2         | 'nonsense' is not NAME=ADDRESS",
        "frobnicate                                | Unmatched argument at index 0: 'frobnicate'",
    })
    void isAUsageError(String commandLine, String message) {
        CommandRunner.Result result = CommandRunner.run(commandLine.trim().split("\\s+"));

        assertThat(result.exitCode()).as(result.out() + result.err()).isEqualTo(2);
        assertThat(result.err()).contains(message).contains("Usage: netstack").contains("--help' for more information.");
        assertThat(result.err().lines().findFirst().orElseThrow()).contains(message);
        assertThat(result.err() + result.out()).doesNotContain("Exception").doesNotContain("\tat ");
    }

    @Test
    void noSubcommandIsAUsageError() {
        CommandRunner.Result result = CommandRunner.run();
        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).startsWith("netstack: Missing subcommand\n").contains("Usage: netstack");
    }

    @Test
    void aPlainCommandLineAlsoGivesStatusTwo() {
        StringWriter err = new StringWriter();
        CommandLine commandLine = new CommandLine(new NetstackCommand());
        commandLine.setErr(new PrintWriter(err, true));
        commandLine.setOut(new PrintWriter(new StringWriter(), true));
        assertThat(commandLine.execute("ping", "--bogus", "10.0.2.2")).isEqualTo(2);
        assertThat(err.toString()).contains("Unknown option: '--bogus'").contains("Usage: netstack ping").doesNotContain("\tat ");
    }

    @Test
    void helpListsEverySubcommand() {
        CommandRunner.Result result = CommandRunner.run("--help");
        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).contains("nettests", "server", "ping", "dig", "lan", "guest");
    }
}
