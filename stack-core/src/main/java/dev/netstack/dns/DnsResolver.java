package dev.netstack.dns;

import dev.netstack.NetStack;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.Ipv4Address;
import io.netty.handler.codec.dns.DnsRecordType;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * A stub resolver over a {@link NetStack}'s UDP sockets (RFC 1035 §7): one query per call from a
 * fresh socket on an ephemeral port, with a random id, waiting for the server's response.
 *
 * <pre>{@code
 * DnsResolver resolver = DnsResolver.builder(stack).server("10.0.2.3").build();
 * List<Ipv4Address> addresses = resolver.resolve("localhost", Duration.ofSeconds(2));
 * DnsResponse response = resolver.query("localhost", DnsRecordType.A, resolver.server(), Duration.ofSeconds(2));
 * }</pre>
 *
 * <p>Only a datagram from the server's port 53 whose id and question match the query is taken as
 * the response; anything else is ignored and counted ({@link #ignoredDatagrams()}), so a stray or
 * spoofed datagram cannot stand in for the answer.
 *
 * <p>In <em>strict</em> mode (what xv6's {@code nettests} checks) a datagram from the server that is
 * not exactly right fails the query instead of being ignored: QR must be set, the id and question
 * must be the query's, the rcode NOERROR, the additional section may hold only an EDNS0 OPT
 * record, and decoding the header's counts of records must consume exactly the bytes received.
 * The {@link DnsProtocolException} says what was expected and what came.
 *
 * <p>Thread-safe: queries from several threads run side by side, each on its own socket.
 */
public final class DnsResolver {
    public static final int DNS_PORT = 53;
    /** Room for any UDP datagram: a short buffer would truncate silently and hide a length lie. */
    private static final int RECEIVE_BUFFER = 65536;
    /** Receive buffers kept for the next queries: as many as queries usually run at once. */
    private static final int KEPT_BUFFERS = 4;

    private final NetStack stack;
    private final Ipv4Address server;
    private final int serverPort;
    private final boolean strict;
    private final boolean recursionDesired;
    private final SecureRandom random = new SecureRandom();
    private final LongAdder ignored = new LongAdder();
    /**
     * Receive buffers between queries, so that a query does not allocate and clear 64 KiB. Nothing
     * refers to a buffer once its query returns: the decoder copies what it keeps.
     */
    private final ArrayBlockingQueue<byte[]> buffers = new ArrayBlockingQueue<>(KEPT_BUFFERS);

    private DnsResolver(Builder b) {
        this.stack = b.stack;
        this.server = b.server;
        this.serverPort = b.serverPort;
        this.strict = b.strict;
        this.recursionDesired = b.recursionDesired;
    }

    /** A resolver asking the stack's configured DNS server (if any) on port 53. */
    public static Builder builder(NetStack stack) {
        return new Builder(stack);
    }

    /** The server {@link #resolve} asks; null when none was configured. */
    public Ipv4Address server() {
        return server;
    }

    public boolean isStrict() {
        return strict;
    }

    /** Datagrams received and not taken as a response: wrong sender, id or question, or unparseable. */
    public long ignoredDatagrams() {
        return ignored.sum();
    }

    /**
     * The IPv4 addresses of {@code name} (its A records, in the server's order); empty when the
     * name exists but has none.
     *
     * @throws DnsServerErrorException the server answered NXDOMAIN, SERVFAIL, ...
     * @throws DnsTimeoutException     no response in time
     * @throws IllegalStateException   no server configured
     */
    public List<Ipv4Address> resolve(String name, Duration timeout) throws InterruptedException {
        if (server == null) {
            throw new IllegalStateException("no DNS server: configure one on the stack or the resolver builder");
        }
        DnsResponse response = query(name, DnsRecordType.A, server, timeout);
        if (response.rcode() != DnsResponse.RCODE_NOERROR) {
            String why = response.rcode() == DnsResponse.RCODE_NXDOMAIN ? "no such name" : "the server failed";
            throw new DnsServerErrorException(DnsMessages.qualify(name) + ": " + why + " (" + response.rcodeName()
                    + " from " + response.server() + ")", response);
        }
        return response.addresses();
    }

    /**
     * Sends one query for {@code name}/{@code type} to {@code server}:53 and returns the parsed
     * response, whatever its rcode (in strict mode a non-zero rcode fails).
     *
     * @throws DnsTimeoutException  no matching response within {@code timeout}
     * @throws DnsProtocolException in strict mode, a response that breaks a rule
     */
    public DnsResponse query(String name, DnsRecordType type, Ipv4Address server, Duration timeout)
            throws InterruptedException {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(server, "server");
        String qualified = DnsMessages.qualify(name);
        int id = random.nextInt(1 << 16);
        ByteBuffer query = DnsMessages.encodeQuery(id, qualified, type, recursionDesired);
        byte[] buffer = buffers.poll();
        if (buffer == null) {
            buffer = new byte[RECEIVE_BUFFER];
        }
        ByteBuffer target = ByteBuffer.wrap(buffer);
        String lastProblem = null;
        try (UdpSocket socket = stack.openUdpSocket().bind(0)) {
            long sent = System.nanoTime();
            long deadline = sent + timeout.toNanos();
            socket.sendTo(query, server, serverPort);
            while (true) {
                long remaining = deadline - System.nanoTime();
                target.clear();
                long sender = remaining > 0 ? socket.receiveFrom(target, remaining) : UdpSocket.NOTHING;
                if (sender == UdpSocket.NOTHING) {
                    throw new DnsTimeoutException("no response from " + server + "#" + serverPort + " for " + qualified + " "
                            + type.name() + " within " + timeout.toMillis() + " ms"
                            + (lastProblem == null ? "" : " (ignored: " + lastProblem + ")"));
                }
                Duration elapsed = Duration.ofNanos(System.nanoTime() - sent);
                if (UdpSocket.senderAddressBits(sender) != server.bits() || UdpSocket.senderPort(sender) != serverPort) {
                    ignored.increment();
                    lastProblem = "a datagram from " + UdpSocket.senderAddress(sender) + ":" + UdpSocket.senderPort(sender);
                    continue;
                }
                int length = target.position();
                try {
                    DnsMessages.Decoded decoded = DnsMessages.decode(buffer, length, elapsed, server, serverPort);
                    check(decoded, id, qualified, type);
                    return decoded.response();
                } catch (DnsProtocolException e) {
                    if (strict) {
                        throw e;
                    }
                    ignored.increment();
                    lastProblem = e.getMessage();
                }
            }
        } finally {
            buffers.offer(buffer);   // dropped when KEPT_BUFFERS are kept already
        }
    }

    /** The matching rules (id, question), and in strict mode the nettests rules too. */
    private void check(DnsMessages.Decoded decoded, int id, String name, DnsRecordType type) {
        DnsResponse response = decoded.response();
        if (strict && !response.isResponse()) {
            throw new DnsProtocolException("not a DNS response", "QR set", "QR clear (a query)");
        }
        if (response.id() != id) {
            throw new DnsProtocolException("DNS wrong id", "id " + id, "id " + response.id());
        }
        if (response.questions().size() != 1
                || !response.questions().get(0).name().equalsIgnoreCase(name)
                || !response.questions().get(0).type().equals(type)) {
            throw new DnsProtocolException("DNS response to another question", "question " + name + " " + type.name(),
                    describeQuestions(response));
        }
        if (!strict) {
            if (!response.isResponse()) {
                throw new DnsProtocolException("not a DNS response", "QR set", "QR clear (a query)");
            }
            return;
        }
        if (response.rcode() != DnsResponse.RCODE_NOERROR) {
            throw new DnsProtocolException("DNS rcode error", "rcode NOERROR (0)",
                    "rcode " + response.rcodeName() + " (" + response.rcode() + ")");
        }
        for (DnsAnswer additional : response.additionals()) {
            if (!DnsRecordType.OPT.equals(additional.type())) {
                throw new DnsProtocolException("invalid additional record", "only an EDNS0 OPT record (type 41)",
                        additional.type().name() + " record (type " + additional.type().intValue() + ") for " + additional.name());
            }
            if (!additional.name().equals(".")) {
                throw new DnsProtocolException("invalid name for EDNS", "the root name", "\"" + additional.name() + "\"");
            }
        }
        if (decoded.parsedLength() != response.messageLength()) {
            throw new DnsProtocolException("DNS length mismatch",
                    "the records the header counts to end at the datagram's end (" + response.messageLength() + " bytes)",
                    "processed " + decoded.parsedLength() + " data bytes but received " + response.messageLength());
        }
    }

    private static String describeQuestions(DnsResponse response) {
        if (response.questions().isEmpty()) {
            return "no question";
        }
        StringBuilder s = new StringBuilder();
        for (DnsQuestionEntry q : response.questions()) {
            s.append(s.length() == 0 ? "question " : ", ").append(q.name()).append(' ').append(q.type().name());
        }
        return s.toString();
    }

    @Override
    public String toString() {
        return "DnsResolver[" + server + "#" + serverPort + (strict ? " strict" : "") + "]";
    }

    /** How to make a {@link DnsResolver}. */
    public static final class Builder {
        private final NetStack stack;
        private Ipv4Address server;
        private int serverPort = DNS_PORT;
        private boolean strict;
        private boolean recursionDesired = true;

        private Builder(NetStack stack) {
            this.stack = Objects.requireNonNull(stack, "stack");
            this.server = stack.dnsServer();
        }

        public Builder server(String address) {
            return server(Ipv4Address.parse(address));
        }

        public Builder server(Ipv4Address address) {
            this.server = Objects.requireNonNull(address, "server");
            return this;
        }

        /** The port servers listen on (default 53); tests may use another. */
        public Builder serverPort(int port) {
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("DNS server port must be 1-65535, was " + port);
            }
            this.serverPort = port;
            return this;
        }

        /** Fails a query on any response that breaks the nettests rules instead of ignoring it. */
        public Builder strict(boolean value) {
            this.strict = value;
            return this;
        }

        /** Sets RD in queries (default true). */
        public Builder recursionDesired(boolean value) {
            this.recursionDesired = value;
            return this;
        }

        public DnsResolver build() {
            return new DnsResolver(this);
        }
    }
}
