package dev.netstack.metrics;

/**
 * Every reason the stack drops a packet, with the layer that drops it. The set is closed, so the
 * {@code reason} tag of {@code netstack.drops} stays bounded.
 */
public enum Drop {
    ETHERNET_RUNT(Layer.ETHERNET, "runt"),
    ETHERNET_NOT_FOR_US(Layer.ETHERNET, "not_for_us"),
    ETHERNET_UNKNOWN_TYPE(Layer.ETHERNET, "unknown_type"),
    ETHERNET_TX_RING_FULL(Layer.ETHERNET, "tx_ring_full"),
    ETHERNET_TX_LINK_DOWN(Layer.ETHERNET, "tx_link_down"),

    ARP_MALFORMED(Layer.ARP, "malformed"),
    ARP_BAD_SENDER(Layer.ARP, "bad_sender"),
    ARP_NOT_FOR_US(Layer.ARP, "not_for_us"),
    ARP_QUEUE_FULL(Layer.ARP, "queue_full"),
    ARP_UNRESOLVED(Layer.ARP, "unresolved"),

    IPV4_MALFORMED(Layer.IPV4, "malformed"),
    IPV4_BAD_CHECKSUM(Layer.IPV4, "bad_checksum"),
    IPV4_BAD_LENGTH(Layer.IPV4, "bad_length"),
    IPV4_NOT_FOR_US(Layer.IPV4, "not_for_us"),
    IPV4_MARTIAN_SOURCE(Layer.IPV4, "martian_source"),
    IPV4_UNKNOWN_PROTOCOL(Layer.IPV4, "unknown_protocol"),
    /** Fragment drops are counted by the reassembler (per fragment) and read from it. */
    IPV4_FRAGMENT_TIMEOUT(Layer.IPV4, "fragment_timeout"),
    IPV4_FRAGMENT_TOO_LARGE(Layer.IPV4, "fragment_too_large"),
    IPV4_FRAGMENT_OVERLAP_CONFLICT(Layer.IPV4, "fragment_overlap_conflict"),
    IPV4_FRAGMENT_DUPLICATE(Layer.IPV4, "fragment_duplicate"),
    IPV4_FRAGMENT_NO_ROOM(Layer.IPV4, "fragment_no_room"),
    IPV4_FRAGMENT_BAD(Layer.IPV4, "fragment_bad"),
    IPV4_NO_BUFFER(Layer.IPV4, "no_buffer"),
    IPV4_NO_ROUTE(Layer.IPV4, "no_route"),

    ICMP_MALFORMED(Layer.ICMP, "malformed"),
    ICMP_BAD_CHECKSUM(Layer.ICMP, "bad_checksum"),
    ICMP_UNHANDLED_TYPE(Layer.ICMP, "unhandled_type"),
    ICMP_UNMATCHED_REPLY(Layer.ICMP, "unmatched_reply"),
    ICMP_RATE_LIMITED(Layer.ICMP, "rate_limited"),

    UDP_MALFORMED(Layer.UDP, "malformed"),
    UDP_BAD_CHECKSUM(Layer.UDP, "bad_checksum"),
    UDP_NO_SOCKET(Layer.UDP, "no_socket"),
    UDP_QUEUE_FULL(Layer.UDP, "queue_full"),
    UDP_SOCKET_CLOSED(Layer.UDP, "socket_closed");

    private final Layer layer;
    private final String reason;

    Drop(Layer layer, String reason) {
        this.layer = layer;
        this.reason = reason;
    }

    public Layer layer() {
        return layer;
    }

    /** The value of the metric's {@code reason} tag. */
    public String reason() {
        return reason;
    }
}
