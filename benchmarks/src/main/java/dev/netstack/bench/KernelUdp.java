package dev.netstack.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.List;

/** The baseline: java.nio DatagramChannel over the kernel's loopback (127.0.0.1 only). */
final class KernelUdp {
    static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);

    private KernelUdp() {
    }

    /** A connected pair of channels on 127.0.0.1 with 4 MiB buffers; connected read/write allocate nothing. */
    static DatagramChannel[] pair(boolean blocking) throws IOException {
        DatagramChannel a = DatagramChannel.open().bind(LOOPBACK);
        DatagramChannel b = DatagramChannel.open().bind(LOOPBACK);
        for (DatagramChannel c : new DatagramChannel[] {a, b}) {
            c.setOption(StandardSocketOptions.SO_RCVBUF, 4 << 20);
            c.setOption(StandardSocketOptions.SO_SNDBUF, 4 << 20);
        }
        a.connect(b.getLocalAddress());
        b.connect(a.getLocalAddress());
        a.configureBlocking(blocking);
        b.configureBlocking(blocking);
        return new DatagramChannel[] {a, b};
    }

    /** Closes every channel given, skipping nulls (those never opened). */
    static void closeAll(DatagramChannel... channels) {
        for (DatagramChannel c : channels) {
            if (c == null) {
                continue;
            }
            try {
                c.close();
            } catch (IOException ignored) {
                // closing on the way out
            }
        }
    }

    /** One sender thread writing {@code size}-byte datagrams, one receiver thread reading (blocking). */
    static Workload.Rate blast(int size, double warm, double measure) throws IOException {
        DatagramChannel[] p = pair(true);
        ByteBuffer out = ByteBuffer.allocateDirect(size);
        ByteBuffer in = ByteBuffer.allocateDirect(2048);
        Workload.Op send = () -> {
            out.clear();
            return p[0].write(out) > 0;
        };
        Workload.Op receive = () -> {
            in.clear();
            return p[1].read(in) >= 0;
        };
        return Workload.blast(new Workload.Op[] {send}, receive, List.of(), () -> closeAll(p), warm, measure, 768);
    }

    /** Ping-pong over loopback; {@code spin}: non-blocking channels polled in a loop instead of blocking reads. */
    static Workload.Latency pingPong(int size, boolean spin, double warm, double measure) throws IOException {
        DatagramChannel[] p = pair(!spin);
        ByteBuffer out = ByteBuffer.allocateDirect(size);
        ByteBuffer in = ByteBuffer.allocateDirect(2048);
        ByteBuffer echo = ByteBuffer.allocateDirect(2048);
        Workload.Op round = () -> {
            out.clear();
            p[0].write(out);
            in.clear();
            int n;
            while ((n = p[0].read(in)) == 0) {
                if (!p[0].isOpen()) {
                    return false;
                }
                Thread.onSpinWait();
            }
            return n > 0;
        };
        Workload.Op server = () -> {
            echo.clear();
            int n;
            while ((n = p[1].read(echo)) == 0) {
                if (!p[1].isOpen()) {
                    return false;
                }
                Thread.onSpinWait();
            }
            echo.flip();
            p[1].write(echo);
            return n > 0;
        };
        return Workload.pingPong(round, server, List.of(), () -> closeAll(p), warm, measure);
    }
}
