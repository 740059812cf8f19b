package dev.netstack.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Ipv4AddressTest {
    @Test
    void parsesAndFormatsDottedQuads() {
        Ipv4Address guest = Ipv4Address.parse("10.0.2.15");
        assertThat(guest.bits()).isEqualTo(0x0a00_020f);
        assertThat(guest).hasToString("10.0.2.15");
        assertThat(guest.octets()).containsExactly(10, 0, 2, 15);
        assertThat(Ipv4Address.of(10, 0, 2, 15)).isEqualTo(guest).hasSameHashCodeAs(guest);
        assertThat(Ipv4Address.parse(" 255.255.255.255 ")).isEqualTo(Ipv4Address.BROADCAST);
        assertThat(Ipv4Address.parse("0.0.0.0")).isEqualTo(Ipv4Address.ANY);
        assertThat(Ipv4Address.toString(0xc0a8_0001)).isEqualTo("192.168.0.1");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "10.0.2", "10.0.2.15.1", "10.0.2.", ".10.0.2", "10..2.15", "10.0.2.256",
        "10.0.2.1000", "10.0.2.-1", "10.0.2.+1", "10.0.2.x", "localhost", "10.0.2.15/24", "\u0661\u0660.0.2.15",
        "0x0a.0.2.15"})
    void rejectsMalformedTextNamingIt(String text) {
        assertThatIllegalArgumentException().isThrownBy(() -> Ipv4Address.parse(text)).withMessageContaining(text);
    }

    @Test
    void rejectsOctetsOutOfRange() {
        assertThatIllegalArgumentException().isThrownBy(() -> Ipv4Address.of(10, 0, 256, 1)).withMessageContaining("256");
        assertThatIllegalArgumentException().isThrownBy(() -> Ipv4Address.of(-1, 0, 0, 1)).withMessageContaining("-1");
    }

    @Test
    void predicates() {
        assertThat(Ipv4Address.ANY.isAny()).isTrue();
        assertThat(Ipv4Address.BROADCAST.isBroadcast()).isTrue();
        assertThat(Ipv4Address.LOOPBACK.isLoopback()).isTrue();
        assertThat(Ipv4Address.parse("127.255.0.3").isLoopback()).isTrue();
        assertThat(Ipv4Address.parse("128.0.0.1").isLoopback()).isFalse();
        assertThat(Ipv4Address.parse("224.0.0.1").isMulticast()).isTrue();
        assertThat(Ipv4Address.parse("239.255.255.250").isMulticast()).isTrue();
        assertThat(Ipv4Address.parse("223.255.255.255").isMulticast()).isFalse();
        assertThat(Ipv4Address.parse("240.0.0.1").isMulticast()).isFalse();
        assertThat(Ipv4Address.BROADCAST.isMulticast()).isFalse();
        assertThat(Ipv4Address.parse("10.0.2.15").isAny()).isFalse();
    }

    @Test
    void comparesUnsigned() {
        assertThat(Ipv4Address.parse("200.0.0.1")).isGreaterThan(Ipv4Address.parse("10.0.0.1"));
        assertThat(Ipv4Address.parse("10.0.2.2")).isLessThan(Ipv4Address.parse("10.0.2.15"));
    }

    @Test
    void convertsToAndFromInetAddress() throws Exception {
        Ipv4Address guest = Ipv4Address.parse("10.0.2.15");
        assertThat(guest.toInetAddress()).isEqualTo(InetAddress.getByName("10.0.2.15"));
        assertThat(Ipv4Address.of(InetAddress.getByName("192.168.200.1"))).hasToString("192.168.200.1");
        assertThatIllegalArgumentException().isThrownBy(() -> Ipv4Address.of(InetAddress.getByName("::1")));
    }

    @Test
    void formatParseRoundTrip() {
        qt().forAll(integers().all()).checkAssert(bits -> {
            Ipv4Address address = Ipv4Address.of(bits);
            assertThat(Ipv4Address.parse(address.toString())).isEqualTo(address);
            byte[] o = address.octets();
            assertThat(Ipv4Address.of(o[0] & 0xff, o[1] & 0xff, o[2] & 0xff, o[3] & 0xff)).isEqualTo(address);
            assertThat(Ipv4Address.of(address.toInetAddress())).isEqualTo(address);
        });
    }
}
