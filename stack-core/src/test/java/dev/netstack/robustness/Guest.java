package dev.netstack.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import dev.netstack.NetStack;
import dev.netstack.buffer.MbufPool;
import dev.netstack.ipv4.Reassembler;
import dev.netstack.link.FakeClock;
import dev.netstack.link.FramePort;
import dev.netstack.link.Frames;
import dev.netstack.link.LinkEndpoint;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.socket.NetworkException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * A guest under test: a {@link NetStack} at 10.0.2.15/24 on a {@link VirtualDevice}, on a
 * {@link FakeClock}, cabled to a {@link Wire} that plays the LAN (it owns 10.0.2.2 and answers ARP
 * for it). Frames are injected on the test thread and {@link #settle()} runs the pipeline to quiet
 * with {@link NetStack#receiveNow()}, so after it every counter, reply and buffer is final: the
 * receive thread only ever works under the same lock and the clock moves only when told.
 *
 * <p>A UDP socket on port {@link #SINK_PORT} with a small queue takes datagrams; the test drains it.
 */
public final class Guest implements AutoCloseable {
    public static final MacAddress GUEST_MAC = MacAddress.parse("52:54:00:12:34:56");
    public static final MacAddress PEER_MAC = MacAddress.parse("52:55:0a:00:02:02");
    public static final Ipv4Address GUEST_IP = Ipv4Address.parse("10.0.2.15");
    public static final Ipv4Address PEER_IP = Ipv4Address.parse("10.0.2.2");
    /** A neighbour on the LAN that never answers ARP. */
    public static final Ipv4Address SILENT_IP = Ipv4Address.parse("10.0.2.77");
    public static final int SINK_PORT = 7;
    public static final int SINK_QUEUE = 4;

    public final MbufPool pool;
    public final FakeClock clock = new FakeClock();
    public final Reassembler reassembler;
    /** The guest's device: a {@link VirtualDevice} or another one (an E1000 driver) given to {@link #on}. */
    public final dev.netstack.link.NetDevice device;
    /** Buffers the device keeps for itself while idle (an E1000 receive ring); the rest must be free. */
    private final java.util.function.IntSupplier deviceReserve;
    public final Wire wire = new Wire();
    public final NetStack stack;
    public final UdpSocket sink;
    private long sinkRead;
    private int pingSequence;

    private Guest(MbufPool pool, Reassembler reassembler, UnaryOperator<NetStack.Builder> options) {
        this(new VirtualDevice("guest", GUEST_MAC, pool, 1500, VirtualDevice.DEFAULT_RECEIVE_QUEUE), null, () -> 0, reassembler, options);
    }

    private Guest(dev.netstack.link.NetDevice device, LinkEndpoint port, java.util.function.IntSupplier deviceReserve, Reassembler reassembler,
            UnaryOperator<NetStack.Builder> options) {
        this.pool = device.pool();
        this.reassembler = reassembler;
        this.device = device;
        this.deviceReserve = deviceReserve;
        VirtualCable.connect(port != null ? port : (VirtualDevice) device, wire);
        stack = options.apply(NetStack.builder().device(device).address(GUEST_IP, 24).gateway(PEER_IP)
                .clock(clock).reassembler(reassembler)).build();
        sink = stack.openUdpSocket(SINK_QUEUE, 64 * 1024).bind(SINK_PORT);
        settle();
    }

    /** A guest with its own pool of 256 buffers and the reassembly bounds a stack picks for that pool. */
    public static Guest start() {
        MbufPool pool = NetStack.newPool(256, 0);
        return new Guest(pool, defaultReassembler(pool), b -> b);
    }

    /** What {@link NetStack} builds when not given a reassembler: at most a quarter of the pool held. */
    public static Reassembler defaultReassembler(MbufPool pool) {
        return new Reassembler(Reassembler.DEFAULT_MAX_DATAGRAMS,
                Math.max(1, Math.min(Reassembler.DEFAULT_MAX_BUFFERS, pool.capacity() / 4)), Reassembler.DEFAULT_TIMEOUT_NANOS);
    }

    /** A guest on a pool shared between runs (it must be whole when this guest starts). */
    public static Guest on(MbufPool pool, Reassembler reassembler) {
        return new Guest(pool, reassembler, b -> b);
    }

    /**
     * A guest on any device whose wire side is {@code port} (an E1000 card's port); the device keeps
     * {@code deviceReserve} buffers of its pool while idle (receive ring, transmit buffers not yet reclaimed).
     */
    public static Guest on(dev.netstack.link.NetDevice device, LinkEndpoint port, java.util.function.IntSupplier deviceReserve,
            Reassembler reassembler) {
        return new Guest(device, port, deviceReserve, reassembler, b -> b);
    }

    public static Guest start(Reassembler reassembler, UnaryOperator<NetStack.Builder> options) {
        return new Guest(NetStack.newPool(256, 0), reassembler, options);
    }

    /** Delivers {@code frame} from the wire and runs the pipeline until nothing is left to do. */
    public void inject(byte[] frame) {
        wire.send(frame);
        settle();
    }

    /** Runs the receive pipeline on this thread until the device holds no frame (replies may bring more). */
    public void settle() {
        while (stack.receiveNow() > 0) {
            // a reply (ARP answered by the wire) may have queued another frame
        }
    }

    /** Moves the clock and runs the timers (ARP retries and expiry, reassembly expiry). */
    public void advance(Duration by) {
        clock.advance(by);
        stack.runTimers();
        settle();
    }

    /**
     * Lets every timer run out: reassemblies expire (and their ICMP errors go out), then ARP requests
     * for silent neighbours give up and free the packets that waited for them. Afterwards the stack
     * holds no buffer except what the sink socket queues.
     */
    public void quiesce() {
        advance(Duration.ofMillis(Reassembler.DEFAULT_TIMEOUT_NANOS / 1_000_000 + 1000));
        for (int i = 0; i < 5; i++) {
            advance(Duration.ofMillis(1100));
        }
    }

    /** Reads everything queued on the sink socket (ICMP errors reported to it are ignored). */
    public int drainSink() {
        ByteBuffer into = ByteBuffer.allocate(65536);
        int n = 0;
        for (int guard = 0; guard < 1000; guard++) {
            try {
                into.clear();
                if (sink.tryReceive(into) == null) {
                    break;
                }
                n++;
            } catch (NetworkException reportedError) {
                // an ICMP error the fuzzer aimed at the sink's port: reported once, then data flows again
            }
        }
        sinkRead += n;
        return n;
    }

    /** Datagrams the sink socket took: read plus still queued. */
    public long sinkDatagrams() {
        return sinkRead + sink.queuedDatagrams();
    }

    public void assertBalanced() {
        Accounting.assertBalanced(stack.counters(), reassembler, sinkDatagrams());
    }

    /** After {@link #quiesce()} and {@link #drainSink()}: every buffer is back in the pool. */
    public void assertPoolWhole() {
        int reserved = deviceReserve.getAsInt();   // first: it may reclaim transmitted buffers
        assertThat(pool.available()).as("free buffers with the stack idle (held: reassembly %d, device %d)",
                reassembler.heldBuffers(), reserved).isEqualTo(pool.capacity() - reserved);
    }

    /** The peer pings the guest; asserts the echo reply comes back with the same identifier, sequence and data. */
    /**
     * One fuzz input end to end: up to 16 frames built from {@code data} arrive, with the clock
     * jumping now and then; then every invariant is checked: the layers balance, the pool is whole
     * once the timers have run out, and the guest still answers a ping.
     */
    public void runFuzzInput(FuzzedDataProvider data) {
        int frames = data.consumeInt(1, 16);
        for (int i = 0; i < frames && data.remainingBytes() > 0; i++) {
            inject(FrameRecipe.next(data));
            if (data.consumeInt(0, 7) == 0) {
                advance(Duration.ofMillis(data.consumeInt(0, 40_000)));
            }
        }
        drainSink();
        assertBalanced();
        quiesce();
        drainSink();
        assertPoolWhole();
        assertBalanced();
        assertAnswersPing();
        assertBalanced();
    }

    public void assertAnswersPing() {
        int sequence = ++pingSequence;
        byte[] data = new byte[32];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7 + sequence);
        }
        int id = 0xbeef;
        byte[] frame = Frames.padded(Frames.ethernet(GUEST_MAC.bits(), PEER_MAC.bits(), EthernetHeader.TYPE_IPV4,
                Frames.ipv4(PEER_IP.bits(), GUEST_IP.bits(), Ipv4Header.PROTOCOL_ICMP,
                        Frames.icmp(IcmpHeader.TYPE_ECHO_REQUEST, 0, id, sequence, data))));
        long before = wire.count();
        inject(frame);
        Predicate<byte[]> reply = f -> Frames.isIcmp(f, IcmpHeader.TYPE_ECHO_REPLY, 0)
                && Frames.ipView(f).destination() == PEER_IP.bits()
                && Frames.icmpView(f).identifier() == id && Frames.icmpView(f).sequence() == sequence
                && Frames.icmpChecksumValid(f);
        assertThat(wire.recent(before)).as("echo reply to the peer's ping #%d", sequence).anyMatch(reply);
    }

    @Override
    public void close() {
        sink.close();
        stack.close();
        PoolChecks.assertWhole(pool);
    }

    /**
     * The LAN side of the guest's cable: records what the guest sends (the last 1024 frames and a
     * count) and answers ARP requests for {@link #PEER_IP}, synchronously, into the guest's device.
     */
    public static final class Wire implements LinkEndpoint {
        private static final int KEEP = 1024;
        private final ArrayDeque<byte[]> frames = new ArrayDeque<>();   // guarded by this
        private long count;                                             // guarded by this
        private volatile FramePort guest;
        private volatile boolean answerArp = true;

        @Override
        public void attach(FramePort peer) {
            this.guest = peer;
        }

        @Override
        public void receiveFrame(ByteBuffer frame) {
            byte[] copy = new byte[frame.remaining()];
            frame.get(frame.position(), copy);
            synchronized (this) {
                if (frames.size() == KEEP) {
                    frames.removeFirst();
                }
                frames.addLast(copy);
                count++;
            }
            if (answerArp && Frames.isArp(copy, ArpPacket.OP_REQUEST) && Frames.arpView(copy).targetIp() == PEER_IP.bits()) {
                ArpPacket request = Frames.arpView(copy);
                send(Frames.arpFrame(request.senderMac(), ArpPacket.OP_REPLY, PEER_MAC.bits(), PEER_IP.bits(),
                        request.senderMac(), request.senderIp()));
            }
        }

        /** Stops or resumes answering ARP for the peer. */
        public void answerArp(boolean on) {
            answerArp = on;
        }

        public void send(byte[] frame) {
            FramePort g = guest;
            if (g != null) {
                g.receiveFrame(ByteBuffer.wrap(frame));
            }
        }

        public synchronized long count() {
            return count;
        }

        /** Frames sent since the count was {@code since} (as many as are still kept). */
        public synchronized List<byte[]> recent(long since) {
            int n = (int) Math.min(frames.size(), count - since);
            List<byte[]> out = new ArrayList<>(frames);
            return out.subList(out.size() - n, out.size());
        }

        public synchronized List<byte[]> all() {
            return new ArrayList<>(frames);
        }
    }

    /** Ethernet, IPv4 and UDP from {@code source} to the guest with checksums filled. */
    public static byte[] udpToGuest(Ipv4Address source, int sourcePort, int port, byte[] payload) {
        return Frames.udpFrame(GUEST_MAC.bits(), PEER_MAC.bits(), source, GUEST_IP, sourcePort, port, payload);
    }

    public static Duration seconds(long s) {
        return Duration.ofSeconds(s);
    }
}
