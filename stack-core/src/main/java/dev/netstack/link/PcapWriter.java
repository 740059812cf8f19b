package dev.netstack.link;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes frames to a classic libpcap file (LINKTYPE_ETHERNET, microsecond timestamps) that
 * {@code tcpdump -r} and Wireshark read. Use it as the observer of a {@link FrameTap} to record
 * everything a device sends and receives.
 *
 * <p>Thread-safe; each record is written whole. Recording is a debugging aid, not a hot-path feature:
 * it writes through a reusable buffer and a file channel.
 */
public final class PcapWriter implements FrameObserver, AutoCloseable {
    private static final int MAGIC_MICROSECONDS = 0xa1b2c3d4;
    private static final int LINKTYPE_ETHERNET = 1;
    private static final int SNAPLEN = 65535;

    private final FileChannel channel;
    private final ByteBuffer record = ByteBuffer.allocate(16 + SNAPLEN).order(ByteOrder.LITTLE_ENDIAN);
    private long frames;
    private boolean closed;

    private PcapWriter(FileChannel channel) throws IOException {
        this.channel = channel;
        ByteBuffer header = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(MAGIC_MICROSECONDS).putShort((short) 2).putShort((short) 4)
                .putInt(0).putInt(0).putInt(SNAPLEN).putInt(LINKTYPE_ETHERNET).flip();
        while (header.hasRemaining()) {
            channel.write(header);
        }
    }

    /** Creates (or truncates) {@code file} and writes the pcap global header. */
    public static PcapWriter create(Path file) throws IOException {
        return new PcapWriter(FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING));
    }

    @Override
    public void observe(ByteBuffer frame, boolean outbound) {
        java.time.Instant now = java.time.Instant.now();
        write(frame, now.getEpochSecond() * 1_000_000 + now.getNano() / 1000);
    }

    /** Appends one record with the given timestamp in microseconds since the epoch. */
    public synchronized void write(ByteBuffer frame, long epochMicros) {
        if (closed) {
            return;
        }
        int length = frame.remaining();
        int captured = Math.min(length, SNAPLEN);
        record.clear();
        record.putInt((int) (epochMicros / 1_000_000)).putInt((int) (epochMicros % 1_000_000))
                .putInt(captured).putInt(length);
        record.put(record.position(), frame, frame.position(), captured);
        record.position(record.position() + captured).flip();
        try {
            while (record.hasRemaining()) {
                channel.write(record);
            }
            frames++;
        } catch (IOException e) {
            throw new UncheckedIOException("writing pcap record", e);
        }
    }

    /** Records written so far. */
    public synchronized long frames() {
        return frames;
    }

    @Override
    public synchronized void close() throws IOException {
        if (!closed) {
            closed = true;
            channel.close();
        }
    }
}
