package dev.netstack.dns;

import dev.netstack.socket.NetworkException;

/** A DNS query that did not produce a usable answer; the subclasses say why. */
public class DnsException extends NetworkException {
    private static final long serialVersionUID = 1L;

    public DnsException(String message) {
        super(message);
    }

    public DnsException(String message, Throwable cause) {
        super(message, cause);
    }
}
