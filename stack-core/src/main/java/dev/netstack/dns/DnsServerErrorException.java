package dev.netstack.dns;

/** The server answered, with a response code other than NOERROR (e.g. NXDOMAIN: no such name). */
public class DnsServerErrorException extends DnsException {
    private static final long serialVersionUID = 1L;

    private final DnsResponse response;

    public DnsServerErrorException(String message, DnsResponse response) {
        super(message);
        this.response = response;
    }

    public DnsResponse response() {
        return response;
    }

    public int rcode() {
        return response.rcode();
    }
}
