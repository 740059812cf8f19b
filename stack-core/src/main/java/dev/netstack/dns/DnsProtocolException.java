package dev.netstack.dns;

/**
 * A response that breaks the protocol (or, in strict mode, the nettests rules): truncated or
 * corrupt, wrong id, wrong question, unexpected records. {@link #expected()} and {@link #actual()}
 * say what should have come and what did.
 */
public class DnsProtocolException extends DnsException {
    private static final long serialVersionUID = 1L;

    private final String expected;
    private final String actual;

    public DnsProtocolException(String what, String expected, String actual) {
        super(what + ": expected " + expected + ", got " + actual);
        this.expected = expected;
        this.actual = actual;
    }

    public DnsProtocolException(String message, Throwable cause) {
        super(message, cause);
        this.expected = null;
        this.actual = null;
    }

    /** What the check wanted, or null when the message could not be parsed at all. */
    public String expected() {
        return expected;
    }

    /** What the response had instead, or null when the message could not be parsed at all. */
    public String actual() {
        return actual;
    }
}
