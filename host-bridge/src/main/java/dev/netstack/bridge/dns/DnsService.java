package dev.netstack.bridge.dns;

import dev.netstack.bridge.NettyTransport;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.dns.DatagramDnsQuery;
import io.netty.handler.codec.dns.DatagramDnsQueryEncoder;
import io.netty.handler.codec.dns.DatagramDnsResponse;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRawRecord;
import io.netty.handler.codec.dns.DnsOpCode;
import io.netty.handler.codec.dns.DnsQuery;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponse;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The DNS server the guest sees at 10.0.2.3:53. It takes a query message (the payload of the
 * guest's UDP datagram) and produces the response message, answering from, in order:
 * <ol>
 *   <li>static records (code, hosts file, {@code name=address} options), authoritatively;
 *   <li>the configured upstream servers, forwarded with a fresh random id from a fresh source port
 *       per attempt, the answer accepted only when its id, question and server address and port all
 *       match (the defences of RFC 5452), trying the next server after a timeout;
 *   <li>otherwise the host's own resolver through the JDK ({@code InetAddress.getAllByName}) for A
 *       and AAAA, on a small bounded executor, so that it works with no configuration at all.
 * </ol>
 * Every message is parsed and built with netty-codec-dns. Responses over 512 bytes are truncated
 * (header and question only, TC set, RFC 1035 §4.2.1) unless the query carried an EDNS0 OPT record
 * (RFC 6891), in which case the guest's advertised size applies.
 *
 * <p>Threads: {@link #respond} may be called from any thread and never blocks. The returned future
 * may already be complete (static answers, errors); otherwise it completes on a Netty event loop
 * thread (forwarding) or a resolver thread (host lookups), so whoever waits on it must be quick and
 * thread-safe.
 */
public final class DnsService implements MeterBinder, AutoCloseable {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);
    public static final int DEFAULT_MAX_IN_FLIGHT = 128;
    public static final int DEFAULT_SPARE_SOCKETS = 4;
    public static final int MAX_SPARE_SOCKETS = 256;
    /** The classic UDP DNS message limit without EDNS0 (RFC 1035 §2.3.4). */
    public static final int CLASSIC_UDP_LIMIT = 512;
    /**
     * The largest EDNS0 payload honoured (the DNS flag day 2020 value): a response that size plus
     * UDP and IPv4 headers fits one 1500-byte frame, so the gateway never has to fragment it.
     */
    public static final int MAX_EDNS_PAYLOAD = 1232;
    private static final int HEADER_LENGTH = 12;
    private static final int CLASS_IN = 1;
    private static final long STATIC_TTL = 300;
    private static final long HOST_TTL = 60;

    /** Why a message was not answered normally; the {@code reason} tag of {@code netstack.dns.drops}. */
    public enum DropReason {
        /** Shorter than a DNS header: nothing to answer to (dropped). */
        SHORT("short"),
        /** The codec refused the query (answered FORMERR). */
        MALFORMED("malformed"),
        /** QR bit set: a response sent to the server (answered FORMERR). */
        NOT_QUERY("not_query"),
        /** No question, or more than one (answered FORMERR). */
        NO_QUESTION("no_question"),
        /** An opcode other than QUERY (answered NOTIMP). */
        UNSUPPORTED_OPCODE("unsupported_opcode"),
        /** Too many queries already waiting on upstreams or the host resolver (answered SERVFAIL). */
        IN_FLIGHT_LIMIT("in_flight_limit"),
        /** Upstream answer from another address or port than the server asked (ignored). */
        WRONG_SOURCE("wrong_source"),
        /** Upstream answer with another id than the one sent (ignored). */
        WRONG_ID("wrong_id"),
        /** Upstream answer for another question than the one asked (ignored). */
        WRONG_QUESTION("wrong_question"),
        /** Upstream datagram at a socket whose query has not been sent yet (ignored). */
        UNSOLICITED("unsolicited"),
        /** Upstream datagram the codec refused (ignored). */
        MALFORMED_ANSWER("malformed_answer"),
        /** An upstream server did not answer in time (next server tried). */
        UPSTREAM_TIMEOUT("upstream_timeout"),
        /** The host resolver's queue was full (answered SERVFAIL). */
        RESOLVER_BUSY("resolver_busy");

        private final String tag;

        DropReason(String tag) {
            this.tag = tag;
        }

        public String tag() {
            return tag;
        }
    }

    private enum Source { STATIC, FORWARD, HOST }

    private final StaticRecords staticRecords;
    private final List<InetSocketAddress> upstreams;
    private final boolean hostResolver;
    private final long timeoutNanos;
    private final int maxInFlight;
    private final int spareSockets;
    private final EventLoopGroup group;
    private final boolean ownsGroup;
    private final ThreadPoolExecutor resolverExecutor;
    private final SecureRandom random = new SecureRandom();

    private final AtomicInteger inFlight = new AtomicInteger();
    private final Set<Forwarding> forwarding = ConcurrentHashMap.newKeySet();
    private final Set<Request> waitingOnHost = ConcurrentHashMap.newKeySet();
    private final SpareSockets loopbackSpares = new SpareSockets(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    private final SpareSockets anySpares = new SpareSockets(new InetSocketAddress(0));
    private volatile boolean closed;

    private final LongAdder queries = new LongAdder();
    private final LongAdder[] answers = {new LongAdder(), new LongAdder(), new LongAdder()};
    private final LongAdder failures = new LongAdder();
    private final LongAdder latencyCount = new LongAdder();
    private final LongAdder latencyNanos = new LongAdder();
    private final LongAdder[] drops = new LongAdder[DropReason.values().length];

    private DnsService(Builder builder) {
        this.staticRecords = builder.staticRecords;
        this.upstreams = List.copyOf(builder.upstreams);
        this.hostResolver = builder.hostResolver;
        this.timeoutNanos = builder.timeout.toNanos();
        this.maxInFlight = builder.maxInFlight;
        this.spareSockets = builder.spareSockets;
        this.ownsGroup = builder.group == null;
        this.group = ownsGroup ? NettyTransport.newEventLoopGroup(1, "netstack-dns") : builder.group;
        AtomicInteger threadNumber = new AtomicInteger();
        // Lookups through the host's resolver block (getaddrinfo): a few threads, a bounded queue.
        this.resolverExecutor = new ThreadPoolExecutor(builder.resolverThreads, builder.resolverThreads,
                30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(maxInFlight), runnable -> {
                    Thread thread = new Thread(runnable, "netstack-dns-resolver-" + threadNumber.incrementAndGet());
                    thread.setDaemon(true);
                    return thread;
                });
        resolverExecutor.allowCoreThreadTimeOut(true);
        for (int i = 0; i < drops.length; i++) {
            drops[i] = new LongAdder();
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Answers one DNS query message. The bytes from {@code query.position()} to its limit are copied
     * before this returns, so the caller may reuse or free the buffer at once; position and limit
     * are left unchanged.
     *
     * @return completes with the response message to send back to the guest, or with {@code null}
     *         when the message deserves no response (too short to answer; counted)
     * @throws IllegalStateException when the service is closed
     */
    public CompletableFuture<ByteBuffer> respond(ByteBuffer query) {
        if (closed) {
            throw new IllegalStateException("DNS service is closed");
        }
        long start = System.nanoTime();
        queries.increment();
        CompletableFuture<ByteBuffer> result = new CompletableFuture<>();
        if (query.remaining() < HEADER_LENGTH) {
            drop(DropReason.SHORT);
            result.complete(null);
            return result;
        }
        ByteBuf message = Unpooled.buffer(query.remaining());
        message.writeBytes(query.duplicate());
        DnsQuery parsed;
        try {
            parsed = DnsCodec.decodeQuery(message);
        } catch (Exception e) {
            result.complete(formatError(message));
            message.release();
            return result;
        }
        try {
            answer(parsed, start, result);
        } finally {
            parsed.release();
            message.release();
        }
        return result;
    }

    /** A FORMERR for a message the codec refused: only the header's id can be trusted. */
    private ByteBuffer formatError(ByteBuf message) {
        // The codec throws before giving back a message object, so the id and QR bit are read from
        // their fixed places in the header (RFC 1035 §4.1.1) to address the error and count it.
        boolean isResponse = (message.getByte(2) & 0x80) != 0;
        drop(isResponse ? DropReason.NOT_QUERY : DropReason.MALFORMED);
        DatagramDnsResponse response = new DatagramDnsResponse(DnsCodec.NO_ADDRESS, DnsCodec.NO_ADDRESS,
                message.getUnsignedShort(0), DnsOpCode.QUERY, DnsResponseCode.FORMERR);
        return ByteBuffer.wrap(DnsCodec.encode(response));
    }

    private void answer(DnsQuery query, long start, CompletableFuture<ByteBuffer> result) {
        if (!query.opCode().equals(DnsOpCode.QUERY)) {
            drop(DropReason.UNSUPPORTED_OPCODE);
            result.complete(ByteBuffer.wrap(DnsCodec.encode(errorResponse(query, null, DnsResponseCode.NOTIMP))));
            return;
        }
        if (query.count(DnsSection.QUESTION) != 1) {
            drop(DropReason.NO_QUESTION);
            result.complete(ByteBuffer.wrap(DnsCodec.encode(errorResponse(query, null, DnsResponseCode.FORMERR))));
            return;
        }
        Request request = new Request(query, start, result);
        List<InetAddress> local = staticRecords.lookup(StaticRecords.normalize(request.question.name()));
        if (local != null) {
            request.finish(Source.STATIC, addressAnswer(request, local, STATIC_TTL, true));
            return;
        }
        if (!upstreams.isEmpty() || hostResolver) {
            if (inFlight.incrementAndGet() > maxInFlight) {
                inFlight.decrementAndGet();
                drop(DropReason.IN_FLIGHT_LIMIT);
                request.fail();
                return;
            }
            request.holdsInFlightSlot = true;
        }
        if (!upstreams.isEmpty()) {
            new Forwarding(request).tryServer(0);
        } else if (hostResolver) {
            resolveOnHost(request);
        } else {
            request.fail();
        }
    }

    /** What one guest query needs after its message buffer is gone. */
    private final class Request {
        final int id;
        final boolean recursionDesired;
        final DnsQuestion question;
        final boolean edns;
        final int responseLimit;
        final long start;
        final CompletableFuture<ByteBuffer> result;
        boolean holdsInFlightSlot;
        private final AtomicBoolean completed = new AtomicBoolean();

        Request(DnsQuery query, long start, CompletableFuture<ByteBuffer> result) {
            this.id = query.id();
            this.recursionDesired = query.isRecursionDesired();
            DnsQuestion asked = query.recordAt(DnsSection.QUESTION);
            this.question = new DefaultDnsQuestion(asked.name(), asked.type(), asked.dnsClass());
            int payload = -1;
            for (int i = 0, n = query.count(DnsSection.ADDITIONAL); i < n; i++) {
                DnsRecord record = query.recordAt(DnsSection.ADDITIONAL, i);
                if (record.type().equals(DnsRecordType.OPT)) {
                    payload = record.dnsClass();   // OPT's CLASS field is the requestor's UDP payload size
                }
            }
            this.edns = payload >= 0;
            this.responseLimit = edns ? Math.max(CLASSIC_UDP_LIMIT, Math.min(payload, MAX_EDNS_PAYLOAD)) : CLASSIC_UDP_LIMIT;
            this.start = start;
            this.result = result;
        }

        DatagramDnsResponse newResponse(DnsResponseCode code) {
            DatagramDnsResponse response = new DatagramDnsResponse(DnsCodec.NO_ADDRESS, DnsCodec.NO_ADDRESS, id,
                    DnsOpCode.QUERY, code);
            response.setRecursionDesired(recursionDesired);
            response.setRecursionAvailable(true);
            response.addRecord(DnsSection.QUESTION, new DefaultDnsQuestion(question.name(), question.type(), question.dnsClass()));
            return response;
        }

        void finish(Source source, byte[] response) {
            complete(response, answers[source.ordinal()]);
        }

        void fail() {
            complete(DnsCodec.encode(addOpt(newResponse(DnsResponseCode.SERVFAIL))), failures);
        }

        /** The first outcome wins; counters move before the future completes, so a waiter sees them. */
        private void complete(byte[] response, LongAdder outcome) {
            if (!completed.compareAndSet(false, true)) {
                return;
            }
            if (holdsInFlightSlot) {
                inFlight.decrementAndGet();
            }
            outcome.increment();
            latencyCount.increment();
            latencyNanos.add(System.nanoTime() - start);
            result.complete(ByteBuffer.wrap(response));
        }

        DatagramDnsResponse addOpt(DatagramDnsResponse response) {
            if (edns) {
                // RFC 6891 §7: a responder that understood the OPT record includes one of its own.
                response.addRecord(DnsSection.ADDITIONAL,
                        new DefaultDnsRawRecord(".", DnsRecordType.OPT, MAX_EDNS_PAYLOAD, 0, Unpooled.EMPTY_BUFFER));
            }
            return response;
        }

        /** Encodes {@code response}; when it is over the guest's limit, only header and question go, with TC. */
        byte[] encodeWithinLimit(DatagramDnsResponse response) {
            DnsResponseCode code = response.code();
            boolean authoritative = response.isAuthoritativeAnswer();
            byte[] full = DnsCodec.encode(addOpt(response));
            if (full.length <= responseLimit) {
                return full;
            }
            return truncated(code, authoritative);
        }

        byte[] truncated(DnsResponseCode code, boolean authoritative) {
            DatagramDnsResponse cut = newResponse(code);
            cut.setAuthoritativeAnswer(authoritative);
            cut.setTruncated(true);
            return DnsCodec.encode(addOpt(cut));
        }
    }

    private DatagramDnsResponse errorResponse(DnsQuery query, DnsQuestion question, DnsResponseCode code) {
        DatagramDnsResponse response = new DatagramDnsResponse(DnsCodec.NO_ADDRESS, DnsCodec.NO_ADDRESS, query.id(),
                query.opCode(), code);
        response.setRecursionDesired(query.isRecursionDesired());
        if (question != null) {
            response.addRecord(DnsSection.QUESTION, question);
        }
        return response;
    }

    /** A, AAAA or no data (NOERROR, empty answer) for a name that exists with addresses {@code all}. */
    private byte[] addressAnswer(Request request, List<InetAddress> all, long ttl, boolean authoritative) {
        DatagramDnsResponse response = request.newResponse(DnsResponseCode.NOERROR);
        response.setAuthoritativeAnswer(authoritative);
        DnsRecordType type = request.question.type();
        if (request.question.dnsClass() == CLASS_IN) {
            for (InetAddress address : all) {
                boolean matches = (type.equals(DnsRecordType.A) && address instanceof Inet4Address)
                        || (type.equals(DnsRecordType.AAAA) && address instanceof Inet6Address);
                if (matches) {
                    response.addRecord(DnsSection.ANSWER, new DefaultDnsRawRecord(request.question.name(), type,
                            ttl, Unpooled.wrappedBuffer(address.getAddress())));
                }
            }
        }
        return request.encodeWithinLimit(response);
    }

    // --- host resolver -------------------------------------------------------------------------

    private void resolveOnHost(Request request) {
        DnsRecordType type = request.question.type();
        if (request.question.dnsClass() != CLASS_IN || !(type.equals(DnsRecordType.A) || type.equals(DnsRecordType.AAAA))) {
            // The JDK only looks up addresses; for other kinds of query there is nobody to ask.
            request.finish(Source.HOST, request.encodeWithinLimit(request.newResponse(DnsResponseCode.NOTIMP)));
            return;
        }
        String name = StaticRecords.normalize(request.question.name());
        waitingOnHost.add(request);
        try {
            resolverExecutor.execute(() -> {
                waitingOnHost.remove(request);
                if (name.isEmpty()) {   // the JDK would answer the root with the loopback address
                    request.finish(Source.HOST, addressAnswer(request, List.of(), HOST_TTL, false));
                    return;
                }
                try {
                    request.finish(Source.HOST, addressAnswer(request, List.of(InetAddress.getAllByName(name)),
                            HOST_TTL, false));
                } catch (UnknownHostException e) {
                    request.finish(Source.HOST, request.encodeWithinLimit(request.newResponse(DnsResponseCode.NXDOMAIN)));
                } catch (RuntimeException e) {
                    request.fail();
                }
            });
        } catch (RejectedExecutionException e) {
            waitingOnHost.remove(request);
            drop(DropReason.RESOLVER_BUSY);
            request.fail();
        }
    }

    // --- forwarding ----------------------------------------------------------------------------

    /**
     * Upstream sockets for one local address, bound ahead of need so that a forwarded query does not
     * wait while a socket is created, registered and bound. Each socket still serves exactly one
     * attempt and is closed after it, so every attempt has a fresh random source port: the kernel
     * picks ephemeral ports at random, and a spare's port is never seen by anyone before its query is
     * sent. A datagram reaching a spare is not from the server asked ({@link DropReason#UNSOLICITED}).
     */
    private final class SpareSockets {
        private final InetSocketAddress local;
        private final Queue<Channel> ready = new ConcurrentLinkedQueue<>();
        private final AtomicInteger readyOrBinding = new AtomicInteger();

        SpareSockets(InetSocketAddress local) {
            this.local = local;
        }

        /**
         * A bound socket for one attempt: a spare when one is ready, otherwise one bound now. The
         * spares are replaced by a task queued behind the caller's, so that on an event loop the
         * query goes out first and the binding fills the wait for its answer.
         */
        ChannelFuture take() {
            Channel spare;
            while ((spare = ready.poll()) != null) {
                readyOrBinding.decrementAndGet();
                if (spare.isActive()) {
                    break;
                }
                spare.close();
            }
            if (readyOrBinding.get() < spareSockets) {
                try {
                    group.next().execute(this::refill);
                } catch (RejectedExecutionException shuttingDown) {
                    // the group is stopping: no more spares; the bind below fails and says so
                }
            }
            return spare != null ? spare.newSucceededFuture() : bind();
        }

        /** Starts binding spares until {@link #spareSockets} are ready or on their way. */
        private void refill() {
            while (!closed) {
                int now = readyOrBinding.get();
                if (now >= spareSockets) {
                    return;
                }
                if (!readyOrBinding.compareAndSet(now, now + 1)) {
                    continue;
                }
                ChannelFuture bound = bind();
                bound.addListener(f -> {
                    if (!f.isSuccess()) {
                        readyOrBinding.decrementAndGet();   // the next take tries again
                        return;
                    }
                    Channel ch = bound.channel();
                    ready.add(ch);
                    if (closed && ready.remove(ch)) {   // close() may have emptied the queue before the add
                        ch.close();
                    }
                });
            }
        }

        private ChannelFuture bind() {
            return new Bootstrap()
                    .group(group)
                    .channel(NettyTransport.datagramChannelClass(group))
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new DatagramDnsQueryEncoder(), new UpstreamHandler());
                        }
                    })
                    .bind(local);
        }

        int ready() {
            return ready.size();
        }

        /** Local ports of the spares ready now (for tests). */
        List<Integer> readyPorts() {
            List<Integer> ports = new ArrayList<>();
            for (Channel ch : ready) {
                ports.add(((InetSocketAddress) ch.localAddress()).getPort());
            }
            return ports;
        }

        void close() {
            Channel ch;
            while ((ch = ready.poll()) != null) {
                ch.close();
            }
        }
    }

    /** The pipeline's end at an upstream socket: hands answers to the attempt that owns the socket. */
    private final class UpstreamHandler extends ChannelInboundHandlerAdapter {
        private Forwarding owner;   // event loop only; null while the socket is a spare

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            DatagramPacket packet = (DatagramPacket) msg;
            try {
                if (owner == null) {
                    drop(DropReason.UNSOLICITED);
                } else {
                    owner.onDatagram(ctx.channel(), packet);
                }
            } catch (RuntimeException e) {
                drop(DropReason.MALFORMED_ANSWER);   // never let one datagram end the attempt
            } finally {
                packet.release();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // e.g. an ICMP port unreachable: wait for the timeout, which moves on.
        }
    }

    /** One guest query on its way through the upstream servers, one attempt (socket, id) at a time. */
    private final class Forwarding {
        private final Request request;
        private Channel channel;                 // the current attempt's socket; event loop only
        private ScheduledFuture<?> timeout;
        private InetSocketAddress server;
        private int upstreamId;
        private boolean done;

        Forwarding(Request request) {
            this.request = request;
            forwarding.add(this);
        }

        void tryServer(int next) {
            if (closed || next >= upstreams.size()) {
                finish();
                request.fail();
                return;
            }
            server = upstreams.get(next);
            upstreamId = random.nextInt(1 << 16);
            // A fresh socket per attempt gives a fresh random source port (RFC 5452 §9.2); loopback
            // servers are asked from loopback so nothing leaves the host.
            ChannelFuture bound = (server.getAddress().isLoopbackAddress() ? loopbackSpares : anySpares).take();
            bound.addListener(f -> {
                Channel ch = bound.channel();
                if (!f.isSuccess()) {
                    ch.eventLoop().execute(() -> tryServer(next + 1));
                    return;
                }
                if (ch.eventLoop().inEventLoop()) {
                    send(ch, next);
                } else {
                    ch.eventLoop().execute(() -> send(ch, next));
                }
            });
        }

        /** On the socket's event loop: the socket becomes attempt {@code index}'s, and the query goes out. */
        private void send(Channel ch, int index) {
            if (done || closed) {
                ch.close();
                return;
            }
            channel = ch;
            ch.pipeline().get(UpstreamHandler.class).owner = this;
            timeout = ch.eventLoop().schedule(() -> onTimeout(ch, index), timeoutNanos, TimeUnit.NANOSECONDS);
            DatagramDnsQuery upstreamQuery = new DatagramDnsQuery(null, server, upstreamId);
            upstreamQuery.setRecursionDesired(true);
            upstreamQuery.addRecord(DnsSection.QUESTION, request.question);
            if (request.edns) {
                upstreamQuery.addRecord(DnsSection.ADDITIONAL, new DefaultDnsRawRecord(".", DnsRecordType.OPT,
                        request.responseLimit, 0, Unpooled.EMPTY_BUFFER));
            }
            ch.writeAndFlush(upstreamQuery);
        }

        private void onDatagram(Channel ch, DatagramPacket packet) {
            if (done || ch != channel) {
                return;
            }
            if (!packet.sender().equals(server)) {
                drop(DropReason.WRONG_SOURCE);
                return;
            }
            ByteBuf content = packet.content();
            int start = content.readerIndex();   // the decoder consumes the buffer; the relay needs it whole
            int length = content.readableBytes();
            DnsResponse response;
            try {
                response = DnsCodec.decodeResponse(packet);
            } catch (Exception e) {
                drop(DropReason.MALFORMED_ANSWER);
                return;
            }
            try {
                if (response.id() != upstreamId) {
                    drop(DropReason.WRONG_ID);
                    return;
                }
                if (!sameQuestion(response)) {
                    drop(DropReason.WRONG_QUESTION);
                    return;
                }
                byte[] relayed;
                if (length <= request.responseLimit) {
                    relayed = new byte[length];
                    content.getBytes(start, relayed);
                    // The answer goes back as the server sent it, under the guest's id: re-encoding
                    // would break records whose data holds compressed names (SOA, MX, SRV), which
                    // the codec keeps as raw bytes pointing into the original message.
                    relayed[0] = (byte) (request.id >>> 8);
                    relayed[1] = (byte) request.id;
                } else {
                    relayed = request.truncated(response.code(), response.isAuthoritativeAnswer());
                }
                done = true;   // nothing more from this attempt counts; the socket closes after the answer is out
                request.finish(Source.FORWARD, relayed);
                finish();
            } finally {
                response.release();
            }
        }

        private boolean sameQuestion(DnsResponse response) {
            if (response.count(DnsSection.QUESTION) != 1) {
                return false;
            }
            DnsQuestion answered = response.recordAt(DnsSection.QUESTION);
            return answered.type().equals(request.question.type())
                    && answered.dnsClass() == request.question.dnsClass()
                    && StaticRecords.normalize(answered.name()).equals(StaticRecords.normalize(request.question.name()));
        }

        private void onTimeout(Channel ch, int index) {
            if (done || ch != channel) {
                return;
            }
            drop(DropReason.UPSTREAM_TIMEOUT);
            ch.close();
            channel = null;
            tryServer(index + 1);
        }

        private void finish() {
            done = true;
            forwarding.remove(this);
            if (timeout != null) {
                timeout.cancel(false);
            }
            if (channel != null) {
                channel.close();
                channel = null;
            }
        }

        /** From {@link #close()}: the guest gets SERVFAIL, the socket is closed. */
        void abandon() {
            Channel ch = channel;
            if (ch != null) {
                ch.eventLoop().execute(() -> {
                    if (!done) {
                        finish();
                    }
                });
            }
            request.fail();
        }
    }

    // --- metrics and state ---------------------------------------------------------------------

    private void drop(DropReason reason) {
        drops[reason.ordinal()].increment();
    }

    /** Queries taken by {@link #respond}. */
    public long queries() {
        return queries.sum();
    }

    public long answeredFromStatic() {
        return answers[Source.STATIC.ordinal()].sum();
    }

    public long answeredByForwarding() {
        return answers[Source.FORWARD.ordinal()].sum();
    }

    public long answeredByHost() {
        return answers[Source.HOST.ordinal()].sum();
    }

    /** SERVFAIL responses: every upstream failed, the in-flight limit was hit, or the resolver was busy. */
    public long failures() {
        return failures.sum();
    }

    public long drops(DropReason reason) {
        return drops[reason.ordinal()].sum();
    }

    /** Upstream sockets bound and waiting for a query right now. */
    public int spareSockets() {
        return loopbackSpares.ready() + anySpares.ready();
    }

    /** Local ports of the spare sockets for loopback servers ready now. */
    List<Integer> spareLoopbackPorts() {
        return loopbackSpares.readyPorts();
    }

    /** Queries waiting on an upstream server or the host resolver right now. */
    public int inFlight() {
        return inFlight.get();
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        FunctionCounter.builder("netstack.dns.queries", this, DnsService::queries)
                .baseUnit("queries").register(registry);
        for (Source source : Source.values()) {
            FunctionCounter.builder("netstack.dns.answers", this, s -> s.answers[source.ordinal()].sum())
                    .tag("source", source.name().toLowerCase(java.util.Locale.ROOT)).baseUnit("responses")
                    .register(registry);
        }
        FunctionCounter.builder("netstack.dns.failures", this, DnsService::failures)
                .baseUnit("responses").register(registry);
        for (DropReason reason : DropReason.values()) {
            FunctionCounter.builder("netstack.dns.drops", this, s -> s.drops(reason))
                    .tag("reason", reason.tag()).baseUnit("messages").register(registry);
        }
        Gauge.builder("netstack.dns.spare.sockets", this, DnsService::spareSockets)
                .description("upstream sockets bound ahead of need").register(registry);
        FunctionTimer.builder("netstack.dns.latency", this, s -> s.latencyCount.sum(),
                s -> s.latencyNanos.sum(), TimeUnit.NANOSECONDS).register(registry);
    }

    /** Answers SERVFAIL to every query still waiting, closes upstream sockets and stops the threads. */
    @Override
    public void close() {
        closed = true;
        for (Forwarding f : forwarding) {
            f.abandon();
        }
        loopbackSpares.close();
        anySpares.close();
        resolverExecutor.shutdownNow();
        for (Request request : waitingOnHost) {
            request.fail();
        }
        if (ownsGroup) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        try {
            resolverExecutor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Configuration; {@link #build()} starts the service. */
    public static final class Builder {
        private final StaticRecords staticRecords = new StaticRecords();
        private final List<InetSocketAddress> upstreams = new ArrayList<>();
        private boolean hostResolver = true;
        private Duration timeout = DEFAULT_TIMEOUT;
        private int maxInFlight = DEFAULT_MAX_IN_FLIGHT;
        private int resolverThreads = 4;
        private int spareSockets = DEFAULT_SPARE_SOCKETS;
        private EventLoopGroup group;

        private Builder() {
        }

        /** Answers {@code name} with {@code addresses} (A for IPv4, AAAA for IPv6), ahead of any server. */
        public Builder staticRecord(String name, InetAddress... addresses) {
            for (InetAddress address : addresses) {
                staticRecords.add(name, address);
            }
            return this;
        }

        /**
         * Adds {@code name=address} options, as given on a command line ({@code printer.lan=10.0.2.50}).
         *
         * @throws IllegalArgumentException naming the option that is not {@code name=address}
         */
        public Builder staticRecords(String... options) {
            for (String option : options) {
                staticRecords.addOption(option);
            }
            return this;
        }

        /**
         * Adds every name of a hosts(5)-format file, read now.
         *
         * @throws IOException when the file cannot be read
         * @throws IllegalArgumentException naming the file and line that is not {@code address name...}
         */
        public Builder hostsFile(Path file) throws IOException {
            staticRecords.addHostsFile(file);
            return this;
        }

        /** Forwards queries for non-static names to {@code server}, tried in the order added. */
        public Builder upstream(InetSocketAddress server) {
            Objects.requireNonNull(server, "server");
            if (server.isUnresolved()) {
                throw new IllegalArgumentException("upstream DNS server " + server + " must be an IP address, not a name");
            }
            upstreams.add(server);
            return this;
        }

        /** Whether names that are neither static nor forwarded go to the host's resolver (default true). */
        public Builder hostResolver(boolean enabled) {
            this.hostResolver = enabled;
            return this;
        }

        /** How long to wait for each upstream server before trying the next (default 2 s). */
        public Builder timeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("DNS timeout must be positive, was " + timeout);
            }
            this.timeout = timeout;
            return this;
        }

        /** Queries allowed to wait on upstreams or the host resolver at once (default 128); more get SERVFAIL. */
        public Builder maxInFlight(int maxInFlight) {
            if (maxInFlight <= 0) {
                throw new IllegalArgumentException("max in-flight DNS queries must be positive, was " + maxInFlight);
            }
            this.maxInFlight = maxInFlight;
            return this;
        }

        /**
         * Upstream sockets kept bound ahead of need, per local address (default 4), so that a
         * forwarded query does not wait while its socket is created and bound; 0 binds each one as
         * its query arrives. Either way a socket serves one attempt and is closed after it.
         */
        public Builder spareSockets(int sockets) {
            if (sockets < 0 || sockets > MAX_SPARE_SOCKETS) {
                throw new IllegalArgumentException("spare DNS sockets must be from 0 to " + MAX_SPARE_SOCKETS
                        + ", was " + sockets);
            }
            this.spareSockets = sockets;
            return this;
        }

        /** Threads for host resolver lookups (default 4). */
        public Builder resolverThreads(int threads) {
            if (threads <= 0) {
                throw new IllegalArgumentException("resolver threads must be positive, was " + threads);
            }
            this.resolverThreads = threads;
            return this;
        }

        /** Runs upstream sockets on this group (which the caller shuts down) instead of a thread of its own. */
        public Builder eventLoopGroup(EventLoopGroup group) {
            this.group = group;
            return this;
        }

        public DnsService build() {
            return new DnsService(this);
        }
    }
}
