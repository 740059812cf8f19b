package dev.netstack.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.netstack.wire.Ipv4Address;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class PortForwardTest {
    @Test
    void parsesQemuHostfwdSyntax() {
        PortForward f = PortForward.parse("udp::5555-:2000");
        assertThat(f.hostAddress()).isEqualTo(Ipv4Address.LOOPBACK);
        assertThat(f.hostPort()).isEqualTo(5555);
        assertThat(f.guestAddress()).isNull();
        assertThat(f.guestPort()).isEqualTo(2000);

        PortForward full = PortForward.parse("udp:127.0.0.2:6000-10.0.2.16:7");
        assertThat(full.hostAddress()).isEqualTo(Ipv4Address.parse("127.0.0.2"));
        assertThat(full.guestAddress()).isEqualTo(Ipv4Address.parse("10.0.2.16"));
        assertThat(full.guestPort()).isEqualTo(7);
        assertThat(PortForward.parse(full.toString())).isEqualTo(full);

        assertThat(PortForward.parse("5555-2000")).isEqualTo(PortForward.udp(5555, 2000));
        assertThat(PortForward.parse("UDP::0-:2000").hostPort()).isZero();
    }

    @Test
    void refusesWhatItCannotDo() {
        assertThatThrownBy(() -> PortForward.parse("tcp::5555-:22")).hasMessageContaining("only UDP");
        assertThatThrownBy(() -> PortForward.parse("udp::5555")).hasMessageContaining("HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT");
        assertThatThrownBy(() -> PortForward.parse("udp::70000-:1")).hasMessageContaining("70000");
        assertThatThrownBy(() -> PortForward.parse("udp::1-:0")).hasMessageContaining("guest port 0");
        assertThatThrownBy(() -> PortForward.parse("udp:localhost:1-:2")).hasMessageContaining("not an IPv4 address");
        assertThatThrownBy(() -> PortForward.parse("sctp::1-:2")).hasMessageContaining("unknown protocol");
        assertThatThrownBy(() -> PortForward.parse("udp::x-:2")).hasMessageContaining("not a port number");
    }
}
