package dev.netstack.link;

import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.wire.MacAddress;

/**
 * A device whose transmitted frames come straight back as received frames, with no copy: the mbuf
 * itself moves from the transmit side to the receive queue. A stack on a loopback device talks to
 * itself, which is enough to test a protocol end to end with one stack.
 */
public final class LoopbackDevice implements NetDevice {
    private final VirtualDevice queue;

    public LoopbackDevice(MbufPool pool) {
        this(MacAddress.parse("02:00:00:00:00:01"), pool);
    }

    public LoopbackDevice(MacAddress mac, MbufPool pool) {
        this.queue = new VirtualDevice("lo", mac, pool);
        queue.attach(queue);   // what it sends, it receives
    }

    @Override
    public String name() {
        return "lo";
    }

    @Override
    public MacAddress macAddress() {
        return queue.macAddress();
    }

    @Override
    public int mtu() {
        return queue.mtu();
    }

    @Override
    public boolean isLinkUp() {
        return true;
    }

    @Override
    public MbufPool pool() {
        return queue.pool();
    }

    @Override
    public int transmit(Mbuf frame) {
        return queue.transmit(frame);
    }

    @Override
    public int receive(FrameSink sink, int budget) {
        return queue.receive(sink, budget);
    }

    @Override
    public boolean awaitReceive(long timeoutNanos) throws InterruptedException {
        return queue.awaitReceive(timeoutNanos);
    }

    @Override
    public void close() {
        queue.close();
    }
}
