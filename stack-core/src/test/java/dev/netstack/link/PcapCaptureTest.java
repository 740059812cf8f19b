package dev.netstack.link;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.buffer.MbufPool;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A ping exchange recorded through a {@link FrameTap} into a pcap file that tcpdump reads. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PcapCaptureTest {
    @TempDir
    Path dir;

    @Test
    void aPingExchangeIsRecordedAsAReadablePcap() throws Exception {
        Path file = dir.resolve("ping.pcap");
        MbufPool poolA = NetStack.newPool(256, 0);
        MbufPool poolB = NetStack.newPool(256, 0);
        VirtualDevice devA = new VirtualDevice("a", MacAddress.parse("52:54:00:12:34:56"), poolA);
        VirtualDevice devB = new VirtualDevice("b", MacAddress.parse("52:55:0a:00:02:02"), poolB);
        long frames;
        try (PcapWriter pcap = PcapWriter.create(file)) {
            VirtualCable.connect(FrameTap.on(devA, pcap), devB);
            try (NetStack a = NetStack.builder().device(devA).address("10.0.2.15/24").build();
                    NetStack b = NetStack.builder().device(devB).address("10.0.2.2/24").build()) {
                for (int i = 0; i < 3; i++) {
                    a.ping(Ipv4Address.parse("10.0.2.2"), 56, Duration.ofSeconds(5));
                }
            }
            frames = pcap.frames();
        }
        PoolChecks.assertWhole(poolA);
        PoolChecks.assertWhole(poolB);

        ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(in.getInt()).isEqualTo(0xa1b2c3d4);
        assertThat(in.getShort()).isEqualTo((short) 2);
        assertThat(in.getShort()).isEqualTo((short) 4);
        assertThat(in.getInt()).isZero();              // thiszone
        assertThat(in.getInt()).isZero();              // sigfigs
        assertThat(in.getInt()).isEqualTo(65535);      // snaplen
        assertThat(in.getInt()).isEqualTo(1);          // LINKTYPE_ETHERNET
        List<byte[]> records = new ArrayList<>();
        while (in.hasRemaining()) {
            in.getInt();
            int micros = in.getInt();
            assertThat(micros).isBetween(0, 999_999);
            int captured = in.getInt();
            int original = in.getInt();
            assertThat(captured).isEqualTo(original);
            byte[] frame = new byte[captured];
            in.get(frame);
            records.add(frame);
        }
        assertThat((long) records.size()).isEqualTo(frames);
        // two gratuitous ARPs, a's request and b's reply, then three echo requests and three replies
        assertThat(records.stream().filter(f -> Frames.isIcmp(f, 8, 0))).hasSize(3);
        assertThat(records.stream().filter(f -> Frames.isIcmp(f, 0, 0))).hasSize(3);
        for (byte[] f : records) {
            if (Frames.isIcmp(f, 8, 0) || Frames.isIcmp(f, 0, 0)) {
                assertThat(f).hasSize(14 + 20 + 8 + 56);
            }
        }
        assertThat(records.stream().filter(f -> Frames.isArp(f, 1))).hasSizeGreaterThanOrEqualTo(2);

        Assumptions.assumeTrue(tcpdumpInstalled(), "tcpdump is not installed");
        Process tcpdump = new ProcessBuilder("tcpdump", "-nr", file.toString()).redirectErrorStream(true).start();
        String printed = new String(tcpdump.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(tcpdump.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(tcpdump.exitValue()).as(printed).isZero();
        assertThat(printed).contains("ICMP echo request").contains("ICMP echo reply").contains("ARP, Request")
                .contains("10.0.2.15 > 10.0.2.2");
    }

    static boolean tcpdumpInstalled() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/usr/sbin").split(":")) {
            if (Files.isExecutable(Path.of(dir, "tcpdump"))) {
                return true;
            }
        }
        return Files.isExecutable(Path.of("/usr/sbin/tcpdump")) || Files.isExecutable(Path.of("/usr/bin/tcpdump"));
    }

}
