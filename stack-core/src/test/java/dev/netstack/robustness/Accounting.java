package dev.netstack.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.ipv4.Reassembler;
import dev.netstack.metrics.Drop;
import dev.netstack.metrics.Layer;
import dev.netstack.metrics.StackCounters;
import java.util.EnumSet;
import java.util.Set;

/**
 * The receive-side conservation law of a stack: every packet a layer counted in was either accepted
 * (passed up, queued, answered or used) or dropped for a reason the layer counted. Checked layer by
 * layer once the pipeline is quiet (nothing half-processed), with the counters of
 * {@link StackCounters} and the stack's {@link Reassembler}:
 *
 * <pre>
 *  Ethernet  in = ARP in + IPv4 in + drops{runt, not_for_us, unknown_type}
 *  ARP       in = accepted + drops{malformed, bad_sender, not_for_us}
 *  IPv4      in = accepted + drops{malformed, bad_checksum, bad_length, not_for_us, unknown_protocol}
 *                 + fragments taken by the reassembler - datagrams it reassembled
 *            accepted = UDP in + ICMP in
 *  fragments taken >= fragment drops (all six reasons) + fragments held + datagrams reassembled
 *            (each reassembled datagram used at least one fragment; the exact law, with the fragments
 *             inside reassembled chains, is the reassembler's own and is property-tested there)
 *  ICMP      in = accepted + drops{malformed, bad_checksum, unhandled_type, unmatched_reply}
 *  UDP       in = accepted + drops{malformed, bad_checksum, no_socket}
 *            accepted = datagrams queued on sockets + read from them + drops{queue_full, socket_closed}
 * </pre>
 *
 * Why IPv4 counts that way: a fragment is one packet in but not (yet) one datagram up; the
 * reassembler takes it, and a datagram it completes re-enters the switch on protocol as one
 * packet. Transmit-side drops ({@code tx_*}, ARP queue_full/unresolved, IPv4 no_buffer/no_route,
 * ICMP rate_limited) concern packets the stack sends, so they are outside this law.
 */
public final class Accounting {
    static final Set<Drop> ETHERNET_RX = EnumSet.of(Drop.ETHERNET_RUNT, Drop.ETHERNET_NOT_FOR_US, Drop.ETHERNET_UNKNOWN_TYPE);
    static final Set<Drop> ARP_RX = EnumSet.of(Drop.ARP_MALFORMED, Drop.ARP_BAD_SENDER, Drop.ARP_NOT_FOR_US);
    static final Set<Drop> IPV4_RX = EnumSet.of(Drop.IPV4_MALFORMED, Drop.IPV4_BAD_CHECKSUM, Drop.IPV4_BAD_LENGTH,
            Drop.IPV4_NOT_FOR_US, Drop.IPV4_MARTIAN_SOURCE, Drop.IPV4_UNKNOWN_PROTOCOL);
    static final Set<Drop> FRAGMENTS = EnumSet.of(Drop.IPV4_FRAGMENT_TIMEOUT, Drop.IPV4_FRAGMENT_TOO_LARGE,
            Drop.IPV4_FRAGMENT_OVERLAP_CONFLICT, Drop.IPV4_FRAGMENT_DUPLICATE, Drop.IPV4_FRAGMENT_NO_ROOM,
            Drop.IPV4_FRAGMENT_BAD);
    static final Set<Drop> ICMP_RX = EnumSet.of(Drop.ICMP_MALFORMED, Drop.ICMP_BAD_CHECKSUM, Drop.ICMP_UNHANDLED_TYPE,
            Drop.ICMP_UNMATCHED_REPLY);
    static final Set<Drop> UDP_RX = EnumSet.of(Drop.UDP_MALFORMED, Drop.UDP_BAD_CHECKSUM, Drop.UDP_NO_SOCKET);
    static final Set<Drop> SOCKET = EnumSet.of(Drop.UDP_QUEUE_FULL, Drop.UDP_SOCKET_CLOSED);

    private Accounting() {
    }

    static long sum(StackCounters c, Set<Drop> reasons) {
        long total = 0;
        for (Drop d : reasons) {
            total += c.drops(d);
        }
        return total;
    }

    /**
     * Asserts the law above. {@code socketDatagrams} is what the test's sockets hold or handed out
     * (read + still queued); pass -1 to skip the socket line (when sockets were closed with data queued).
     */
    public static void assertBalanced(StackCounters c, Reassembler reassembler, long socketDatagrams) {
        // checked with plain comparisons first: the fuzzer calls this for every input
        long fragmentDrops = sum(c, FRAGMENTS);
        boolean balanced = c.packetsIn(Layer.ETHERNET) == c.packetsIn(Layer.ARP) + c.packetsIn(Layer.IPV4) + sum(c, ETHERNET_RX)
                && c.packetsIn(Layer.ARP) == c.packetsAccepted(Layer.ARP) + sum(c, ARP_RX)
                && c.packetsIn(Layer.IPV4) + reassembler.reassembled()
                        == c.packetsAccepted(Layer.IPV4) + sum(c, IPV4_RX) + reassembler.received()
                && c.packetsAccepted(Layer.IPV4) == c.packetsIn(Layer.UDP) + c.packetsIn(Layer.ICMP)
                && reassembler.received() >= fragmentDrops + reassembler.heldBuffers() + reassembler.reassembled()
                && c.packetsIn(Layer.ICMP) == c.packetsAccepted(Layer.ICMP) + sum(c, ICMP_RX)
                && c.packetsIn(Layer.UDP) == c.packetsAccepted(Layer.UDP) + sum(c, UDP_RX)
                && (socketDatagrams < 0 || c.packetsAccepted(Layer.UDP) == socketDatagrams + sum(c, SOCKET));
        if (balanced) {
            return;
        }
        String state = "\n" + c.snapshot() + accepted(c) + "reassembler: taken " + reassembler.received()
                + ", reassembled " + reassembler.reassembled() + ", held " + reassembler.heldBuffers()
                + "; socket datagrams " + socketDatagrams;
        assertThat(c.packetsIn(Layer.ETHERNET)).as("Ethernet in = ARP in + IPv4 in + Ethernet drops%s", state)
                .isEqualTo(c.packetsIn(Layer.ARP) + c.packetsIn(Layer.IPV4) + sum(c, ETHERNET_RX));
        assertThat(c.packetsIn(Layer.ARP)).as("ARP in = accepted + ARP drops%s", state)
                .isEqualTo(c.packetsAccepted(Layer.ARP) + sum(c, ARP_RX));
        assertThat(c.packetsIn(Layer.IPV4) + reassembler.reassembled())
                .as("IPv4 in + reassembled = accepted + IPv4 drops + fragments taken%s", state)
                .isEqualTo(c.packetsAccepted(Layer.IPV4) + sum(c, IPV4_RX) + reassembler.received());
        assertThat(c.packetsAccepted(Layer.IPV4)).as("IPv4 accepted = UDP in + ICMP in%s", state)
                .isEqualTo(c.packetsIn(Layer.UDP) + c.packetsIn(Layer.ICMP));
        assertThat(reassembler.received()).as("fragments taken >= dropped + held + reassembled%s", state)
                .isGreaterThanOrEqualTo(fragmentDrops + reassembler.heldBuffers() + reassembler.reassembled());
        assertThat(c.packetsIn(Layer.ICMP)).as("ICMP in = accepted + ICMP drops%s", state)
                .isEqualTo(c.packetsAccepted(Layer.ICMP) + sum(c, ICMP_RX));
        assertThat(c.packetsIn(Layer.UDP)).as("UDP in = accepted + UDP drops%s", state)
                .isEqualTo(c.packetsAccepted(Layer.UDP) + sum(c, UDP_RX));
        assertThat(c.packetsAccepted(Layer.UDP)).as("UDP accepted = socket datagrams + socket drops%s", state)
                .isEqualTo(socketDatagrams + sum(c, SOCKET));
    }

    private static String accepted(StackCounters c) {
        StringBuilder out = new StringBuilder("accepted:");
        for (Layer l : Layer.values()) {
            out.append(' ').append(l.tag()).append('=').append(c.packetsAccepted(l));
        }
        return out.append('\n').toString();
    }
}
