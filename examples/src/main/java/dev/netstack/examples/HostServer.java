package dev.netstack.examples;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The xv6 network lab's host-side server ({@code make server}): a real UDP socket on 127.0.0.1
 * that answers every datagram with {@code "this is the host!"}. It runs on the calling thread
 * ({@link #serve}) or on a daemon thread of its own ({@link #start}).
 */
public final class HostServer implements AutoCloseable {
    public static final String REPLY = "this is the host!";
    public static final int DEFAULT_PORT = 25603;
    private static final byte[] REPLY_BYTES = REPLY.getBytes(StandardCharsets.US_ASCII);

    private final DatagramChannel channel;
    private final int port;
    private final PrintWriter log;
    private final AtomicLong answered = new AtomicLong();
    private volatile Thread thread;

    private HostServer(DatagramChannel channel, PrintWriter log) throws IOException {
        this.channel = channel;
        this.port = ((InetSocketAddress) channel.getLocalAddress()).getPort();
        this.log = log;
    }

    /**
     * Binds 127.0.0.1:{@code port} (0 for any free port).
     *
     * @param log where each received message is printed, or null for silence
     * @throws IOException when the port is taken
     */
    public static HostServer bind(int port, PrintWriter log) throws IOException {
        DatagramChannel channel = DatagramChannel.open();
        try {
            channel.bind(new InetSocketAddress("127.0.0.1", port));
        } catch (IOException e) {
            channel.close();
            throw new IOException("cannot bind UDP 127.0.0.1:" + port + ": " + e.getMessage(), e);
        }
        return new HostServer(channel, log);
    }

    /** Binds {@code preferred} if it is free, otherwise any free port. */
    public static HostServer bindPreferring(int preferred, PrintWriter log) throws IOException {
        try {
            return bind(preferred, log);
        } catch (IOException taken) {
            return bind(0, log);
        }
    }

    public int port() {
        return port;
    }

    /** Datagrams answered so far. */
    public long answered() {
        return answered.get();
    }

    /** Serves on a daemon thread until {@link #close()}. */
    public HostServer start() {
        Thread t = new Thread(() -> {
            try {
                serve(Long.MAX_VALUE);
            } catch (IOException e) {
                if (log != null) {
                    log.println("server: " + e.getMessage());
                    log.flush();
                }
            }
        }, "host-server-" + port);
        t.setDaemon(true);
        thread = t;
        t.start();
        return this;
    }

    /**
     * Answers datagrams on this thread until {@code count} were answered, the channel is closed or
     * the thread is interrupted; returns how many were answered.
     */
    public long serve(long count) throws IOException {
        ByteBuffer in = ByteBuffer.allocate(65536);
        long served = 0;
        try {
            while (served < count) {
                in.clear();
                SocketAddress from = channel.receive(in);
                in.flip();
                if (log != null) {
                    log.println(StandardCharsets.UTF_8.decode(in));
                    log.flush();
                }
                channel.send(ByteBuffer.wrap(REPLY_BYTES), from);
                answered.incrementAndGet();
                served++;
            }
        } catch (AsynchronousCloseException closedOrInterrupted) {
            // close() or an interrupt: the normal way to stop
        }
        return served;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing to do: the socket is gone either way
        }
        Thread t = thread;
        if (t != null) {
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
