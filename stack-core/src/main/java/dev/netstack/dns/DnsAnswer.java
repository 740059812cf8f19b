package dev.netstack.dns;

import dev.netstack.wire.Ipv4Address;
import io.netty.handler.codec.dns.DnsRecordType;

/**
 * One resource record of a response (answer, authority or additional section).
 *
 * @param name     owner name with its trailing dot, compression pointers already followed
 * @param type     record type
 * @param dnsClass class (1 = IN; for an EDNS0 OPT record, the sender's UDP payload size)
 * @param ttl      time to live in seconds (for OPT, the extended rcode and flags)
 * @param rdata    the raw record data
 * @param data     the data as dig prints it: an address, a name, or hex
 */
public record DnsAnswer(String name, DnsRecordType type, int dnsClass, long ttl, byte[] rdata, String data) {
    public static final int CLASS_IN = 1;

    /** The IPv4 address of an A record, or null for any other record. */
    public Ipv4Address address() {
        if (!DnsRecordType.A.equals(type) || rdata.length != 4) {
            return null;
        }
        return Ipv4Address.of(rdata[0] & 0xff, rdata[1] & 0xff, rdata[2] & 0xff, rdata[3] & 0xff);
    }

    /** The class as dig prints it: IN, CH, HS or CLASSn. */
    public String className() {
        return DnsResponse.className(dnsClass);
    }
}
