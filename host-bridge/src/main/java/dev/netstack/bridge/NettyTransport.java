package dev.netstack.bridge;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.unix.SegmentedDatagramPacket;
import io.netty.channel.unix.Socket;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/**
 * Chooses Netty's native epoll transport when it is on the class path and loads on this machine,
 * and NIO otherwise. Both behave the same for the bridge; epoll only saves copies and syscalls.
 * The epoll jar is an optional dependency, so every reference to its classes sits behind
 * {@link #EPOLL} and the JVM never has to load them when it is missing.
 */
public final class NettyTransport {
    private static final boolean EPOLL = epollUsable();
    private static final ByteBuffer EMPTY = ByteBuffer.allocateDirect(0);
    /** Stands in as the sender of segmented-send envelopes, which need an address; the send ignores it. */
    private static final InetSocketAddress NO_ADDRESS = new InetSocketAddress(0);

    private NettyTransport() {
    }

    private static boolean epollUsable() {
        if (Boolean.getBoolean("netstack.bridge.nio")) {   // forces NIO, to compare or to debug
            return false;
        }
        try {
            return Epoll.isAvailable();
        } catch (LinkageError e) {   // the optional jar is absent
            return false;
        }
    }

    /** True when new event loop groups use epoll. */
    public static boolean usesEpoll() {
        return EPOLL;
    }

    /** A new event loop group of {@code threads} daemon threads named {@code threadName-N}; the caller shuts it down. */
    public static EventLoopGroup newEventLoopGroup(int threads, String threadName) {
        DefaultThreadFactory factory = new DefaultThreadFactory(threadName, true);
        return EPOLL ? new EpollEventLoopGroup(threads, factory) : new NioEventLoopGroup(threads, factory);
    }

    /** The datagram channel class that runs on {@code group}. */
    public static Class<? extends DatagramChannel> datagramChannelClass(EventLoopGroup group) {
        if (EPOLL && group instanceof EpollEventLoopGroup) {
            return EpollDatagramChannel.class;
        }
        return NioDatagramChannel.class;
    }

    /**
     * True when datagram channels on {@code group} can send many datagrams as one segmented send
     * (Linux UDP GSO, {@code UDP_SEGMENT}, kernel 4.18 and later): epoll, and a kernel that has it.
     */
    public static boolean supportsSegmentation(EventLoopGroup group) {
        return EPOLL && group instanceof EpollEventLoopGroup && EpollDatagramChannel.isSegmentedDatagramPacketSupported();
    }

    /**
     * One write that the kernel splits into datagrams of {@code segmentSize} bytes (the last may be
     * shorter), for a connected epoll channel: no recipient, so the connected destination is used.
     * The envelope holds nothing of a flow, so one may be written again on any flow's channel once
     * Netty has released it (and so its content) after the last write. Only when
     * {@link #supportsSegmentation} said so.
     */
    static Object segmentedDatagram(ByteBuf content, int segmentSize) {
        return new SegmentedDatagramPacket(content, segmentSize, null, NO_ADDRESS);
    }

    /**
     * Sends an empty datagram on {@code channel} at once, to {@code recipient} or (null) to the
     * connected destination; false when the transport cannot. Netty's write path skips empty
     * datagrams, so this goes to the epoll socket directly; flush the channel first to keep order.
     * Only on the channel's event loop.
     */
    static boolean sendEmpty(Channel channel, InetSocketAddress recipient) throws IOException {
        if (!EPOLL || !(channel instanceof EpollDatagramChannel)) {
            return false;
        }
        Socket socket = (Socket) ((EpollDatagramChannel) channel).fd();
        if (recipient == null) {
            socket.send(EMPTY, 0, 0);
        } else {
            socket.sendTo(EMPTY, 0, 0, recipient.getAddress(), recipient.getPort());
        }
        return true;
    }
}
