package dev.netstack.robustness;

import static dev.netstack.robustness.Guest.GUEST_IP;
import static dev.netstack.robustness.Guest.GUEST_MAC;
import static dev.netstack.robustness.Guest.PEER_IP;
import static dev.netstack.robustness.Guest.PEER_MAC;
import static dev.netstack.robustness.Guest.SILENT_IP;
import static dev.netstack.robustness.Guest.SINK_PORT;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.link.Frames;
import dev.netstack.metrics.Drop;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input, one row per case, each with the outcome it must have: dropped with a given reason (and
 * no other receive-side drop), answered with a given frame, or accepted. Every row then checks the
 * counters balance ({@link Accounting}) and, once the timers ran out, that the pool is whole.
 * Rows for the E1000 card and the gateway's DNS forwarder live in those modules' robustness tests.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BadInputMatrixTest {
    private static final int ETH = EthernetHeader.HEADER_LENGTH;
    private static final int IP_TOTAL_LENGTH = ETH + 2, IP_FLAGS = ETH + 6, IP_TTL = ETH + 8, IP_PROTOCOL = ETH + 9,
            IP_CHECKSUM = ETH + 10, IP_DESTINATION = ETH + 16, L4 = ETH + 20;

    /** What a row must lead to. */
    interface Outcome {
        void check(Guest guest, Map<Drop, Long> dropsBefore, long wireBefore);

        default Outcome and(Outcome next) {
            return (g, d, w) -> {
                check(g, d, w);
                next.check(g, d, w);
            };
        }
    }

    record Row(String name, Consumer<Guest> input, Outcome outcome) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> rows() {
        List<Row> rows = new ArrayList<>();
        ethernetRows(rows);
        ipv4Rows(rows);
        udpRows(rows);
        icmpRows(rows);
        fragmentRows(rows);
        arpRows(rows);
        return rows.stream().map(r -> Arguments.of(r.name(), r));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void row(String name, Row row) {
        try (Guest guest = Guest.start()) {
            Map<Drop, Long> before = drops(guest);
            long wireBefore = guest.wire.count();
            row.input().accept(guest);
            guest.drainSink();
            row.outcome().check(guest, before, wireBefore);
            guest.assertBalanced();
            guest.quiesce();
            guest.drainSink();
            guest.assertPoolWhole();
            guest.assertBalanced();
        }
    }

    // --- rows ----------------------------------------------------------------------------------

    static void ethernetRows(List<Row> rows) {
        byte[] ipv4 = echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 18);    // exactly 60 bytes
        byte[] arp = Frames.arpFrame(MacAddress.BROADCAST_BITS, ArpPacket.OP_REQUEST, PEER_MAC.bits(), PEER_IP.bits(), 0, GUEST_IP.bits());
        byte[] ipv6 = ethernet(EthernetHeader.TYPE_IPV6, new byte[46]);
        byte[] unknown = ethernet(0x88b5, new byte[46]);
        for (int length = 0; length < 60; length++) {
            int n = length;
            rows.add(new Row("IPv4 frame cut to " + n + " bytes", g -> g.inject(Arrays.copyOf(ipv4, n)),
                    n < ETH ? dropped(Drop.ETHERNET_RUNT) : n < ETH + 20 ? dropped(Drop.IPV4_MALFORMED) : dropped(Drop.IPV4_BAD_LENGTH)));
            rows.add(new Row("ARP frame cut to " + n + " bytes", g -> g.inject(Arrays.copyOf(arp, n)),
                    n < ETH ? dropped(Drop.ETHERNET_RUNT) : n < ETH + ArpPacket.LENGTH ? dropped(Drop.ARP_MALFORMED)
                            : answered("ARP reply", f -> Frames.isArp(f, ArpPacket.OP_REPLY))));
            rows.add(new Row("IPv6 frame of " + n + " bytes", g -> g.inject(Arrays.copyOf(ipv6, n)),
                    n < ETH ? dropped(Drop.ETHERNET_RUNT) : dropped(Drop.ETHERNET_UNKNOWN_TYPE)));
            rows.add(new Row("unknown-ethertype frame of " + n + " bytes", g -> g.inject(Arrays.copyOf(unknown, n)),
                    n < ETH ? dropped(Drop.ETHERNET_RUNT) : dropped(Drop.ETHERNET_UNKNOWN_TYPE)));
        }
        rows.add(new Row("IPv4 echo request of exactly 60 bytes", g -> g.inject(ipv4), answered("echo reply", isEchoReply())));
        rows.add(new Row("frame for another MAC", g -> g.inject(withDestinationMac(ipv4, 0x0200_0000_0042L)),
                dropped(Drop.ETHERNET_NOT_FOR_US)));
        rows.add(new Row("VLAN-tagged frame", g -> g.inject(ethernet(EthernetHeader.TYPE_VLAN, new byte[46])),
                dropped(Drop.ETHERNET_UNKNOWN_TYPE)));
    }

    static void ipv4Rows(List<Row> rows) {
        for (int ihl = 0; ihl <= 4; ihl++) {
            int value = ihl;
            rows.add(new Row("IHL " + ihl, g -> g.inject(ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32),
                    f -> f[ETH] = (byte) (0x40 | value))), dropped(Drop.IPV4_MALFORMED)));
        }
        rows.add(new Row("IP version 6 in an IPv4 frame", g -> g.inject(ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32),
                f -> f[ETH] = 0x65)), dropped(Drop.IPV4_MALFORMED)));
        rows.add(new Row("IHL 15 (60 bytes) longer than the 40-byte packet", g -> g.inject(
                ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 12), f -> f[ETH] = 0x4f)), dropped(Drop.IPV4_BAD_LENGTH)));
        rows.add(new Row("total length 10, shorter than the header", g -> g.inject(
                ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32), f -> putShort(f, IP_TOTAL_LENGTH, 10))),
                dropped(Drop.IPV4_BAD_LENGTH)));
        rows.add(new Row("total length 19, one short of the header", g -> g.inject(
                ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32), f -> putShort(f, IP_TOTAL_LENGTH, 19))),
                dropped(Drop.IPV4_BAD_LENGTH)));
        rows.add(new Row("total length beyond the frame", g -> g.inject(
                ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32), f -> putShort(f, IP_TOTAL_LENGTH, 61))),
                dropped(Drop.IPV4_BAD_LENGTH)));
        rows.add(new Row("total length 65535 in a short frame", g -> g.inject(
                ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32), f -> putShort(f, IP_TOTAL_LENGTH, 65535))),
                dropped(Drop.IPV4_BAD_LENGTH)));
        rows.add(new Row("total length shorter than the frame (Ethernet padding) is fine", g -> g.inject(
                Arrays.copyOf(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 4), 60)), answered("echo reply", isEchoReply())));
        rows.add(new Row("bad IPv4 header checksum", g -> g.inject(
                corrupt(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32), IP_CHECKSUM)), dropped(Drop.IPV4_BAD_CHECKSUM)));
        rows.add(new Row("TTL 0 to us is still delivered (hosts do not check TTL)", g -> g.inject(
                ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32), f -> f[IP_TTL] = 0)), answered("echo reply", isEchoReply())));
        rows.add(new Row("TTL 1 to us is delivered", g -> g.inject(
                ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32), f -> f[IP_TTL] = 1)), answered("echo reply", isEchoReply())));
        rows.add(new Row("destination another host", g -> g.inject(
                echoRequest(PEER_IP.bits(), SILENT_IP.bits(), 32)), dropped(Drop.IPV4_NOT_FOR_US)));
        rows.add(new Row("destination 0.0.0.0", g -> g.inject(echoRequest(PEER_IP.bits(), 0, 32)), dropped(Drop.IPV4_NOT_FOR_US)));
        rows.add(new Row("unknown protocol (TCP) answered with protocol unreachable", g -> g.inject(
                ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32), f -> f[IP_PROTOCOL] = Ipv4Header.PROTOCOL_TCP)),
                dropped(Drop.IPV4_UNKNOWN_PROTOCOL).and(sent("protocol unreachable",
                        f -> Frames.isIcmp(f, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PROTOCOL_UNREACHABLE)))));
        rows.add(new Row("unknown protocol to the broadcast address: no error", g -> g.inject(
                withDestinationMac(ipFixed(echoRequest(PEER_IP.bits(), -1, 32), f -> f[IP_PROTOCOL] = (byte) 253), MacAddress.BROADCAST_BITS)),
                dropped(Drop.IPV4_UNKNOWN_PROTOCOL).and(nothingSent())));
        rows.add(new Row("40 bytes of IPv4 options, echo still answered", g -> g.inject(withOptions(
                echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 16), 40)), answered("echo reply", isEchoReply())));
    }

    static void udpRows(List<Row> rows) {
        rows.add(new Row("UDP datagram to the sink", g -> g.inject(udp(SINK_PORT, 10)), accepted(1)));
        rows.add(new Row("UDP length 7 (< 8)", g -> g.inject(udpFixed(udp(SINK_PORT, 10), f -> putShort(f, L4 + 4, 7))),
                dropped(Drop.UDP_MALFORMED)));
        rows.add(new Row("UDP length 0", g -> g.inject(udpFixed(udp(SINK_PORT, 10), f -> putShort(f, L4 + 4, 0))),
                dropped(Drop.UDP_MALFORMED)));
        rows.add(new Row("UDP length beyond the IP payload", g -> g.inject(udpFixed(udp(SINK_PORT, 10), f -> putShort(f, L4 + 4, 19))),
                dropped(Drop.UDP_MALFORMED)));
        rows.add(new Row("UDP length shorter than the IP payload: the rest is ignored", g -> {
            g.inject(udpFixed(udp(SINK_PORT, 10), f -> putShort(f, L4 + 4, 12)));
        }, accepted(1)));
        rows.add(new Row("IP payload shorter than a UDP header", g -> g.inject(ipFixed(udp(SINK_PORT, 0),
                f -> putShort(f, IP_TOTAL_LENGTH, 24))), dropped(Drop.UDP_MALFORMED)));
        rows.add(new Row("bad UDP checksum", g -> g.inject(corrupt(udp(SINK_PORT, 10), L4 + 6)), dropped(Drop.UDP_BAD_CHECKSUM)));
        rows.add(new Row("UDP checksum 0 (none) is accepted", g -> g.inject(withShort(udp(SINK_PORT, 10), L4 + 6, 0)), accepted(1)));
        rows.add(new Row("no socket on the port: port unreachable", g -> g.inject(udp(4242, 10)),
                dropped(Drop.UDP_NO_SOCKET).and(sent("port unreachable",
                        f -> Frames.isIcmp(f, IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE)
                                && Frames.icmpChecksumValid(f)))));
        rows.add(new Row("no socket, sent as link broadcast: no error", g -> g.inject(withDestinationMac(udp(4242, 10), MacAddress.BROADCAST_BITS)),
                dropped(Drop.UDP_NO_SOCKET).and(nothingSent())));
        rows.add(new Row("sink queue overflows at " + Guest.SINK_QUEUE, g -> {
            for (int i = 0; i < Guest.SINK_QUEUE + 3; i++) {
                g.inject(udp(SINK_PORT, 10));
            }
        }, dropped(Drop.UDP_QUEUE_FULL, 3)));
    }

    static void icmpRows(List<Row> rows) {
        rows.add(new Row("bad ICMP checksum", g -> g.inject(corrupt(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 32), L4 + 2)),
                dropped(Drop.ICMP_BAD_CHECKSUM)));
        rows.add(new Row("ICMP shorter than its header", g -> g.inject(ipFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 0),
                f -> putShort(f, IP_TOTAL_LENGTH, 24))), dropped(Drop.ICMP_MALFORMED)));
        rows.add(new Row("ICMP type 42", g -> g.inject(icmpFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 8), f -> f[L4] = 42)),
                dropped(Drop.ICMP_UNHANDLED_TYPE)));
        rows.add(new Row("echo reply nobody asked for", g -> g.inject(icmpFixed(echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 8),
                f -> f[L4] = 0)), dropped(Drop.ICMP_UNMATCHED_REPLY)));
        rows.add(new Row("destination unreachable quoting 4 bytes", g -> g.inject(icmpError(new byte[4])), dropped(Drop.ICMP_MALFORMED)));
        rows.add(new Row("destination unreachable quoting another host's datagram", g -> g.inject(icmpError(
                Frames.ipv4(SILENT_IP.bits(), PEER_IP.bits(), Ipv4Header.PROTOCOL_UDP, new byte[8]))), dropped(Drop.ICMP_MALFORMED)));
        rows.add(new Row("port unreachable about our datagram is accepted", g -> g.inject(icmpError(
                Frames.ipv4(GUEST_IP.bits(), PEER_IP.bits(), Ipv4Header.PROTOCOL_UDP, Frames.udp(GUEST_IP.bits(), PEER_IP.bits(), SINK_PORT, 53, new byte[0])))),
                acceptedOnly()));
        rows.add(new Row("echo request to the subnet broadcast is ignored", g -> g.inject(withDestinationMac(
                echoRequest(PEER_IP.bits(), Ipv4Address.parse("10.0.2.255").bits(), 8), MacAddress.BROADCAST_BITS)), nothing()));
        rows.add(new Row("echo request from 0.0.0.0 is answered to nobody useful but does not break", g -> g.inject(
                echoRequest(0, GUEST_IP.bits(), 8)), acceptedOnly()));
    }

    static void fragmentRows(List<Row> rows) {
        byte[] datagram = echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 3000);
        rows.add(new Row("fragments in order", g -> {
            for (byte[] f : fragments(datagram, 1480)) {
                g.inject(f);
            }
        }, answered("reassembled echo reply", isFragmentedEchoReply(3000))));
        rows.add(new Row("fragments in reverse order", g -> {
            List<byte[]> fs = fragments(datagram, 1480);
            for (int i = fs.size() - 1; i >= 0; i--) {
                g.inject(fs.get(i));
            }
        }, answered("reassembled echo reply", isFragmentedEchoReply(3000))));
        rows.add(new Row("overlapping fragments with the same bytes reassemble", g -> {
            g.inject(fragment(datagram, 0, 1480, true));
            g.inject(fragment(datagram, 1000, 1480, true));   // overlaps [1000, 1480)
            g.inject(fragment(datagram, 2480, datagram.length - L4 - 2480, false));
            g.inject(fragment(datagram, 1480, 1000, true));
        }, answered("reassembled echo reply", isFragmentedEchoReply(3000))));
        rows.add(new Row("overlapping fragments that disagree (teardrop)", g -> {
            g.inject(fragment(datagram, 0, 1480, true));
            byte[] liar = fragment(datagram, 1000, 1480, true);
            liar[L4 + 100] ^= 0x55;
            g.inject(ipRefixed(liar));
        }, dropped(Drop.IPV4_FRAGMENT_OVERLAP_CONFLICT, 2).and(nothingSentBut(f -> false))));
        rows.add(new Row("duplicate fragment", g -> {
            g.inject(fragment(datagram, 0, 1480, true));
            g.inject(fragment(datagram, 0, 1480, true));
        }, dropped(Drop.IPV4_FRAGMENT_DUPLICATE)));
        rows.add(new Row("never completes: timeout and time exceeded", g -> {
            g.inject(fragment(datagram, 0, 1480, true));
            g.advance(Duration.ofSeconds(31));
        }, dropped(Drop.IPV4_FRAGMENT_TIMEOUT).and(sent("time exceeded (reassembly)",
                f -> Frames.isIcmp(f, IcmpHeader.TYPE_TIME_EXCEEDED, IcmpHeader.CODE_REASSEMBLY_TIME_EXCEEDED)))));
        rows.add(new Row("never completes without its first fragment: timeout, no error", g -> {
            g.inject(fragment(datagram, 1480, 1480, true));
            g.advance(Duration.ofSeconds(31));
        }, dropped(Drop.IPV4_FRAGMENT_TIMEOUT).and(nothingSent())));
        rows.add(new Row("fragment reaching beyond 64 KiB (ping of death)", g -> {
            g.inject(fragment(datagram, 0, 1480, true));
            g.inject(withFragmentField(fragment(datagram, 1480, 1480, false), 8189));   // 65512 + 1480 > 65515
        }, dropped(Drop.IPV4_FRAGMENT_TOO_LARGE, 2)));
        rows.add(new Row("non-final fragment not a multiple of 8 bytes", g -> g.inject(fragment(datagram, 0, 1001, true)),
                dropped(Drop.IPV4_FRAGMENT_BAD)));
        rows.add(new Row("3000 fragments of 3000 datagrams: bounded, evicted as no_room", g -> {
            for (int id = 0; id < 3000; id++) {
                g.inject(withId(fragment(datagram, 0, 8, true), id));
                assertThat(g.reassembler.pendingDatagrams()).isLessThanOrEqualTo(64);
            }
            g.assertAnswersPing();
        }, droppedAtLeast(Drop.IPV4_FRAGMENT_NO_ROOM, 3000 - 64)));
        rows.add(new Row("1000 fragments of one datagram: the pool is not starved", g -> {
            byte[] big = echoRequest(PEER_IP.bits(), GUEST_IP.bits(), 60_000);
            for (int i = 0; i < 1000; i++) {
                g.inject(fragment(big, i * 16, 8, true));   // every other 8 bytes: never complete
            }
            assertThat(g.pool.available()).as("free buffers while a fragment flood is held").isGreaterThan(g.pool.capacity() / 2);
            g.assertAnswersPing();
        }, droppedAtLeast(Drop.IPV4_FRAGMENT_NO_ROOM, 1)));
    }

    static void arpRows(List<Row> rows) {
        long stranger = 0x0200_0000_0099L;
        rows.add(new Row("ARP request for us is answered", g -> g.inject(arp(ArpPacket.OP_REQUEST, stranger, PEER_IP.bits(), GUEST_IP.bits())),
                answered("ARP reply", f -> Frames.isArp(f, ArpPacket.OP_REPLY) && Frames.arpView(f).targetMac() == stranger)));
        rows.add(new Row("ARP probe from 0.0.0.0 for us is answered (RFC 5227)", g -> g.inject(arp(ArpPacket.OP_REQUEST, stranger, 0, GUEST_IP.bits())),
                answered("ARP reply", f -> Frames.isArp(f, ArpPacket.OP_REPLY))));
        rows.add(new Row("ARP from 0.0.0.0 not for us", g -> g.inject(arp(ArpPacket.OP_REQUEST, stranger, 0, SILENT_IP.bits())),
                dropped(Drop.ARP_BAD_SENDER)));
        rows.add(new Row("ARP from 255.255.255.255", g -> g.inject(arp(ArpPacket.OP_REQUEST, stranger, -1, GUEST_IP.bits())),
                dropped(Drop.ARP_BAD_SENDER).and(notCached(-1))));
        rows.add(new Row("ARP from the subnet broadcast 10.0.2.255", g -> g.inject(arp(ArpPacket.OP_REQUEST, stranger,
                Ipv4Address.parse("10.0.2.255").bits(), GUEST_IP.bits())), dropped(Drop.ARP_BAD_SENDER)));
        rows.add(new Row("ARP from multicast 224.0.0.1", g -> g.inject(arp(ArpPacket.OP_REQUEST, stranger, 0xe0000001, GUEST_IP.bits())),
                dropped(Drop.ARP_BAD_SENDER).and(notCached(0xe0000001))));
        rows.add(new Row("ARP from a multicast MAC", g -> g.inject(arp(ArpPacket.OP_REQUEST, 0x0100_5e00_0001L, PEER_IP.bits(), GUEST_IP.bits())),
                dropped(Drop.ARP_BAD_SENDER).and(notCached(PEER_IP.bits()))));
        rows.add(new Row("ARP from the broadcast MAC", g -> g.inject(arp(ArpPacket.OP_REQUEST, MacAddress.BROADCAST_BITS, PEER_IP.bits(), GUEST_IP.bits())),
                dropped(Drop.ARP_BAD_SENDER).and(notCached(PEER_IP.bits()))));
        rows.add(new Row("ARP claiming our own address", g -> g.inject(arp(ArpPacket.OP_REPLY, stranger, GUEST_IP.bits(), GUEST_IP.bits())),
                dropped(Drop.ARP_BAD_SENDER)));
        rows.add(new Row("ARP about others, sender unknown: not cached", g -> g.inject(arp(ArpPacket.OP_REQUEST, stranger, SILENT_IP.bits(), PEER_IP.bits())),
                dropped(Drop.ARP_NOT_FOR_US).and(notCached(SILENT_IP.bits()))));
        rows.add(new Row("gratuitous ARP moves a known neighbour", g -> {
            g.inject(arp(ArpPacket.OP_REQUEST, PEER_MAC.bits(), PEER_IP.bits(), GUEST_IP.bits()));
            assertThat(g.stack.arpLookup(PEER_IP)).isEqualTo(PEER_MAC);
            g.inject(arp(ArpPacket.OP_REQUEST, stranger, PEER_IP.bits(), PEER_IP.bits()));
        }, dropped(Drop.ARP_NOT_FOR_US).and((g, d, w) -> assertThat(g.stack.arpLookup(PEER_IP)).isEqualTo(MacAddress.of(stranger)))));
        rows.add(new Row("ARP with hardware type 6", g -> g.inject(withShort(arp(ArpPacket.OP_REQUEST, stranger, PEER_IP.bits(), GUEST_IP.bits()), ETH, 6)),
                dropped(Drop.ARP_MALFORMED)));
        rows.add(new Row("ARP operation 3", g -> g.inject(withShort(arp(ArpPacket.OP_REQUEST, stranger, PEER_IP.bits(), GUEST_IP.bits()), ETH + 6, 3)),
                dropped(Drop.ARP_MALFORMED)));
        rows.add(new Row("10,000 distinct ARP senders: the cache stays bounded", g -> {
            for (int i = 0; i < 10_000; i++) {
                int ip = 0x0a010001 + i;   // 10.1.0.1 onwards: all distinct, none ours or a broadcast
                g.inject(arp(ArpPacket.OP_REQUEST, 0x0200_0000_0000L | i + 1, ip, GUEST_IP.bits()));
                if (i % 1000 == 0) {
                    assertThat(g.stack.arpCacheSize()).isLessThanOrEqualTo(256);
                }
            }
            assertThat(g.stack.arpCacheSize()).isLessThanOrEqualTo(256);
            g.assertAnswersPing();
        }, answeredAtLeast(10_000, f -> Frames.isArp(f, ArpPacket.OP_REPLY))));
    }

    // --- outcomes ------------------------------------------------------------------------------

    /** Exactly {@code n} more drops for {@code reason}, and no other receive-side drop. */
    static Outcome dropped(Drop reason, long n) {
        return (g, before, wire) -> {
            Map<Drop, Long> after = drops(g);
            assertThat(after.get(reason) - before.get(reason)).as("drops of %s", reason).isEqualTo(n);
            for (Drop d : receiveDrops()) {
                if (d != reason) {
                    assertThat(after.get(d) - before.get(d)).as("unexpected drops of %s (expected only %s)", d, reason).isZero();
                }
            }
        };
    }

    static Outcome dropped(Drop reason) {
        return dropped(reason, 1);
    }

    static Outcome droppedAtLeast(Drop reason, long n) {
        return (g, before, wire) -> assertThat(drops(g).get(reason) - before.get(reason)).as("drops of %s", reason).isGreaterThanOrEqualTo(n);
    }

    /** No receive-side drop, and a frame sent that matches. */
    static Outcome answered(String what, Predicate<byte[]> frame) {
        return noDrops().and(sent(what, frame));
    }

    static Outcome answeredAtLeast(int n, Predicate<byte[]> frame) {
        return noDrops().and((g, before, wire) ->
                assertThat(g.wire.count() - wire).as("frames sent").isGreaterThanOrEqualTo(n));
    }

    static Outcome sent(String what, Predicate<byte[]> frame) {
        return (g, before, wire) -> assertThat(g.wire.recent(wire)).as(what).anyMatch(frame);
    }

    /** Taken by the sink socket, no drop. */
    static Outcome accepted(int datagrams) {
        return noDrops().and((g, before, wire) -> assertThat(g.sinkDatagrams()).as("datagrams at the sink").isEqualTo(datagrams));
    }

    static Outcome acceptedOnly() {
        return noDrops();
    }

    static Outcome nothing() {
        return noDrops().and(nothingSent());
    }

    static Outcome nothingSent() {
        return (g, before, wire) -> assertThat(g.wire.recent(wire)).as("frames the guest sent").isEmpty();
    }

    static Outcome nothingSentBut(Predicate<byte[]> allowed) {
        return (g, before, wire) -> assertThat(g.wire.recent(wire)).as("frames the guest sent").allMatch(allowed);
    }

    static Outcome noDrops() {
        return (g, before, wire) -> {
            Map<Drop, Long> after = drops(g);
            for (Drop d : receiveDrops()) {
                assertThat(after.get(d) - before.get(d)).as("drops of %s", d).isZero();
            }
        };
    }

    static Outcome notCached(int ip) {
        return (g, before, wire) -> assertThat(g.stack.arpLookup(Ipv4Address.of(ip))).as("ARP entry for %s", Ipv4Address.of(ip)).isNull();
    }

    static List<Drop> receiveDrops() {
        List<Drop> out = new ArrayList<>();
        for (var set : List.of(Accounting.ETHERNET_RX, Accounting.ARP_RX, Accounting.IPV4_RX, Accounting.FRAGMENTS,
                Accounting.ICMP_RX, Accounting.UDP_RX, Accounting.SOCKET)) {
            out.addAll(set);
        }
        return out;
    }

    static Map<Drop, Long> drops(Guest g) {
        Map<Drop, Long> out = new EnumMap<>(Drop.class);
        for (Drop d : Drop.values()) {
            out.put(d, g.stack.counters().drops(d));
        }
        return out;
    }

    // --- frames --------------------------------------------------------------------------------

    static byte[] ethernet(int etherType, byte[] payload) {
        return Frames.ethernet(GUEST_MAC.bits(), PEER_MAC.bits(), etherType, payload);
    }

    static byte[] echoRequest(int source, int destination, int dataBytes) {
        byte[] data = new byte[dataBytes];
        for (int i = 0; i < dataBytes; i++) {
            data[i] = (byte) (i * 31 + 7);
        }
        return ethernet(EthernetHeader.TYPE_IPV4, Frames.ipv4(source, destination, Ipv4Header.PROTOCOL_ICMP,
                Frames.icmp(IcmpHeader.TYPE_ECHO_REQUEST, 0, 0x4242, 1, data)));
    }

    static byte[] udp(int port, int payloadBytes) {
        return ethernet(EthernetHeader.TYPE_IPV4, Frames.ipv4(PEER_IP.bits(), GUEST_IP.bits(), Ipv4Header.PROTOCOL_UDP,
                Frames.udp(PEER_IP.bits(), GUEST_IP.bits(), 5555, port, new byte[payloadBytes])));
    }

    static byte[] arp(int operation, long senderMac, int senderIp, int targetIp) {
        return Frames.arpFrame(MacAddress.BROADCAST_BITS, operation, senderMac, senderIp, 0, targetIp);
    }

    /** An ICMP destination unreachable (port) from the peer quoting {@code quote}. */
    static byte[] icmpError(byte[] quote) {
        byte[] message = Frames.icmp(IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE, 0, 0, quote);
        return ethernet(EthernetHeader.TYPE_IPV4, Frames.ipv4(PEER_IP.bits(), GUEST_IP.bits(), Ipv4Header.PROTOCOL_ICMP, message));
    }

    static Predicate<byte[]> isEchoReply() {
        return f -> Frames.isIcmp(f, IcmpHeader.TYPE_ECHO_REPLY, 0) && Frames.icmpChecksumValid(f);
    }

    /** The first fragment of an echo reply carrying {@code dataBytes}, its total (IP) length right. */
    static Predicate<byte[]> isFragmentedEchoReply(int dataBytes) {
        return f -> Frames.isIcmp(f, IcmpHeader.TYPE_ECHO_REPLY, 0) && Frames.ipView(f).fragmentOffsetBytes() == 0
                && Frames.ipView(f).moreFragments();
    }

    static byte[] withDestinationMac(byte[] frame, long mac) {
        byte[] out = frame.clone();
        MacAddress.write(ByteBuffer.wrap(out), 0, mac);
        return out;
    }

    static void putShort(byte[] f, int at, int value) {
        ByteBuffer.wrap(f).putShort(at, (short) value);
    }

    static byte[] withShort(byte[] frame, int at, int value) {
        byte[] out = frame.clone();
        putShort(out, at, value);
        return out;
    }

    static byte[] corrupt(byte[] frame, int at) {
        byte[] out = frame.clone();
        out[at] ^= 0x5a;
        return out;
    }

    /** Applies {@code change} then refills the IPv4 header checksum. */
    static byte[] ipFixed(byte[] frame, Consumer<byte[]> change) {
        byte[] out = frame.clone();
        change.accept(out);
        return ipRefixed(out);
    }

    static byte[] ipRefixed(byte[] f) {
        ByteBuffer b = ByteBuffer.wrap(f);
        int headerLength = Math.max(20, (f[ETH] & 0x0f) * 4);
        if (ETH + headerLength > f.length) {
            headerLength = 20;
        }
        b.putShort(IP_CHECKSUM, (short) 0);
        b.putShort(IP_CHECKSUM, (short) InternetChecksum.compute(b, ETH, headerLength));
        return f;
    }

    /** Applies {@code change} to a UDP frame, then refills the UDP checksum over the IP payload. */
    static byte[] udpFixed(byte[] frame, Consumer<byte[]> change) {
        byte[] out = frame.clone();
        change.accept(out);
        ByteBuffer b = ByteBuffer.wrap(out);
        int length = out.length - L4;
        b.putShort(L4 + 6, (short) 0);
        long sum = InternetChecksum.pseudoHeader(PEER_IP.bits(), GUEST_IP.bits(), Ipv4Header.PROTOCOL_UDP, b.getShort(L4 + 4) & 0xffff);
        int checksum = InternetChecksum.finish(InternetChecksum.add(b, L4, Math.min(length, Math.max(0, b.getShort(L4 + 4) & 0xffff)), sum));
        b.putShort(L4 + 6, (short) (checksum == 0 ? 0xffff : checksum));
        return out;
    }

    static byte[] icmpFixed(byte[] frame, Consumer<byte[]> change) {
        byte[] out = frame.clone();
        change.accept(out);
        ByteBuffer b = ByteBuffer.wrap(out);
        b.putShort(L4 + 2, (short) 0);
        b.putShort(L4 + 2, (short) InternetChecksum.compute(b, L4, out.length - L4));
        return out;
    }

    /** Inserts {@code bytes} of IPv4 options (NOPs) after the 20-byte header. */
    static byte[] withOptions(byte[] frame, int bytes) {
        byte[] out = new byte[frame.length + bytes];
        System.arraycopy(frame, 0, out, 0, L4);
        Arrays.fill(out, L4, L4 + bytes, (byte) 1);
        System.arraycopy(frame, L4, out, L4 + bytes, frame.length - L4);
        out[ETH] = (byte) (0x40 | (20 + bytes) / 4);
        putShort(out, IP_TOTAL_LENGTH, out.length - ETH);
        return ipRefixed(out);
    }

    /** The datagram's IP payload bytes [offset, offset + length) as one fragment frame. */
    static byte[] fragment(byte[] datagramFrame, int offset, int length, boolean more) {
        byte[] out = new byte[L4 + length];
        System.arraycopy(datagramFrame, 0, out, 0, L4);
        System.arraycopy(datagramFrame, L4 + offset, out, L4, length);
        putShort(out, IP_TOTAL_LENGTH, 20 + length);
        putShort(out, IP_FLAGS, (more ? Ipv4Header.FLAG_MORE_FRAGMENTS : 0) | offset / 8);
        return ipRefixed(out);
    }

    static List<byte[]> fragments(byte[] datagramFrame, int size) {
        List<byte[]> out = new ArrayList<>();
        int payload = datagramFrame.length - L4;
        for (int offset = 0; offset < payload; offset += size) {
            int length = Math.min(size, payload - offset);
            out.add(fragment(datagramFrame, offset, length, offset + length < payload));
        }
        return out;
    }

    static byte[] withFragmentField(byte[] frame, int offsetUnits) {
        byte[] out = frame.clone();
        ByteBuffer b = ByteBuffer.wrap(out);
        putShort(out, IP_FLAGS, (b.getShort(IP_FLAGS) & Ipv4Header.FLAG_MORE_FRAGMENTS) | offsetUnits);
        return ipRefixed(out);
    }

    static byte[] withId(byte[] frame, int id) {
        byte[] out = frame.clone();
        putShort(out, ETH + 4, id);
        return ipRefixed(out);
    }
}
