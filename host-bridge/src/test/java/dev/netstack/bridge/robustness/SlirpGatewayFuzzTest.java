package dev.netstack.bridge.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.netstack.bridge.NettyTransport;
import dev.netstack.bridge.SlirpGateway;
import dev.netstack.bridge.dns.DnsService;
import dev.netstack.link.FakeClock;
import dev.netstack.link.Frames;
import dev.netstack.robustness.FrameRecipe;
import dev.netstack.robustness.Guest;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.Ipv4Header;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;

/**
 * Arbitrary frames from the guest into the {@link SlirpGateway}. Afterwards (timers run out): the
 * gateway's buffers are all back, every frame it sent the guest is well formed, and it still answers
 * the guest's ping.
 *
 * <p>Safety: nothing may leave this machine. Each fuzzed frame is rewritten before it goes in: an
 * IPv4 destination off the guest network becomes 10.0.2.2 (the host's loopback), a UDP datagram's
 * destination port becomes a socket of this test (an echo on 127.0.0.1), and the DNS service has
 * static records only (no host resolver, no upstream).
 */
class SlirpGatewayFuzzTest {
    private static final EventLoopGroup GROUP = NettyTransport.newEventLoopGroup(1, "fuzz-gateway");
    private static final LoopbackEcho ECHO = new LoopbackEcho();
    private static final DnsService DNS = DnsService.builder().staticRecord("static.test", InetAddress.getLoopbackAddress())
            .hostResolver(false).eventLoopGroup(GROUP).build();

    @AfterAll
    static void close() {
        DNS.close();
        ECHO.close();
        GROUP.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).awaitUninterruptibly(5_000);
    }

    @FuzzTest(maxDuration = "60s")
    void framesFromTheGuest(FuzzedDataProvider data) {
        FakeClock clock = new FakeClock();
        List<byte[]> toGuest = new ArrayList<>();
        try (SlirpGateway gateway = SlirpGateway.builder().clock(clock).eventLoopGroup(GROUP).dnsService(DNS)
                .buffers(64).maxFlows(4).arpQueue(8).build()) {
            gateway.attach(frame -> {
                byte[] copy = new byte[frame.remaining()];
                frame.get(frame.position(), copy);
                synchronized (toGuest) {
                    toGuest.add(copy);
                }
                if (Frames.isArp(copy, ArpPacket.OP_REQUEST) && Frames.arpView(copy).targetIp() == Guest.GUEST_IP.bits()) {
                    ArpPacket request = Frames.arpView(copy);
                    gateway.receiveFrame(ByteBuffer.wrap(Frames.arpFrame(request.senderMac(), ArpPacket.OP_REPLY,
                            Guest.GUEST_MAC.bits(), Guest.GUEST_IP.bits(), request.senderMac(), request.senderIp())));
                }
            });
            int frames = data.consumeInt(1, 16);
            for (int i = 0; i < frames && data.remainingBytes() > 0; i++) {
                byte[] frame = safe(fromGuest(FrameRecipe.next(data)));
                if (frame != null) {
                    gateway.receiveFrame(ByteBuffer.wrap(frame));
                }
                if (data.consumeInt(0, 7) == 0) {
                    clock.advance(Duration.ofMillis(data.consumeInt(0, 40_000)));
                    gateway.runTimers();
                }
            }
            gateway.runTimers();   // a barrier: the loop ran every frame queued before it
            awaitQuiet(gateway);
            clock.advance(Duration.ofSeconds(600));   // ARP waits, reassembly and every flow expire
            gateway.runTimers();
            // An answer from the loopback echo may arrive after that, for a guest address whose MAC the
            // gateway never learned (the fuzzed frame came from a multicast source MAC): it is held for
            // ARP until 1 s of the test's clock passes. One the loop handles after the clock moved (but
            // before that runTimers) also renews its flow, which then outlives the 600 s step, and the
            // echo's next answer may come at any time while the flow's socket is open. So keep time
            // moving while waiting (bounded) until no flow is left (no host socket can answer then)
            // and every buffer is back; flowCount() runs on the loop, before the pool is read. A
            // leaked buffer never comes back.
            long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
            while ((gateway.flowCount() != 0 || gateway.pool().available() != gateway.pool().capacity())
                    && System.nanoTime() < deadline) {
                clock.advance(Duration.ofSeconds(2));
                gateway.runTimers();
                Thread.onSpinWait();
            }
            assertThat(gateway.pool().available()).as("gateway buffers with nothing pending").isEqualTo(gateway.pool().capacity());

            // it still answers the guest's ping
            synchronized (toGuest) {
                toGuest.clear();
            }
            gateway.receiveFrame(ByteBuffer.wrap(Frames.padded(Frames.ethernet(gateway.gatewayMac().bits(), Guest.GUEST_MAC.bits(),
                    EthernetHeader.TYPE_IPV4, Frames.ipv4(Guest.GUEST_IP.bits(), gateway.gatewayAddress().bits(), Ipv4Header.PROTOCOL_ICMP,
                            Frames.icmp(IcmpHeader.TYPE_ECHO_REQUEST, 0, 7, 9, new byte[16]))))));
            awaitQuiet(gateway);
            synchronized (toGuest) {
                assertThat(toGuest).as("frames to the guest after its ping")
                        .anyMatch(f -> Frames.isIcmp(f, IcmpHeader.TYPE_ECHO_REPLY, 0) && Frames.icmpChecksumValid(f));
            }
        }
        synchronized (toGuest) {
            for (byte[] f : toGuest) {
                assertWellFormed(f);
            }
        }
    }

    /** Runs the loop until the gateway holds nothing queued: a few barriers, as host sockets answer asynchronously. */
    private static void awaitQuiet(SlirpGateway gateway) {
        for (int i = 0; i < 3; i++) {
            gateway.runTimers();
        }
    }

    static void assertWellFormed(byte[] f) {
        assertThat(f.length).as("frame to the guest").isBetween(EthernetHeader.MIN_FRAME_LENGTH, 1514);
        if (Frames.etherType(f) == EthernetHeader.TYPE_IPV4) {
            Ipv4Header ip = Frames.ipView(f);
            assertThat(ip.version()).isEqualTo(4);
            assertThat(ip.totalLength()).isLessThanOrEqualTo(f.length - EthernetHeader.HEADER_LENGTH);
            assertThat(InternetChecksum.compute(ByteBuffer.wrap(f), EthernetHeader.HEADER_LENGTH, ip.headerLength()))
                    .as("IPv4 header checksum of a frame to the guest").isZero();
        }
    }

    /** A frame the recipe aimed at a guest, turned around: from the guest to the gateway (checksums survive the swap). */
    static byte[] fromGuest(byte[] f) {
        if (f.length >= 12) {
            swap(f, 0, 6, 6);
        }
        if (f.length >= 34 && Frames.etherType(f) == EthernetHeader.TYPE_IPV4) {
            swap(f, 26, 30, 4);
        }
        return f;
    }

    private static void swap(byte[] f, int a, int b, int n) {
        for (int i = 0; i < n; i++) {
            byte t = f[a + i];
            f[a + i] = f[b + i];
            f[b + i] = t;
        }
    }

    /** Keeps every datagram on this machine (see the class comment); null to not send the frame at all. */
    static byte[] safe(byte[] f) {
        if (f.length < 34 || Frames.etherType(f) != EthernetHeader.TYPE_IPV4) {
            return f;
        }
        ByteBuffer b = ByteBuffer.wrap(f);
        int ihl = (f[14] & 0x0f) * 4;
        boolean headerOk = ihl >= 20 && 14 + ihl <= f.length && InternetChecksum.compute(b, 14, ihl) == 0;
        int destination = b.getInt(30);
        int dns = 0x0a000203;
        if ((destination & 0xffffff00) != 0x0a000200) {
            b.putInt(30, 0x0a000202);   // 10.0.2.2: the host's loopback
            destination = 0x0a000202;
        }
        int protocol = f[23] & 0xff;
        boolean firstFragment = (b.getShort(20) & 0x1fff) == 0;
        if (protocol == Ipv4Header.PROTOCOL_UDP && firstFragment && destination != dns && ihl >= 20) {
            int udp = 14 + ihl;
            int ipPayload = Math.min(b.getShort(16) & 0xffff, f.length - 14) - ihl;
            if (udp + 8 > f.length || ipPayload < 8) {
                return null;   // no whole UDP header to rewrite: the port could be anything
            }
            b.putShort(udp + 2, (short) ECHO.port());
            b.putShort(udp + 6, (short) 0);   // no checksum
        }
        if (headerOk) {
            b.putShort(24, (short) 0);
            b.putShort(24, (short) InternetChecksum.compute(b, 14, ihl));
        }
        return f;
    }

    /** A UDP echo on 127.0.0.1: the gateway's NAT flows all lead here, and their answers come back. */
    static final class LoopbackEcho implements AutoCloseable {
        private final DatagramSocket socket;

        LoopbackEcho() {
            try {
                socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            Thread t = new Thread(() -> {
                byte[] buffer = new byte[65536];
                while (!socket.isClosed()) {
                    try {
                        DatagramPacket p = new DatagramPacket(buffer, buffer.length);
                        socket.receive(p);
                        if (p.getLength() > 0 && (buffer[0] & 1) == 0) {   // answer about half of them
                            socket.send(p);
                        }
                    } catch (IOException e) {
                        // closed
                    }
                }
            }, "fuzz-loopback-echo");
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        @Override
        public void close() {
            socket.close();
        }
    }
}
