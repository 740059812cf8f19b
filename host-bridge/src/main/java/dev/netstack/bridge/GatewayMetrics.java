package dev.netstack.bridge;

import dev.netstack.bridge.dns.DnsService;
import dev.netstack.ipv4.Reassembler;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.concurrent.atomic.LongAdder;

/**
 * The counters of one {@link SlirpGateway} and their Micrometer binding. The gateway's event loop
 * is the only writer of most counters; a scrape reads them from any thread.
 *
 * <p>Meters (tag {@code gateway} = the gateway's name on every one):
 * <ul>
 *   <li>{@code netstack.gateway.flows} (gauge) open UDP NAT flows; {@code netstack.gateway.flows.opened},
 *       {@code .expired}, {@code .evicted};</li>
 *   <li>{@code netstack.gateway.packets} and {@code netstack.gateway.bytes} (UDP payload bytes) with
 *       {@code direction} = {@code guest_to_host} or {@code host_to_guest};</li>
 *   <li>{@code netstack.gateway.icmp.echo.replies}, {@code netstack.gateway.icmp.errors} sent to the guest;</li>
 *   <li>{@code netstack.gateway.segmented.sends} and {@code .segmented.packets}: host sends that carried
 *       several guest datagrams at once (UDP GSO) and the datagrams in them;
 *       {@code netstack.gateway.segmentation.fallbacks}: flows back to one send per datagram;</li>
 *   <li>{@code netstack.gateway.dns.queries}, {@code .answers}, {@code .failures} as the gateway saw
 *       them (the DNS service's own meters are bound too when it has them);</li>
 *   <li>{@code netstack.gateway.drops} with a bounded {@code reason} tag ({@link DropReason});</li>
 *   <li>{@code netstack.gateway.reassembly.drops} with the reassembler's own reasons.</li>
 * </ul>
 */
public final class GatewayMetrics implements MeterBinder {
    /** Why the gateway dropped a frame or datagram; the {@code reason} tag of {@code netstack.gateway.drops}. */
    public enum DropReason {
        /** Frame too short for its headers, or longer than a buffer. */
        RUNT("runt"),
        /** Ethernet destination is neither the gateway's MACs nor broadcast. */
        NOT_FOR_US("not_for_us"),
        /** IPv4 header malformed: version, length or total length lie. */
        BAD_HEADER("bad_header"),
        /** IPv4, UDP or ICMP checksum wrong. */
        BAD_CHECKSUM("bad_checksum"),
        /** A protocol or message type the gateway does not relay (TCP, IPv6, ICMP to a host address, ...). */
        UNSUPPORTED("unsupported"),
        /** To an address on the guest network that is not the gateway's, or a broadcast. */
        NO_ROUTE("no_route"),
        /** TTL ran out at the gateway; ICMP time exceeded went back. */
        TTL_EXCEEDED("ttl_exceeded"),
        /** The gateway's frame buffers were all in use. */
        NO_BUFFER("no_buffer"),
        /** The guest did not answer the gateway's ARP request within the timeout. */
        ARP_TIMEOUT("arp_timeout"),
        /** Too many frames already waited for ARP. */
        ARP_QUEUE_FULL("arp_queue_full"),
        /** A host socket could not be opened, or refused a datagram. */
        SEND_FAILED("send_failed"),
        /** A host socket's outbound queue was full, or a flow's datagrams waiting for its socket. */
        SEND_QUEUE_FULL("send_queue_full"),
        /** The host answered port unreachable; ICMP port unreachable went back. */
        PORT_UNREACHABLE("port_unreachable"),
        /** No peer attached to take frames for the guest. */
        NO_PEER("no_peer"),
        /** DNS query while no DNS service is configured, or the service failed. */
        DNS_UNAVAILABLE("dns_unavailable"),
        /** The gateway is closed. */
        CLOSED("closed"),
        /** A bug in the gateway's own handling of a guest frame: the frame was dropped and the error logged. */
        INTERNAL_ERROR("internal_error");

        private final String tag;

        DropReason(String tag) {
            this.tag = tag;
        }

        public String tag() {
            return tag;
        }
    }

    private final String name;
    private final LongAdder[] drops = new LongAdder[DropReason.values().length];

    final LongAdder guestToHostPackets = new LongAdder();
    final LongAdder guestToHostBytes = new LongAdder();
    final LongAdder hostToGuestPackets = new LongAdder();
    final LongAdder hostToGuestBytes = new LongAdder();
    final LongAdder echoReplies = new LongAdder();
    final LongAdder icmpErrors = new LongAdder();
    final LongAdder dnsQueries = new LongAdder();
    final LongAdder dnsAnswers = new LongAdder();
    final LongAdder dnsFailures = new LongAdder();
    final LongAdder flowsOpened = new LongAdder();
    final LongAdder flowsExpired = new LongAdder();
    final LongAdder flowsEvicted = new LongAdder();
    final LongAdder arpRequests = new LongAdder();
    final LongAdder segmentedSends = new LongAdder();
    final LongAdder segmentedDatagrams = new LongAdder();
    final LongAdder segmentationFallbacks = new LongAdder();
    volatile int openFlows;

    private volatile Reassembler reassembler;
    private volatile DnsService dnsService;

    GatewayMetrics(String name) {
        this.name = name;
        for (int i = 0; i < drops.length; i++) {
            drops[i] = new LongAdder();
        }
    }

    void attach(Reassembler reassembler, DnsService dnsService) {
        this.reassembler = reassembler;
        this.dnsService = dnsService;
    }

    void drop(DropReason reason) {
        drops[reason.ordinal()].increment();
    }

    /** {@code count} datagrams dropped at once for {@code reason} (the datagrams of one segmented send). */
    void drop(DropReason reason, int count) {
        drops[reason.ordinal()].add(count);
    }

    public long drops(DropReason reason) {
        return drops[reason.ordinal()].sum();
    }

    public long guestToHostPackets() {
        return guestToHostPackets.sum();
    }

    public long guestToHostBytes() {
        return guestToHostBytes.sum();
    }

    public long hostToGuestPackets() {
        return hostToGuestPackets.sum();
    }

    public long hostToGuestBytes() {
        return hostToGuestBytes.sum();
    }

    public long echoReplies() {
        return echoReplies.sum();
    }

    /** ICMP errors (time exceeded, port unreachable) sent to the guest. */
    public long icmpErrors() {
        return icmpErrors.sum();
    }

    public long dnsQueries() {
        return dnsQueries.sum();
    }

    public long dnsAnswers() {
        return dnsAnswers.sum();
    }

    public long dnsFailures() {
        return dnsFailures.sum();
    }

    public int openFlows() {
        return openFlows;
    }

    public long flowsOpened() {
        return flowsOpened.sum();
    }

    public long flowsExpired() {
        return flowsExpired.sum();
    }

    public long flowsEvicted() {
        return flowsEvicted.sum();
    }

    public long arpRequests() {
        return arpRequests.sum();
    }

    /** Host sends that carried several guest datagrams as one segmented send (UDP GSO). */
    public long segmentedSends() {
        return segmentedSends.sum();
    }

    /** Guest datagrams that left in segmented sends; the rest of {@link #guestToHostPackets} left one per send. */
    public long segmentedDatagrams() {
        return segmentedDatagrams.sum();
    }

    /** Flows that went back to one send per datagram after a segmented send failed. */
    public long segmentationFallbacks() {
        return segmentationFallbacks.sum();
    }

    /** Fragments the gateway's reassembler discarded for {@code reason}. */
    public long reassemblyDrops(Reassembler.DropReason reason) {
        Reassembler r = reassembler;
        return r == null ? 0 : r.dropped(reason);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Gauge.builder("netstack.gateway.flows", this, GatewayMetrics::openFlows).tag("gateway", name)
                .baseUnit("flows").description("open UDP NAT flows").register(registry);
        counter(registry, "netstack.gateway.flows.opened", flowsOpened, "flows");
        counter(registry, "netstack.gateway.flows.expired", flowsExpired, "flows");
        counter(registry, "netstack.gateway.flows.evicted", flowsEvicted, "flows");
        FunctionCounter.builder("netstack.gateway.packets", guestToHostPackets, LongAdder::sum)
                .tags("gateway", name, "direction", "guest_to_host").baseUnit("packets").register(registry);
        FunctionCounter.builder("netstack.gateway.packets", hostToGuestPackets, LongAdder::sum)
                .tags("gateway", name, "direction", "host_to_guest").baseUnit("packets").register(registry);
        FunctionCounter.builder("netstack.gateway.bytes", guestToHostBytes, LongAdder::sum)
                .tags("gateway", name, "direction", "guest_to_host").baseUnit("bytes").register(registry);
        FunctionCounter.builder("netstack.gateway.bytes", hostToGuestBytes, LongAdder::sum)
                .tags("gateway", name, "direction", "host_to_guest").baseUnit("bytes").register(registry);
        counter(registry, "netstack.gateway.icmp.echo.replies", echoReplies, "packets");
        counter(registry, "netstack.gateway.icmp.errors", icmpErrors, "packets");
        counter(registry, "netstack.gateway.arp.requests", arpRequests, "packets");
        counter(registry, "netstack.gateway.segmented.sends", segmentedSends, "sends");
        counter(registry, "netstack.gateway.segmented.packets", segmentedDatagrams, "packets");
        counter(registry, "netstack.gateway.segmentation.fallbacks", segmentationFallbacks, "flows");
        counter(registry, "netstack.gateway.dns.queries", dnsQueries, "queries");
        counter(registry, "netstack.gateway.dns.answers", dnsAnswers, "responses");
        counter(registry, "netstack.gateway.dns.failures", dnsFailures, "queries");
        for (DropReason reason : DropReason.values()) {
            FunctionCounter.builder("netstack.gateway.drops", drops[reason.ordinal()], LongAdder::sum)
                    .tags("gateway", name, "reason", reason.tag()).baseUnit("packets").register(registry);
        }
        for (Reassembler.DropReason reason : Reassembler.DropReason.values()) {
            FunctionCounter.builder("netstack.gateway.reassembly.drops", this, m -> m.reassemblyDrops(reason))
                    .tags("gateway", name, "reason", reason.tag()).baseUnit("fragments").register(registry);
        }
        DnsService dns = dnsService;
        if (dns != null) {
            dns.bindTo(registry);
        }
    }

    private void counter(MeterRegistry registry, String meter, LongAdder adder, String unit) {
        FunctionCounter.builder(meter, adder, LongAdder::sum).tag("gateway", name).baseUnit(unit).register(registry);
    }

    @Override
    public String toString() {
        return "GatewayMetrics[" + name + " flows=" + openFlows + " g2h=" + guestToHostPackets.sum()
                + " h2g=" + hostToGuestPackets.sum() + "]";
    }

}
