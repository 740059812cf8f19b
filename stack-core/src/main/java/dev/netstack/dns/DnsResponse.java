package dev.netstack.dns;

import dev.netstack.wire.Ipv4Address;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A parsed DNS response (RFC 1035 §4.1), with what {@code dig} prints about it.
 *
 * <pre>
 *  header flags word (bits 15..0):
 *  +--+----+--+--+--+--+--+--+--+-----+
 *  |QR|OPCODE|AA|TC|RD|RA| Z|AD|CD|RCODE|
 *  +--+----+--+--+--+--+--+--+--+-----+
 *   15 14-11 10  9  8  7  6  5  4  3-0
 * </pre>
 *
 * @param id            the message id
 * @param flags         the header's second 16-bit word: QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode
 * @param questions     the question section
 * @param answers       the answer section
 * @param authorities   the authority section
 * @param additionals   the additional section (an EDNS0 OPT pseudo-record shows up here)
 * @param messageLength bytes in the received datagram
 * @param queryTime     from sending the query to receiving this response
 * @param server        who answered
 * @param serverPort    the port it answered from
 */
public record DnsResponse(int id, int flags, List<DnsQuestionEntry> questions, List<DnsAnswer> answers,
                          List<DnsAnswer> authorities, List<DnsAnswer> additionals, int messageLength,
                          Duration queryTime, Ipv4Address server, int serverPort) {
    public static final int FLAG_QR = 0x8000;
    public static final int FLAG_AA = 0x0400;
    public static final int FLAG_TC = 0x0200;
    public static final int FLAG_RD = 0x0100;
    public static final int FLAG_RA = 0x0080;
    public static final int FLAG_AD = 0x0020;
    public static final int FLAG_CD = 0x0010;

    public static final int RCODE_NOERROR = 0;
    public static final int RCODE_FORMERR = 1;
    public static final int RCODE_SERVFAIL = 2;
    public static final int RCODE_NXDOMAIN = 3;
    public static final int RCODE_NOTIMP = 4;
    public static final int RCODE_REFUSED = 5;

    private static final String[] RCODE_NAMES = {
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
    };
    private static final String[] OPCODE_NAMES = {"QUERY", "IQUERY", "STATUS", "RESERVED3", "NOTIFY", "UPDATE"};

    public DnsResponse {
        questions = List.copyOf(questions);
        answers = List.copyOf(answers);
        authorities = List.copyOf(authorities);
        additionals = List.copyOf(additionals);
    }

    /** The response code (the low 4 bits of the flags word). */
    public int rcode() {
        return flags & 0xf;
    }

    /** NOERROR, NXDOMAIN, ... as dig prints the status. */
    public String rcodeName() {
        return rcodeName(rcode());
    }

    public static String rcodeName(int rcode) {
        return rcode < RCODE_NAMES.length ? RCODE_NAMES[rcode] : "RCODE" + rcode;
    }

    public int opcode() {
        return (flags >>> 11) & 0xf;
    }

    public String opcodeName() {
        int opcode = opcode();
        return opcode < OPCODE_NAMES.length ? OPCODE_NAMES[opcode] : "OPCODE" + opcode;
    }

    public boolean isResponse() {
        return (flags & FLAG_QR) != 0;
    }

    public boolean isTruncated() {
        return (flags & FLAG_TC) != 0;
    }

    /** The set flags as dig lists them, e.g. {@code qr rd ra}. */
    public String flagNames() {
        StringBuilder names = new StringBuilder();
        append(names, FLAG_QR, "qr");
        append(names, FLAG_AA, "aa");
        append(names, FLAG_TC, "tc");
        append(names, FLAG_RD, "rd");
        append(names, FLAG_RA, "ra");
        append(names, FLAG_AD, "ad");
        append(names, FLAG_CD, "cd");
        return names.toString();
    }

    private void append(StringBuilder names, int flag, String name) {
        if ((flags & flag) != 0) {
            if (names.length() > 0) {
                names.append(' ');
            }
            names.append(name);
        }
    }

    /** The addresses of the answer section's A records, in order. */
    public List<Ipv4Address> addresses() {
        List<Ipv4Address> addresses = new ArrayList<>();
        for (DnsAnswer answer : answers) {
            Ipv4Address address = answer.address();
            if (address != null) {
                addresses.add(address);
            }
        }
        return addresses;
    }

    static String className(int dnsClass) {
        switch (dnsClass) {
            case 1:
                return "IN";
            case 3:
                return "CH";
            case 4:
                return "HS";
            default:
                return "CLASS" + dnsClass;
        }
    }
}
