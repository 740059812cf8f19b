package dev.netstack.dns;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRecordDecoder;
import io.netty.handler.codec.dns.DnsPtrRecord;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRawRecord;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordDecoder;
import io.netty.handler.codec.dns.DnsRecordEncoder;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Encodes queries and decodes responses with Netty's DNS record codec. The 12-byte header is
 * written and read here; names, questions and records go through {@link DnsRecordEncoder} and
 * {@link DnsRecordDecoder}, which follow compression pointers (RFC 1035 §4.1.4) and reject loops
 * and pointers out of the message.
 *
 * <pre>
 *  0       8       16      24      32
 * +-------+-------+-------+-------+
 * |      id       |     flags     |
 * +-------+-------+-------+-------+
 * |    QDCOUNT    |    ANCOUNT    |
 * +-------+-------+-------+-------+
 * |    NSCOUNT    |    ARCOUNT    |
 * +-------+-------+-------+-------+   12: questions, answers, authorities, additionals
 * </pre>
 */
final class DnsMessages {
    static final int HEADER_LENGTH = 12;
    private static final int MAX_NAME_LENGTH = 253;
    private static final int MAX_LABEL_LENGTH = 63;

    private DnsMessages() {
    }

    /** A decoded message and how many bytes decoding consumed, to compare with what arrived. */
    record Decoded(DnsResponse response, int parsedLength, int questionCount, int answerCount, int authorityCount,
                   int additionalCount) {
    }

    /** The name as it goes in a question: lower-cased labels checked against RFC 1035 limits, with the root dot. */
    static String qualify(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a DNS name must not be empty");
        }
        String trimmed = name.trim();
        if (trimmed.equals(".")) {
            return ".";
        }
        String bare = trimmed.endsWith(".") ? trimmed.substring(0, trimmed.length() - 1) : trimmed;
        if (bare.length() > MAX_NAME_LENGTH) {
            throw new IllegalArgumentException("DNS name \"" + name + "\" is longer than " + MAX_NAME_LENGTH + " characters");
        }
        for (String label : bare.split("\\.", -1)) {
            if (label.isEmpty()) {
                throw new IllegalArgumentException("DNS name \"" + name + "\" has an empty label");
            }
            if (label.length() > MAX_LABEL_LENGTH) {
                throw new IllegalArgumentException("DNS name \"" + name + "\" has a label longer than " + MAX_LABEL_LENGTH);
            }
            for (int i = 0; i < label.length(); i++) {
                char c = label.charAt(i);
                if (c <= ' ' || c >= 0x7f) {
                    throw new IllegalArgumentException("DNS name \"" + name + "\" has a character that is not printable ASCII");
                }
            }
        }
        return bare + ".";
    }

    /** A standard query for one question; recursion desired when {@code recursionDesired}. */
    static ByteBuffer encodeQuery(int id, String qualifiedName, DnsRecordType type, boolean recursionDesired) {
        ByteBuf out = Unpooled.buffer(HEADER_LENGTH + qualifiedName.length() + 6);
        try {
            out.writeShort(id);
            out.writeShort(recursionDesired ? DnsResponse.FLAG_RD : 0);
            out.writeShort(1);   // QDCOUNT
            out.writeShort(0);   // ANCOUNT
            out.writeShort(0);   // NSCOUNT
            out.writeShort(0);   // ARCOUNT
            DnsRecordEncoder.DEFAULT.encodeQuestion(new DefaultDnsQuestion(qualifiedName, type), out);
            byte[] bytes = ByteBufUtil.getBytes(out);
            return ByteBuffer.wrap(bytes);
        } catch (Exception e) {
            throw new IllegalArgumentException("cannot encode a query for " + qualifiedName + ": " + e.getMessage(), e);
        } finally {
            out.release();
        }
    }

    /**
     * Decodes the whole message in {@code message[0, length)}.
     *
     * @throws DnsProtocolException when the message is shorter than its counts say or a name is corrupt
     */
    static Decoded decode(byte[] message, int length, Duration queryTime, dev.netstack.wire.Ipv4Address server, int port) {
        if (length < HEADER_LENGTH) {
            throw new DnsProtocolException("DNS message too short", "at least " + HEADER_LENGTH + " bytes (a header)",
                    length + " bytes");
        }
        ByteBuf in = Unpooled.wrappedBuffer(message, 0, length);
        int id = in.readUnsignedShort();
        int flags = in.readUnsignedShort();
        int qdCount = in.readUnsignedShort();
        int anCount = in.readUnsignedShort();
        int nsCount = in.readUnsignedShort();
        int arCount = in.readUnsignedShort();
        try {
            List<DnsQuestionEntry> questions = new ArrayList<>(Math.min(qdCount, 16));
            for (int i = 0; i < qdCount; i++) {
                if (!in.isReadable()) {
                    throw truncated("question", i, qdCount, length);
                }
                DnsQuestion question = DnsRecordDecoder.DEFAULT.decodeQuestion(in);
                questions.add(new DnsQuestionEntry(question.name(), question.type(), question.dnsClass()));
            }
            List<DnsAnswer> answers = records(in, anCount, "answer", length);
            List<DnsAnswer> authorities = records(in, nsCount, "authority record", length);
            List<DnsAnswer> additionals = records(in, arCount, "additional record", length);
            DnsResponse response = new DnsResponse(id, flags, questions, answers, authorities, additionals, length,
                    queryTime, server, port);
            return new Decoded(response, in.readerIndex(), qdCount, anCount, nsCount, arCount);
        } catch (DnsProtocolException e) {
            throw e;
        } catch (Exception e) {
            // Netty's CorruptedFrameException (pointer loop, pointer out of the message) and
            // IndexOutOfBoundsException (a name running past the end)
            throw new DnsProtocolException("corrupt DNS response of " + length + " bytes (id " + id + "): " + e.getMessage(), e);
        }
    }

    private static DnsProtocolException truncated(String what, int index, int count, int length) {
        return new DnsProtocolException("truncated DNS response", count + " " + what + "(s) as the header says",
                "the message ended (" + length + " bytes) before " + what + " " + (index + 1));
    }

    private static List<DnsAnswer> records(ByteBuf in, int count, String what, int length) throws Exception {
        List<DnsAnswer> records = new ArrayList<>(Math.min(count, 16));
        for (int i = 0; i < count; i++) {
            if (!in.isReadable()) {
                throw truncated(what, i, count, length);
            }
            DnsRecord record = DnsRecordDecoder.DEFAULT.decodeRecord(in);
            if (record == null) {
                throw truncated(what, i, count, length);
            }
            try {
                records.add(toAnswer(record));
            } finally {
                ReferenceCountUtil.release(record);
            }
        }
        return records;
    }

    private static DnsAnswer toAnswer(DnsRecord record) throws UnknownHostException {
        DnsRecordType type = record.type();
        byte[] rdata;
        String data;
        if (record instanceof DnsPtrRecord) {
            data = ((DnsPtrRecord) record).hostname();
            rdata = data.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        } else if (record instanceof DnsRawRecord) {
            ByteBuf content = ((DnsRawRecord) record).content();
            rdata = ByteBufUtil.getBytes(content);
            data = format(type, rdata, content);
        } else {
            rdata = new byte[0];
            data = "";
        }
        return new DnsAnswer(record.name(), type, record.dnsClass(), record.timeToLive(), rdata, data);
    }

    private static String format(DnsRecordType type, byte[] rdata, ByteBuf content) throws UnknownHostException {
        if (DnsRecordType.A.equals(type) && rdata.length == 4) {
            return (rdata[0] & 0xff) + "." + (rdata[1] & 0xff) + "." + (rdata[2] & 0xff) + "." + (rdata[3] & 0xff);
        }
        if (DnsRecordType.AAAA.equals(type) && rdata.length == 16) {
            return InetAddress.getByAddress(rdata).getHostAddress();
        }
        if (DnsRecordType.CNAME.equals(type) || DnsRecordType.NS.equals(type)) {
            // Netty has already expanded the compressed name into the content
            return DefaultDnsRecordDecoder.decodeName(content.duplicate());
        }
        if (DnsRecordType.TXT.equals(type)) {
            StringBuilder text = new StringBuilder();
            int i = 0;
            while (i < rdata.length) {
                int n = rdata[i++] & 0xff;
                int end = Math.min(rdata.length, i + n);
                if (text.length() > 0) {
                    text.append(' ');
                }
                text.append('"').append(new String(rdata, i, end - i, java.nio.charset.StandardCharsets.US_ASCII)).append('"');
                i = end;
            }
            return text.toString();
        }
        // RFC 3597 generic form, as dig prints a type it does not know
        StringBuilder generic = new StringBuilder("\\# ").append(rdata.length);
        if (rdata.length > 0) {
            generic.append(' ').append(ByteBufUtil.hexDump(rdata).toUpperCase(Locale.ROOT));
        }
        return generic.toString();
    }
}
