package dev.netstack.bridge.robustness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.Arrays;
import java.util.function.Function;

/**
 * An upstream DNS server on 127.0.0.1 whose answer to each forwarded query a test decides: the
 * function gets the query bytes and returns the answer bytes, or null for no answer. It may also
 * answer from a second socket (another source port), as a spoofer would.
 */
final class FakeUpstream implements AutoCloseable {
    private final DatagramSocket socket;
    private final DatagramSocket spoofer;
    private final Thread thread;
    volatile Function<byte[], byte[]> answer = q -> null;
    volatile boolean fromOtherPort;
    volatile int received;

    FakeUpstream() {
        try {
            socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            spoofer = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        } catch (SocketException e) {
            throw new UncheckedIOException(e);
        }
        thread = new Thread(this::serve, "fake-dns-upstream");
        thread.setDaemon(true);
        thread.start();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) socket.getLocalSocketAddress();
    }

    private void serve() {
        byte[] buffer = new byte[4096];
        while (!socket.isClosed()) {
            try {
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                socket.receive(packet);
                received++;
                byte[] query = Arrays.copyOfRange(packet.getData(), packet.getOffset(), packet.getOffset() + packet.getLength());
                byte[] reply = answer.apply(query);
                if (reply != null) {
                    (fromOtherPort ? spoofer : socket).send(new DatagramPacket(reply, reply.length, packet.getSocketAddress()));
                }
            } catch (IOException | RuntimeException e) {
                if (socket.isClosed()) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        socket.close();
        spoofer.close();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
