package dev.netstack.ethernet;

import dev.netstack.arp.ArpLayer;
import dev.netstack.buffer.Mbuf;
import dev.netstack.ipv4.Ipv4Layer;
import dev.netstack.link.FrameSink;
import dev.netstack.link.NetDevice;
import dev.netstack.metrics.Drop;
import dev.netstack.metrics.Layer;
import dev.netstack.metrics.StackCounters;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.MacAddress;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The bottom of the stack: demultiplexes received frames by ethertype and frames outgoing packets.
 * Accepts frames for our MAC and broadcast; counts and drops the rest.
 *
 * <p>{@link #accept(Mbuf)} runs on the device's receive thread; {@link #transmit} on any thread.
 *
 * <h2>Transmit bursts</h2>
 * Between {@link #beginBurst()} and {@link #endBurst()} a thread's frames are collected instead of
 * handed to the device one by one, and go to {@link NetDevice#transmit(Mbuf[], int, int)} together
 * when the burst ends or {@value #BURST_FRAMES} frames are waiting: on an E1000 that is one lock
 * and one TDT write for the lot. Bursts belong to the thread that opened them and nest; other
 * threads transmit as usual meanwhile.
 */
public final class EthernetLayer implements FrameSink {
    private final NetDevice device;
    private final long ourMac;
    private final StackCounters counters;
    private final EthernetHeader rxHeader = new EthernetHeader();   // receive thread only
    /** Threads with a burst open; while 0, transmit does not look for its thread's burst. */
    private final AtomicInteger openBursts = new AtomicInteger();
    private final ThreadLocal<Burst> bursts = ThreadLocal.withInitial(Burst::new);
    private ArpLayer arp;
    private Ipv4Layer ipv4;

    public EthernetLayer(NetDevice device, StackCounters counters) {
        this.device = device;
        this.ourMac = device.macAddress().bits();
        this.counters = counters;
    }

    /** Completes the wiring; called once by the stack before the device starts receiving. */
    public void connect(ArpLayer arp, Ipv4Layer ipv4) {
        this.arp = arp;
        this.ipv4 = ipv4;
    }

    public long macAddress() {
        return ourMac;
    }

    public int mtu() {
        return device.mtu();
    }

    /** Input from the device: one frame, ownership passes here. */
    @Override
    public void accept(Mbuf frame) {
        int length = frame.length();
        counters.received(Layer.ETHERNET, length);
        EthernetHeader eth = rxHeader;
        if (!eth.wrap(frame.buffer(), frame.head(), length)) {
            drop(frame, Drop.ETHERNET_RUNT);
            return;
        }
        long destination = eth.destination();
        if (destination != ourMac && !MacAddress.isBroadcast(destination)) {
            drop(frame, Drop.ETHERNET_NOT_FOR_US);
            return;
        }
        int type = eth.etherType();
        frame.pull(EthernetHeader.HEADER_LENGTH);
        frame.networkOffset = frame.head();
        switch (type) {
            case EthernetHeader.TYPE_IPV4:
                ipv4.input(frame);
                break;
            case EthernetHeader.TYPE_ARP:
                arp.input(frame);
                break;
            default:
                drop(frame, Drop.ETHERNET_UNKNOWN_TYPE);
        }
    }

    /** Frames a burst collects before it goes to the device, even while still open. */
    public static final int BURST_FRAMES = 32;

    /** One thread's open burst: frames framed and waiting for the device. */
    private static final class Burst {
        final Mbuf[] frames = new Mbuf[BURST_FRAMES];
        int count;
        int depth;      // nested begin calls
        long bytes;     // the frames' lengths, counted as sent for those the device takes
    }

    /**
     * Opens (or nests into) a transmit burst on the calling thread; every call must be matched by
     * {@link #endBurst()}, in a {@code finally}.
     */
    public void beginBurst() {
        Burst burst = bursts.get();
        if (burst.depth++ == 0) {
            openBursts.incrementAndGet();
        }
    }

    /** Closes the calling thread's burst; the outermost close hands the waiting frames to the device. */
    public void endBurst() {
        Burst burst = bursts.get();
        if (burst.depth == 0) {
            throw new IllegalStateException("endBurst without beginBurst on this thread");
        }
        if (--burst.depth == 0) {
            try {
                flush(burst);
            } finally {
                openBursts.decrementAndGet();
            }
        }
    }

    private void flush(Burst burst) {
        int count = burst.count;
        if (count == 0) {
            return;
        }
        Mbuf[] frames = burst.frames;
        int taken = device.transmit(frames, 0, count);
        long bytes = burst.bytes;
        if (taken < count) {
            Drop reason = device.isLinkUp() ? Drop.ETHERNET_TX_RING_FULL : Drop.ETHERNET_TX_LINK_DOWN;
            for (int i = taken; i < count; i++) {
                bytes -= frames[i].length();
                drop(frames[i], reason);
            }
        }
        if (taken > 0) {
            counters.sent(Layer.ETHERNET, taken, bytes);
        }
        java.util.Arrays.fill(frames, 0, count, null);
        burst.count = 0;
        burst.bytes = 0;
    }

    /**
     * Prepends the Ethernet header and hands the frame to the device (or to the calling thread's open
     * burst). The mbuf is consumed either way: transmitted, or dropped and counted when the ring is
     * full or the link down.
     */
    public void transmit(Mbuf packet, long destinationMac, int etherType) {
        int at = packet.push(EthernetHeader.HEADER_LENGTH);
        java.nio.ByteBuffer b = packet.buffer();
        MacAddress.write(b, at, destinationMac);
        MacAddress.write(b, at + 6, ourMac);
        b.putShort(at + 12, (short) etherType);
        int length = packet.length();
        if (openBursts.get() != 0) {
            Burst burst = bursts.get();
            if (burst.depth > 0) {
                burst.frames[burst.count++] = packet;
                burst.bytes += length;
                if (burst.count == BURST_FRAMES) {
                    flush(burst);
                }
                return;
            }
        }
        int result = device.transmit(packet);
        if (result == NetDevice.TRANSMITTED) {
            counters.sent(Layer.ETHERNET, length);
        } else {
            drop(packet, result == NetDevice.RING_FULL ? Drop.ETHERNET_TX_RING_FULL : Drop.ETHERNET_TX_LINK_DOWN);
        }
    }

    private void drop(Mbuf frame, Drop reason) {
        counters.drop(reason);
        frame.freePacket();
    }
}
