package dev.netstack.metrics;

import java.util.Locale;

/** The protocol layers that count packets in and out. */
public enum Layer {
    ETHERNET, ARP, IPV4, ICMP, UDP;

    /** The value of the metric's {@code layer} tag. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
