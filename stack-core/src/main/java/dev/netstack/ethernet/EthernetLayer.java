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

/**
 * The bottom of the stack: demultiplexes received frames by ethertype and frames outgoing packets.
 * Accepts frames for our MAC and broadcast; counts and drops the rest.
 *
 * <p>{@link #accept(Mbuf)} runs on the device's receive thread; {@link #transmit} on any thread.
 */
public final class EthernetLayer implements FrameSink {
    private final NetDevice device;
    private final long ourMac;
    private final StackCounters counters;
    private final EthernetHeader rxHeader = new EthernetHeader();   // receive thread only
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

    /**
     * Prepends the Ethernet header and hands the frame to the device. The mbuf is consumed either
     * way: transmitted, or dropped and counted when the ring is full or the link down.
     */
    public void transmit(Mbuf packet, long destinationMac, int etherType) {
        int at = packet.push(EthernetHeader.HEADER_LENGTH);
        java.nio.ByteBuffer b = packet.buffer();
        MacAddress.write(b, at, destinationMac);
        MacAddress.write(b, at + 6, ourMac);
        b.putShort(at + 12, (short) etherType);
        int length = packet.length();
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
