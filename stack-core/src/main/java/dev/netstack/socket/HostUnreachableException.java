package dev.netstack.socket;

/** The destination (or the gateway towards it) did not answer ARP, or an ICMP host-unreachable came back. */
public class HostUnreachableException extends NetworkException {
    private static final long serialVersionUID = 1L;

    public HostUnreachableException(String message) {
        super(message);
    }
}
