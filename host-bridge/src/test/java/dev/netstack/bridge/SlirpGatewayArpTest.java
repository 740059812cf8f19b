package dev.netstack.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.bridge.GatewayMetrics.DropReason;
import dev.netstack.link.FramePort;
import dev.netstack.link.LinkEndpoint;
import dev.netstack.link.VirtualCable;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import dev.netstack.wire.UdpHeader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The gateway's link-level behaviour, with raw frames built from the wire views. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SlirpGatewayArpTest {
    static final long GUEST_MAC = MacAddress.parse("52:54:00:12:34:56").bits();
    static final int GUEST_IP = Ipv4Address.parse("10.0.2.15").bits();
    static final int GATEWAY_IP = Ipv4Address.parse("10.0.2.2").bits();
    static final int DNS_IP = Ipv4Address.parse("10.0.2.3").bits();

    final AtomicLong now = new AtomicLong(5_000_000_000L);
    final Capture guest = new Capture();
    SlirpGateway gateway;

    void start(SlirpGateway.Builder builder) {
        gateway = builder.clock(now::get).dnsEnabled(false).build();
        VirtualCable.connect(guest, gateway);
    }

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
            PoolChecks.assertWhole(gateway.pool());
        }
    }

    /** The guest's side of the cable: keeps a copy of every frame the gateway sends. */
    static final class Capture implements LinkEndpoint {
        final BlockingQueue<ByteBuffer> frames = new LinkedBlockingQueue<>();
        volatile FramePort peer;

        @Override
        public void attach(FramePort peer) {
            this.peer = peer;
        }

        @Override
        public void receiveFrame(ByteBuffer frame) {
            ByteBuffer copy = ByteBuffer.allocate(frame.remaining());
            copy.put(frame.duplicate()).flip();
            frames.add(copy);
        }

        void send(ByteBuffer frame) {
            peer.receiveFrame(frame);
        }

        ByteBuffer next() throws InterruptedException {
            ByteBuffer frame = frames.poll(5, TimeUnit.SECONDS);
            assertThat(frame).as("a frame from the gateway").isNotNull();
            return frame;
        }
    }

    static ByteBuffer arp(int operation, long destinationMac, long senderMac, int senderIp, long targetMac, int targetIp) {
        ByteBuffer frame = ByteBuffer.allocate(EthernetHeader.MIN_FRAME_LENGTH);
        EthernetHeader eth = new EthernetHeader();
        eth.wrap(frame, 0, frame.capacity());
        eth.destination(destinationMac);
        eth.source(senderMac);
        eth.etherType(EthernetHeader.TYPE_ARP);
        ArpPacket arp = new ArpPacket();
        arp.wrap(frame, EthernetHeader.HEADER_LENGTH, ArpPacket.LENGTH);
        arp.set(operation, senderMac, senderIp, targetMac, targetIp);
        return frame;
    }

    @Test
    void answersArpForTheGatewayAndDnsAddressesWithTheirOwnMacs() throws Exception {
        start(SlirpGateway.builder());
        for (int[] target : new int[][] {{GATEWAY_IP, 2}, {DNS_IP, 3}}) {
            guest.send(arp(ArpPacket.OP_REQUEST, MacAddress.BROADCAST_BITS, GUEST_MAC, GUEST_IP, 0, target[0]));
            ByteBuffer reply = guest.next();
            long expectedMac = MacAddress.parse("52:55:0a:00:02:0" + target[1]).bits();
            EthernetHeader eth = new EthernetHeader();
            eth.wrap(reply, 0, reply.remaining());
            assertThat(eth.destination()).isEqualTo(GUEST_MAC);
            assertThat(eth.source()).isEqualTo(expectedMac);
            assertThat(eth.etherType()).isEqualTo(EthernetHeader.TYPE_ARP);
            assertThat(reply.remaining()).isGreaterThanOrEqualTo(EthernetHeader.MIN_FRAME_LENGTH);
            ArpPacket arp = new ArpPacket();
            assertThat(arp.wrap(reply, EthernetHeader.HEADER_LENGTH, reply.remaining() - EthernetHeader.HEADER_LENGTH)).isTrue();
            assertThat(arp.operation()).isEqualTo(ArpPacket.OP_REPLY);
            assertThat(arp.senderMac()).isEqualTo(expectedMac);
            assertThat(arp.senderIp()).isEqualTo(target[0]);
            assertThat(arp.targetMac()).isEqualTo(GUEST_MAC);
            assertThat(arp.targetIp()).isEqualTo(GUEST_IP);
        }
        // someone else's address: silence
        guest.send(arp(ArpPacket.OP_REQUEST, MacAddress.BROADCAST_BITS, GUEST_MAC, GUEST_IP, 0,
                Ipv4Address.parse("10.0.2.99").bits()));
        assertThat(guest.frames.poll(200, TimeUnit.MILLISECONDS)).isNull();
        assertThat(gateway.neighbour(Ipv4Address.of(GUEST_IP))).isEqualTo(MacAddress.of(GUEST_MAC));
    }

    @Test
    void aFrameForAnUnknownGuestWaitsForArpAndIsDroppedAfterOneSecond() throws Exception {
        start(SlirpGateway.builder().portForward("udp::0-:7000"));
        InetSocketAddress forwarded = gateway.portForwardAddresses().get(0);
        try (DatagramChannel client = DatagramChannel.open()) {
            client.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            client.send(ByteBuffer.wrap("anyone?".getBytes(StandardCharsets.US_ASCII)), forwarded);

            ByteBuffer request = guest.next();
            EthernetHeader eth = new EthernetHeader();
            eth.wrap(request, 0, request.remaining());
            assertThat(eth.destination()).isEqualTo(MacAddress.BROADCAST_BITS);
            assertThat(eth.etherType()).isEqualTo(EthernetHeader.TYPE_ARP);
            ArpPacket arp = new ArpPacket();
            arp.wrap(request, EthernetHeader.HEADER_LENGTH, ArpPacket.LENGTH);
            assertThat(arp.operation()).isEqualTo(ArpPacket.OP_REQUEST);
            assertThat(arp.senderIp()).isEqualTo(GATEWAY_IP);
            assertThat(arp.targetIp()).isEqualTo(GUEST_IP);
            assertThat(gateway.framesAwaitingArp()).isEqualTo(1);

            now.addAndGet(Duration.ofMillis(999).toNanos());
            gateway.runTimers();
            assertThat(gateway.framesAwaitingArp()).isEqualTo(1);
            now.addAndGet(Duration.ofMillis(1).toNanos());
            gateway.runTimers();
            assertThat(gateway.framesAwaitingArp()).isZero();
            assertThat(gateway.metrics().drops(DropReason.ARP_TIMEOUT)).isEqualTo(1);
        }
    }

    @Test
    void anArpAnswerReleasesTheWaitingFrame() throws Exception {
        start(SlirpGateway.builder().portForward("udp::0-:7000"));
        InetSocketAddress forwarded = gateway.portForwardAddresses().get(0);
        try (DatagramChannel client = DatagramChannel.open()) {
            client.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            client.send(ByteBuffer.wrap("hello".getBytes(StandardCharsets.US_ASCII)), forwarded);
            guest.next();   // the ARP request
            guest.send(arp(ArpPacket.OP_REPLY, MacAddress.parse("52:55:0a:00:02:02").bits(), GUEST_MAC, GUEST_IP,
                    MacAddress.parse("52:55:0a:00:02:02").bits(), GATEWAY_IP));
            ByteBuffer frame = guest.next();
            EthernetHeader eth = new EthernetHeader();
            eth.wrap(frame, 0, frame.remaining());
            assertThat(eth.destination()).isEqualTo(GUEST_MAC);
            assertThat(eth.etherType()).isEqualTo(EthernetHeader.TYPE_IPV4);
            Ipv4Header ip = new Ipv4Header();
            ip.wrap(frame, EthernetHeader.HEADER_LENGTH, frame.remaining() - EthernetHeader.HEADER_LENGTH);
            assertThat(ip.isChecksumValid()).isTrue();
            assertThat(ip.source()).isEqualTo(GATEWAY_IP);
            assertThat(ip.destination()).isEqualTo(GUEST_IP);
            UdpHeader udp = new UdpHeader();
            udp.wrap(frame, EthernetHeader.HEADER_LENGTH + 20, ip.totalLength() - 20);
            assertThat(udp.destinationPort()).isEqualTo(7000);
            assertThat(udp.length()).isEqualTo(8 + 5);
            assertThat(udp.isChecksumValid(ip.source(), ip.destination())).isTrue();
            assertThat(gateway.framesAwaitingArp()).isZero();
        }
    }

    @Test
    void ttlOneRawDatagramGetsTimeExceededQuotingIt() throws Exception {
        start(SlirpGateway.builder());
        ByteBuffer frame = ByteBuffer.allocate(14 + 20 + 8 + 4);
        EthernetHeader eth = new EthernetHeader();
        eth.wrap(frame, 0, frame.capacity());
        eth.destination(MacAddress.parse("52:55:0a:00:02:02").bits());
        eth.source(GUEST_MAC);
        eth.etherType(EthernetHeader.TYPE_IPV4);
        Ipv4Header ip = new Ipv4Header();
        ip.wrap(frame, 14, 32);
        ip.set(32, 0x4242, 0, 1, Ipv4Header.PROTOCOL_UDP, GUEST_IP, GATEWAY_IP);
        UdpHeader udp = new UdpHeader();
        udp.wrap(frame, 34, 12);
        udp.set(2000, 9, 12);   // port 9 on 127.0.0.1: never reached, the TTL runs out first
        frame.put(42, (byte) 'p').put(43, (byte) 'i').put(44, (byte) 'n').put(45, (byte) 'g');
        udp.fillChecksum(GUEST_IP, GATEWAY_IP);
        guest.send(frame);

        ByteBuffer reply = guest.next();
        Ipv4Header replyIp = new Ipv4Header();
        replyIp.wrap(reply, 14, reply.remaining() - 14);
        assertThat(replyIp.protocol()).isEqualTo(Ipv4Header.PROTOCOL_ICMP);
        assertThat(replyIp.source()).isEqualTo(GATEWAY_IP);
        assertThat(replyIp.destination()).isEqualTo(GUEST_IP);
        assertThat(replyIp.isChecksumValid()).isTrue();
        int icmpLength = replyIp.totalLength() - 20;
        assertThat(icmpLength).isEqualTo(8 + 20 + 8);
        assertThat(reply.get(34) & 0xff).isEqualTo(11);   // time exceeded
        assertThat(reply.get(35) & 0xff).isEqualTo(0);    // in transit
        assertThat(InternetChecksum.compute(reply, 34, icmpLength)).isZero();
        assertThat(reply.getShort(34 + 8 + 4) & 0xffff).isEqualTo(0x4242);   // the quoted header's id
        assertThat(gateway.metrics().drops(DropReason.TTL_EXCEEDED)).isEqualTo(1);
        assertThat(gateway.flowCount()).isZero();
    }
}
