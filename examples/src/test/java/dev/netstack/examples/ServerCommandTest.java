package dev.netstack.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class ServerCommandTest {
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void answersEveryDatagramAndPrintsIt() throws Exception {
        CommandRunner.Background server = new CommandRunner.Background("server", "--port", "0", "--count", "2");
        String banner = server.awaitOut("server listening on", 10_000);
        Matcher port = Pattern.compile("127\\.0\\.0\\.1:(\\d+)").matcher(banner);
        assertThat(port.find()).isTrue();
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", Integer.parseInt(port.group(1)));

        try (DatagramChannel client = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            for (String message : new String[] {"a message from xv6!", "another"}) {
                client.send(ByteBuffer.wrap(message.getBytes(StandardCharsets.US_ASCII)), address);
                ByteBuffer reply = ByteBuffer.allocate(100);
                client.receive(reply);
                assertThat(new String(reply.array(), 0, reply.position(), StandardCharsets.US_ASCII)).isEqualTo("this is the host!");
            }
        }
        assertThat(server.join()).isZero();
        assertThat(server.out.toString()).contains("a message from xv6!\n", "another\n");
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void stopsCleanlyWhenInterrupted() throws Exception {
        CommandRunner.Background server = new CommandRunner.Background("server", "--port", "0");
        server.awaitOut("server listening on", 10_000);
        assertThat(server.stop()).isZero();
        assertThat(server.err.toString()).isEmpty();
    }
}
