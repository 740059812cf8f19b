package dev.netstack.bridge.tunnel;

import dev.netstack.bridge.NettyTransport;
import dev.netstack.link.FramePort;
import dev.netstack.link.LinkEndpoint;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * A {@link LinkEndpoint} that carries Ethernet frames to another process or machine inside UDP
 * datagrams, one frame per datagram, optionally behind an encapsulation header.
 *
 * <p>Threads: frames from the socket are decapsulated and delivered to the attached peer
 * ({@link #attach}) on the channel's Netty event loop thread, so the peer must not block there.
 * Frames the peer hands to {@link #receiveFrame} (any thread) are copied into a pooled buffer and
 * queued on the channel; a channel whose outbound queue is over its high-water mark drops the frame
 * rather than queue without bound. Nothing is thrown out of either path: bad datagrams and frames
 * are dropped and counted by {@link DropReason}.
 *
 * <p>Only datagrams whose source address (not port) is the remote's are accepted: a kernel VXLAN
 * device and socat send from ports of their own choosing.
 */
public abstract sealed class FrameTunnel implements LinkEndpoint, MeterBinder, AutoCloseable
        permits RawFrameTunnel, VxlanTunnel {
    /** Largest frame carried by default: 1500-byte payload, Ethernet header and two VLAN tags. */
    public static final int DEFAULT_MAX_FRAME_LENGTH = 1522;
    private static final int ETHERNET_HEADER_LENGTH = 14;
    private static final int SOCKET_BUFFER_BYTES = 1 << 20;

    /** Why a tunnel dropped a frame or datagram; the {@code reason} tag of {@code netstack.tunnel.drops}. */
    public enum DropReason {
        /** Datagram shorter than the header, or a frame shorter than an Ethernet header. */
        RUNT("runt"),
        /** Frame longer than the tunnel's maximum frame length. */
        OVERSIZE("oversize"),
        /** The socket refused the datagram. */
        SEND_FAILED("send_failed"),
        /** The channel's outbound queue was full. */
        SEND_QUEUE_FULL("send_queue_full"),
        /** No remote address set yet, or the tunnel is closed. */
        NOT_CONNECTED("not_connected"),
        /** A datagram from an address other than the remote's. */
        FOREIGN_SOURCE("foreign_source"),
        /** No peer attached to take the frame. */
        NO_PEER("no_peer"),
        /** The peer threw while taking the frame. */
        PEER_ERROR("peer_error"),
        /** VXLAN header without the I flag (RFC 7348 §5). */
        BAD_FLAGS("bad_flags"),
        /** VXLAN header for another network. */
        WRONG_VNI("wrong_vni");

        private final String tag;

        DropReason(String tag) {
            this.tag = tag;
        }

        public String tag() {
            return tag;
        }
    }

    private final String name;
    private final int maxFrameLength;
    private final EventLoopGroup group;
    private final boolean ownsGroup;
    private volatile Channel channel;   // set once by bind(), before the tunnel is handed out
    private volatile InetSocketAddress remote;
    private volatile FramePort peer;

    private final LongAdder rxFrames = new LongAdder();
    private final LongAdder rxBytes = new LongAdder();
    private final LongAdder txFrames = new LongAdder();
    private final LongAdder txBytes = new LongAdder();
    private final LongAdder[] drops = new LongAdder[DropReason.values().length];

    // Only the event loop touches it: the copy used when a datagram is not one contiguous NIO buffer.
    private final ByteBuffer receiveScratch;

    FrameTunnel(Builder<?, ?> builder, String kind) {
        this.name = builder.name != null ? builder.name : kind;
        this.maxFrameLength = builder.maxFrameLength;
        this.remote = builder.remote;
        this.receiveScratch = ByteBuffer.allocateDirect(maxFrameLength);
        for (int i = 0; i < drops.length; i++) {
            drops[i] = new LongAdder();
        }
        this.ownsGroup = builder.group == null;
        this.group = ownsGroup ? NettyTransport.newEventLoopGroup(1, "netstack-" + name) : builder.group;
    }

    /**
     * Binds the socket. Called once by the builder after construction, so that no datagram reaches
     * {@link #checkHeader} before a subclass has set its fields.
     */
    final void bind(InetSocketAddress local) throws BindException {
        Bootstrap bootstrap = new Bootstrap()
                .group(group)
                .channel(NettyTransport.datagramChannelClass(group))
                // One byte more than the largest datagram taken: a longer one is then seen as oversize
                // instead of silently truncated to a frame that looks whole.
                .option(ChannelOption.RCVBUF_ALLOCATOR,
                        new FixedRecvByteBufAllocator(headerLength() + maxFrameLength + 1))
                .option(ChannelOption.SO_RCVBUF, SOCKET_BUFFER_BYTES)
                .option(ChannelOption.SO_SNDBUF, SOCKET_BUFFER_BYTES)
                .handler(new Decapsulator());
        ChannelFuture bound = bootstrap.bind(local).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            shutdownGroup();
            Throwable cause = bound.cause();
            BindException failure = new BindException("cannot bind " + kind() + " tunnel " + name + " to "
                    + local + ": " + cause.getMessage()
                    + " (is another process using that port? use port 0 to pick a free one)");
            failure.initCause(cause);
            throw failure;
        }
        this.channel = bound.channel();
    }

    /** Bytes of encapsulation header in front of each frame. */
    abstract int headerLength();

    /** Writes the encapsulation header. */
    abstract void writeHeader(ByteBuf datagram);

    /** Checks the header at {@code offset}; {@code null} when the frame behind it is for us. */
    abstract DropReason checkHeader(ByteBuf datagram, int offset);

    // --- link side ---------------------------------------------------------------------------

    @Override
    public void attach(FramePort peer) {
        this.peer = peer;
    }

    /** A frame from the link: sent to the remote address. */
    @Override
    public void receiveFrame(ByteBuffer frame) {
        int length = frame.remaining();
        if (length < ETHERNET_HEADER_LENGTH) {
            drop(DropReason.RUNT);
            return;
        }
        if (length > maxFrameLength) {
            drop(DropReason.OVERSIZE);
            return;
        }
        InetSocketAddress to = remote;
        Channel channel = this.channel;
        if (to == null || channel == null || !channel.isActive()) {
            drop(DropReason.NOT_CONNECTED);
            return;
        }
        if (!channel.isWritable()) {
            drop(DropReason.SEND_QUEUE_FULL);
            return;
        }
        // The frame is valid only during this call, so it is copied into a pooled buffer.
        ByteBuf datagram = channel.alloc().directBuffer(headerLength() + length);
        writeHeader(datagram);
        int position = frame.position();
        datagram.writeBytes(frame);
        frame.position(position);   // the FramePort contract: leave position and limit as found
        txFrames.increment();
        txBytes.add(length);
        // A void promise saves a promise object per frame; a failure reaches exceptionCaught.
        channel.writeAndFlush(new DatagramPacket(datagram, to), channel.voidPromise());
    }

    // --- socket side -------------------------------------------------------------------------

    private final class Decapsulator extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            DatagramPacket packet = (DatagramPacket) msg;
            try {
                decapsulate(packet.content(), packet.sender());
            } finally {
                packet.release();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // Failed sends from the void promise land here, as do socket errors; neither closes the tunnel.
            drop(DropReason.SEND_FAILED);
        }
    }

    private void decapsulate(ByteBuf datagram, InetSocketAddress sender) {
        InetSocketAddress expected = remote;
        if (expected == null || !sameAddress(expected.getAddress(), sender.getAddress())) {
            drop(DropReason.FOREIGN_SOURCE);
            return;
        }
        int start = datagram.readerIndex();
        int length = datagram.readableBytes() - headerLength();
        if (length < 0) {
            drop(DropReason.RUNT);
            return;
        }
        DropReason bad = checkHeader(datagram, start);
        if (bad != null) {
            drop(bad);
            return;
        }
        if (length < ETHERNET_HEADER_LENGTH) {
            drop(DropReason.RUNT);
            return;
        }
        if (length > maxFrameLength) {
            drop(DropReason.OVERSIZE);
            return;
        }
        FramePort to = peer;
        if (to == null) {
            drop(DropReason.NO_PEER);
            return;
        }
        int frameStart = start + headerLength();
        ByteBuffer frame;
        if (datagram.nioBufferCount() == 1) {
            frame = datagram.internalNioBuffer(frameStart, length);   // a view, reused by Netty: no copy
        } else {
            frame = receiveScratch;
            frame.clear().limit(length);
            datagram.getBytes(frameStart, frame);
            frame.flip();
        }
        rxFrames.increment();
        rxBytes.add(length);
        try {
            to.receiveFrame(frame);
        } catch (RuntimeException e) {
            drop(DropReason.PEER_ERROR);
        }
    }

    private static boolean sameAddress(InetAddress expected, InetAddress actual) {
        return expected.equals(actual);
    }

    private void drop(DropReason reason) {
        drops[reason.ordinal()].increment();
    }

    // --- configuration and state -------------------------------------------------------------

    /** Where frames from the link are sent; frames are accepted only from this address. */
    public void remoteAddress(InetSocketAddress remote) {
        this.remote = Objects.requireNonNull(remote, "remote");
    }

    public InetSocketAddress remoteAddress() {
        return remote;
    }

    /** The bound local address, with the real port when port 0 was asked for. */
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) channel.localAddress();
    }

    public String name() {
        return name;
    }

    public int maxFrameLength() {
        return maxFrameLength;
    }

    /** Frames taken from the socket and handed to the peer. */
    public long receivedFrames() {
        return rxFrames.sum();
    }

    public long receivedBytes() {
        return rxBytes.sum();
    }

    /** Frames taken from the peer and handed to the socket. */
    public long sentFrames() {
        return txFrames.sum();
    }

    public long sentBytes() {
        return txBytes.sum();
    }

    public long drops(DropReason reason) {
        return drops[reason.ordinal()].sum();
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        String kind = kind();
        FunctionCounter.builder("netstack.tunnel.frames", this, FrameTunnel::receivedFrames)
                .tag("tunnel", name).tag("kind", kind).tag("direction", "rx").baseUnit("frames").register(registry);
        FunctionCounter.builder("netstack.tunnel.frames", this, FrameTunnel::sentFrames)
                .tag("tunnel", name).tag("kind", kind).tag("direction", "tx").baseUnit("frames").register(registry);
        FunctionCounter.builder("netstack.tunnel.bytes", this, FrameTunnel::receivedBytes)
                .tag("tunnel", name).tag("kind", kind).tag("direction", "rx").baseUnit("bytes").register(registry);
        FunctionCounter.builder("netstack.tunnel.bytes", this, FrameTunnel::sentBytes)
                .tag("tunnel", name).tag("kind", kind).tag("direction", "tx").baseUnit("bytes").register(registry);
        for (DropReason reason : DropReason.values()) {
            FunctionCounter.builder("netstack.tunnel.drops", this, t -> t.drops(reason))
                    .tag("tunnel", name).tag("kind", kind).tag("reason", reason.tag()).baseUnit("frames")
                    .register(registry);
        }
    }

    abstract String kind();

    /** Closes the socket (and the event loop, if the tunnel made its own) and unplugs the peer. */
    @Override
    public void close() {
        peer = null;
        Channel channel = this.channel;
        if (channel != null) {
            channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        shutdownGroup();
    }

    private void shutdownGroup() {
        if (ownsGroup) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + " " + channel.localAddress() + " -> " + remote + "]";
    }

    /** Settings shared by every tunnel. */
    public abstract static class Builder<B extends Builder<B, T>, T extends FrameTunnel> {
        InetSocketAddress local = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        InetSocketAddress remote;
        EventLoopGroup group;
        String name;
        int maxFrameLength = DEFAULT_MAX_FRAME_LENGTH;

        Builder() {
        }

        abstract B self();

        /** The local UDP address to bind; default 127.0.0.1 on a free port. */
        public B localAddress(InetSocketAddress local) {
            this.local = Objects.requireNonNull(local, "local");
            return self();
        }

        /** The peer's UDP address; may also be set after opening with {@link FrameTunnel#remoteAddress(InetSocketAddress)}. */
        public B remoteAddress(InetSocketAddress remote) {
            this.remote = remote;
            return self();
        }

        /** Runs on this group (which the caller shuts down) instead of a one-thread group of its own. */
        public B eventLoopGroup(EventLoopGroup group) {
            this.group = group;
            return self();
        }

        /** Name for the {@code tunnel} metrics tag and the thread. */
        public B name(String name) {
            this.name = name;
            return self();
        }

        /** Largest Ethernet frame (without FCS) carried either way; longer ones are dropped as oversize. */
        public B maxFrameLength(int maxFrameLength) {
            if (maxFrameLength < 60 || maxFrameLength > 65_000) {
                throw new IllegalArgumentException("max frame length must be 60-65000 bytes, was " + maxFrameLength);
            }
            this.maxFrameLength = maxFrameLength;
            return self();
        }

        /**
         * Binds the socket and returns the running tunnel.
         *
         * @throws BindException when the local address cannot be bound
         */
        public abstract T open() throws IOException;
    }
}
