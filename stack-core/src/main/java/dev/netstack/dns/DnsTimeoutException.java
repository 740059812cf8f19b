package dev.netstack.dns;

/** No matching response came from the server within the timeout. */
public class DnsTimeoutException extends DnsException {
    private static final long serialVersionUID = 1L;

    public DnsTimeoutException(String message) {
        super(message);
    }
}
