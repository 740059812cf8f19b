package dev.netstack.icmp;

import dev.netstack.wire.Ipv4Address;
import java.time.Duration;

/**
 * One answered echo request.
 *
 * @param from     who answered
 * @param sequence the echo sequence number
 * @param bytes    ICMP bytes in the reply (header and data), as ping prints them
 * @param ttl      the TTL of the reply's IP header
 * @param rttNanos round-trip time
 */
public record PingReply(Ipv4Address from, int sequence, int bytes, int ttl, long rttNanos) {
    public Duration rtt() {
        return Duration.ofNanos(rttNanos);
    }

    /** Round-trip time in milliseconds with microsecond precision, as ping prints it. */
    public double rttMillis() {
        return rttNanos / 1_000_000.0;
    }
}
