package dev.netstack.socket;

/** The destination answered with ICMP port unreachable: nothing listens on that UDP port. */
public class PortUnreachableException extends NetworkException {
    private static final long serialVersionUID = 1L;

    public PortUnreachableException(String message) {
        super(message);
    }
}
