package dev.netstack.bench;

import dev.netstack.e1000.E1000Config;
import dev.netstack.socket.NetworkException;
import dev.netstack.socket.UdpSocket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** netstack guest to guest: two stacks on E1000 cards joined by a VirtualCable. */
final class GuestUdp {
    static final int PORT = 7000;
    private static final long RECEIVE_WAIT = TimeUnit.MILLISECONDS.toNanos(10);

    private GuestUdp() {
    }

    static List<Thread> receiveThreads(GuestPair pair) {
        return Measure.threads(pair.a.receiveThread(), pair.b.receiveThread());
    }

    /**
     * {@code senders} threads on guest A send {@code size}-byte datagrams round robin to
     * {@code sockets} sockets bound on guest B (ports PORT..); one thread on B receives them all.
     */
    static Workload.Rate blast(E1000Config config, int size, int senders, int sockets, double warm, double measure) {
        return blast(config, size, senders, sockets, 1, warm, measure);
    }

    /**
     * As above, each sender handing {@code burst} datagrams at a time to
     * {@link UdpSocket#sendTo(ByteBuffer[], int, int, int, int)} (1: one {@code sendTo} per datagram).
     */
    static Workload.Rate blast(E1000Config config, int size, int senders, int sockets, int burst, double warm,
            double measure) {
        return blast(config, size, senders, sockets, burst, true, warm, measure);
    }

    /** As above, the senders' sockets putting a UDP checksum in or not ({@link UdpSocket#checksums(boolean)}). */
    static Workload.Rate blast(E1000Config config, int size, int senders, int sockets, int burst, boolean checksums,
            double warm, double measure) {
        try (GuestPair pair = new GuestPair(config)) {
            UdpSocket[] receivers = new UdpSocket[sockets];
            for (int i = 0; i < sockets; i++) {
                receivers[i] = pair.b.stack.openUdpSocket().bind(PORT + i);
            }
            Workload.BurstOp[] send = new Workload.BurstOp[senders];
            for (int s = 0; s < senders; s++) {
                UdpSocket out = pair.a.stack.openUdpSocket().checksums(checksums).bind(PORT + 10_000 + s);
                ByteBuffer payload = ByteBuffer.allocateDirect(size);
                ByteBuffer[] payloads = new ByteBuffer[burst];
                for (int i = 0; i < burst; i++) {
                    payloads[i] = ByteBuffer.allocateDirect(size);
                }
                int destination = GuestPair.B.bits();
                int[] next = {0};
                send[s] = burst == 1 || sockets > 1 ? () -> {
                    payload.clear();
                    int port = PORT + next[0];
                    if (++next[0] == sockets) {
                        next[0] = 0;
                    }
                    try {
                        out.sendTo(payload, destination, port);
                        return 1;
                    } catch (NetworkException e) {
                        Thread.onSpinWait();   // pool momentarily exhausted: the receiver is behind
                        return 0;
                    }
                } : () -> {
                    for (ByteBuffer p : payloads) {
                        p.clear();
                    }
                    try {
                        return out.sendTo(payloads, 0, burst, destination, PORT);
                    } catch (NetworkException e) {
                        Thread.onSpinWait();
                        return 0;
                    }
                };
            }
            ByteBuffer in = ByteBuffer.allocateDirect(2048);
            Workload.Op receive;
            if (sockets == 1) {
                UdpSocket only = receivers[0];
                receive = () -> {
                    in.clear();
                    return only.receiveFrom(in, RECEIVE_WAIT) != UdpSocket.NOTHING;
                };
            } else {
                // datagrams arrive in the order sent: visit the sockets in that order; a socket with
                // nothing (a loss) is skipped after a short wait
                int[] next = {0};
                receive = () -> {
                    in.clear();
                    UdpSocket s = receivers[next[0]];
                    if (++next[0] == sockets) {
                        next[0] = 0;
                    }
                    return s.receiveFrom(in, TimeUnit.MICROSECONDS.toNanos(200)) != UdpSocket.NOTHING;
                };
            }
            // at most 3/4 of the receive ring in flight: the figure is what is delivered without loss
            long window = Math.min(config.receiveRingSize() * 3L / 4, 768);
            return Workload.blast(send, receive, receiveThreads(pair), null, warm, measure, window);
        }
    }

    /**
     * One sender on guest A and one receiver on guest B, {@code sockets} sockets bound on B, in
     * alternate blocks of datagrams: all to the first socket, then round robin to every socket (see
     * {@link Alternation}).
     */
    static Alternation.Result alternateSockets(E1000Config config, int sockets, int block, double warm,
            double measure) {
        try (GuestPair pair = new GuestPair(config)) {
            UdpSocket[] receivers = new UdpSocket[sockets];
            for (int i = 0; i < sockets; i++) {
                receivers[i] = pair.b.stack.openUdpSocket().bind(PORT + i);
            }
            UdpSocket out = pair.a.stack.openUdpSocket().bind(PORT + 10_000);
            ByteBuffer payload = ByteBuffer.allocateDirect(64);
            int destination = GuestPair.B.bits();
            Alternation alternation = Alternation.forSeconds(block, warm + measure);
            long[] sent = {0};
            Workload.Op send = () -> {
                payload.clear();
                long n = sent[0];
                payload.putLong(0, n);   // the receiver checks it is in step
                int port = alternation.many(n) ? PORT + (int) (n % sockets) : PORT;
                try {
                    out.sendTo(payload, destination, port);
                    sent[0] = n + 1;
                    return true;
                } catch (NetworkException e) {
                    Thread.onSpinWait();
                    return false;
                }
            };
            ByteBuffer in = ByteBuffer.allocateDirect(2048);
            // nothing is lost (the window keeps the ring and the sockets' queues from filling), so a
            // datagram that has not come is late: a sender that lost its core for a while. Giving up
            // on it would put the receiver a datagram ahead of the sender, and at the next change of
            // form on the wrong socket; so only give up on one long overdue.
            long wait = TimeUnit.MILLISECONDS.toNanos(50);
            Workload.Op receive = () -> {
                in.clear();
                long n = alternation.position();
                UdpSocket s = receivers[alternation.many(n) ? (int) (n % sockets) : 0];
                if (s.receiveFrom(in, wait) == UdpSocket.NOTHING) {
                    alternation.passed(false);
                    return false;
                }
                alternation.arrived(in.getLong(0));
                return true;
            };
            long from = System.nanoTime() + (long) (warm * 1e9);
            long window = Math.min(config.receiveRingSize() * 3L / 4, 768);
            Workload.Rate rate = Workload.blast(new Workload.Op[] {send}, receive, receiveThreads(pair), null, warm,
                    measure, window);
            return Alternation.Result.of(alternation, rate, from);
        }
    }

    static Workload.Latency pingPong(E1000Config config, int size, double warm, double measure) {
        try (GuestPair pair = new GuestPair(config)) {
            UdpSocket client = pair.a.stack.openUdpSocket().bind(PORT);
            UdpSocket server = pair.b.stack.openUdpSocket().bind(PORT);
            ByteBuffer out = ByteBuffer.allocateDirect(size);
            ByteBuffer in = ByteBuffer.allocateDirect(2048);
            ByteBuffer echo = ByteBuffer.allocateDirect(2048);
            int b = GuestPair.B.bits();
            long wait = TimeUnit.SECONDS.toNanos(1);
            Workload.Op round = () -> {
                out.clear();
                client.sendTo(out, b, PORT);
                in.clear();
                return client.receiveFrom(in, wait) != UdpSocket.NOTHING;
            };
            Workload.Op serve = () -> {
                echo.clear();
                long sender = server.receiveFrom(echo, RECEIVE_WAIT);
                if (sender == UdpSocket.NOTHING) {
                    return false;
                }
                echo.flip();
                server.sendTo(echo, UdpSocket.senderAddressBits(sender), UdpSocket.senderPort(sender));
                return true;
            };
            List<Thread> extra = new ArrayList<>(receiveThreads(pair));
            return Workload.pingPong(round, serve, extra, null, warm, measure);
        }
    }
}
