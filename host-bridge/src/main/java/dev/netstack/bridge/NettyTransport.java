package dev.netstack.bridge;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * Chooses Netty's native epoll transport when it is on the class path and loads on this machine,
 * and NIO otherwise. Both behave the same for the bridge; epoll only saves copies and syscalls.
 * The epoll jar is an optional dependency, so every reference to its classes sits behind
 * {@link #EPOLL} and the JVM never has to load them when it is missing.
 */
public final class NettyTransport {
    private static final boolean EPOLL = epollUsable();

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
}
