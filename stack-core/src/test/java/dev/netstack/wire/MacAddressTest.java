package dev.netstack.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.longs;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MacAddressTest {
    @Test
    void parsesAndFormatsTheGuestAddress() {
        MacAddress mac = MacAddress.parse("52:54:00:12:34:56");
        assertThat(mac.bits()).isEqualTo(0x5254_0012_3456L);
        assertThat(mac).hasToString("52:54:00:12:34:56");
        assertThat(mac.octets()).containsExactly(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
        assertThat(MacAddress.parse("52-54-00-12-34-56")).isEqualTo(mac);
        assertThat(MacAddress.parse(" 52:54:0:12:34:56 ")).isEqualTo(mac);
        assertThat(MacAddress.parse("FF:ff:Ff:fF:ff:ff")).isEqualTo(MacAddress.BROADCAST);
        assertThat(MacAddress.of(new byte[] {0x52, 0x54, 0, 0x12, 0x34, 0x56})).isEqualTo(mac).hasSameHashCodeAs(mac);
        assertThat(MacAddress.of(0xffff_5254_0012_3456L)).as("only the low 48 bits count").isEqualTo(mac);
        assertThat(MacAddress.toString(0x0a0b_0c0d_0e0fL)).isEqualTo("0a:0b:0c:0d:0e:0f");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "52:54:00:12:34:5g", "52:54:00:12:34:567",
        "52::00:12:34:56", "52:54:00:12:34:56:", ":52:54:00:12:34:56", "52:54:00:12:34:+6", "52:54:00:12:34:-6",
        "525400123456", "52.54.00.12.34.56"})
    void rejectsMalformedTextNamingIt(String text) {
        assertThatIllegalArgumentException().isThrownBy(() -> MacAddress.parse(text))
                .withMessageContaining("MAC address")
                .withMessageContaining(text);
    }

    @Test
    void rejectsWrongOctetCount() {
        assertThatIllegalArgumentException().isThrownBy(() -> MacAddress.of(new byte[5])).withMessageContaining("5");
    }

    @Test
    void multicastAndBroadcastPredicates() {
        assertThat(MacAddress.BROADCAST.isBroadcast()).isTrue();
        assertThat(MacAddress.BROADCAST.isMulticast()).as("broadcast is a group address").isTrue();
        assertThat(MacAddress.parse("01:00:5e:00:00:01").isMulticast()).isTrue();
        assertThat(MacAddress.parse("01:00:5e:00:00:01").isBroadcast()).isFalse();
        assertThat(MacAddress.parse("33:33:00:00:00:01").isMulticast()).isTrue();
        assertThat(MacAddress.parse("52:54:00:12:34:56").isMulticast()).isFalse();
        assertThat(MacAddress.parse("02:00:00:00:00:00").isMulticast()).as("locally administered, not group").isFalse();
        assertThat(MacAddress.ZERO.isMulticast()).isFalse();
        assertThat(MacAddress.ZERO.isBroadcast()).isFalse();
        assertThat(MacAddress.isBroadcast(0xffff_ffff_ffff_ffffL)).isTrue();
        assertThat(MacAddress.isBroadcast(0xffff_ffff_fffeL)).isFalse();
        assertThat(MacAddress.isMulticast(0x0100_0000_0000L)).isTrue();
        assertThat(MacAddress.isMulticast(0x00ff_ffff_ffffL)).isFalse();
    }

    @Test
    void readAndWriteUseSixOctetsInNetworkOrder() {
        ByteBuffer buffer = ByteBuffer.allocate(10);
        MacAddress.write(buffer, 2, 0x5254_0012_3456L);
        assertThat(buffer.array()).containsExactly(0, 0, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0, 0);
        assertThat(MacAddress.read(buffer, 2)).isEqualTo(0x5254_0012_3456L);
        buffer.put(0, (byte) 0xff).put(1, (byte) 0xff);
        assertThat(MacAddress.read(buffer, 2)).as("no sign extension").isEqualTo(0x5254_0012_3456L);
        MacAddress.write(buffer, 2, 0xffff_ffff_ffffL);
        assertThat(MacAddress.read(buffer, 2)).isEqualTo(0xffff_ffff_ffffL);
    }

    @Test
    void formatParseRoundTrip() {
        qt().forAll(longs().between(0, MacAddress.BROADCAST_BITS)).checkAssert(bits -> {
            MacAddress mac = MacAddress.of(bits);
            assertThat(mac.toString()).matches("([0-9a-f]{2}:){5}[0-9a-f]{2}");
            assertThat(MacAddress.parse(mac.toString())).isEqualTo(mac);
            assertThat(MacAddress.of(mac.octets())).isEqualTo(mac);
            ByteBuffer buffer = ByteBuffer.allocate(6);
            MacAddress.write(buffer, 0, bits);
            assertThat(buffer.array()).containsExactly(mac.octets());
            assertThat(MacAddress.read(buffer, 0)).isEqualTo(bits);
        });
    }
}
