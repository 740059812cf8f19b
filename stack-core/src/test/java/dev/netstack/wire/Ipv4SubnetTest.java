package dev.netstack.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Ipv4SubnetTest {
    @Test
    void slirpNetwork() {
        Ipv4Subnet subnet = Ipv4Subnet.parse("10.0.2.0/24");
        assertThat(subnet.network()).isEqualTo(Ipv4Address.parse("10.0.2.0"));
        assertThat(subnet.prefixLength()).isEqualTo(24);
        assertThat(subnet.mask()).isEqualTo(0xffff_ff00);
        assertThat(subnet.broadcast()).isEqualTo(Ipv4Address.parse("10.0.2.255"));
        assertThat(subnet).hasToString("10.0.2.0/24");
        assertThat(subnet.contains(Ipv4Address.parse("10.0.2.15"))).isTrue();
        assertThat(subnet.contains(Ipv4Address.parse("10.0.2.0"))).isTrue();
        assertThat(subnet.contains(Ipv4Address.parse("10.0.2.255"))).isTrue();
        assertThat(subnet.contains(Ipv4Address.parse("10.0.3.1"))).isFalse();
        assertThat(subnet.contains(Ipv4Address.parse("10.0.1.255"))).isFalse();
    }

    @Test
    void hostBitsAreCleared() {
        Ipv4Subnet subnet = Ipv4Subnet.parse("10.0.2.15/24");
        assertThat(subnet).isEqualTo(Ipv4Subnet.parse("10.0.2.0/24")).hasSameHashCodeAs(Ipv4Subnet.parse("10.0.2.0/24"));
        assertThat(subnet).hasToString("10.0.2.0/24");
        assertThat(Ipv4Subnet.of(Ipv4Address.parse("172.16.5.4"), 12)).hasToString("172.16.0.0/12");
        assertThat(Ipv4Subnet.parse("10.0.2.0/24")).isNotEqualTo(Ipv4Subnet.parse("10.0.2.0/25"));
    }

    @Test
    void edgePrefixLengths() {
        Ipv4Subnet everything = Ipv4Subnet.parse("1.2.3.4/0");
        assertThat(everything.mask()).isZero();
        assertThat(everything.network()).isEqualTo(Ipv4Address.ANY);
        assertThat(everything.broadcast()).isEqualTo(Ipv4Address.BROADCAST);
        assertThat(everything.contains(Ipv4Address.parse("255.1.2.3"))).isTrue();

        Ipv4Subnet host = Ipv4Subnet.parse("10.0.2.15/32");
        assertThat(host.mask()).isEqualTo(-1);
        assertThat(host.broadcast()).isEqualTo(Ipv4Address.parse("10.0.2.15"));
        assertThat(host.contains(Ipv4Address.parse("10.0.2.15"))).isTrue();
        assertThat(host.contains(Ipv4Address.parse("10.0.2.14"))).isFalse();

        assertThat(Ipv4Subnet.maskOf(1)).isEqualTo(0x8000_0000);
        assertThat(Ipv4Subnet.maskOf(31)).isEqualTo(0xffff_fffe);
        assertThat(Ipv4Subnet.parse("192.168.1.0/31").broadcast()).hasToString("192.168.1.1");
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.0.2.0", "10.0.2.0/", "10.0.2.0/x", "10.0.2.0/33", "10.0.2.0/-1", "10.0.2/24",
        "/24", "10.0.2.0/24/8", "10.0.2.0/+24"})
    void rejectsMalformedTextNamingIt(String text) {
        assertThatIllegalArgumentException().isThrownBy(() -> Ipv4Subnet.parse(text)).withMessageContaining(text);
    }

    @Test
    void rejectsPrefixLengthOutOfRange() {
        assertThatIllegalArgumentException().isThrownBy(() -> Ipv4Subnet.of(Ipv4Address.ANY, 33)).withMessageContaining("33");
    }

    @Test
    void maskAndContainsAgreeWithPrefixArithmetic() {
        qt().forAll(integers().all(), integers().between(0, 32), integers().all()).checkAssert((network, length, other) -> {
            Ipv4Subnet subnet = Ipv4Subnet.of(Ipv4Address.of(network), length);
            assertThat(Integer.bitCount(subnet.mask())).isEqualTo(length);
            assertThat(Integer.numberOfTrailingZeros(subnet.mask())).isEqualTo(length == 0 ? 32 : 32 - length);
            assertThat(subnet.contains(network)).isTrue();
            assertThat(subnet.contains(subnet.network())).isTrue();
            assertThat(subnet.contains(subnet.broadcast())).isTrue();
            boolean samePrefix = length == 0 || (network >>> (32 - length)) == (other >>> (32 - length));
            assertThat(subnet.contains(other)).isEqualTo(samePrefix);
            assertThat(Ipv4Subnet.parse(subnet.toString())).isEqualTo(subnet);
        });
    }
}
