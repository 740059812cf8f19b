package dev.netstack.examples;

import dev.netstack.NetStack;
import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.e1000.E1000Config;
import dev.netstack.e1000.E1000Device;
import dev.netstack.e1000.E1000Driver;
import dev.netstack.e1000.E1000Metrics;
import dev.netstack.link.FrameObserver;
import dev.netstack.link.FrameTap;
import dev.netstack.link.LinkEndpoint;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.List;

/**
 * One emulated machine: guest memory, an E1000 card with its driver, and a {@link NetStack} on it,
 * as xv6 runs in QEMU. {@link #wire()} is what to plug into a cable, switch or tunnel: the card's
 * port, behind a tap when something observes the guest's frames.
 */
public final class Guest implements AutoCloseable {
    /** Receive and transmit descriptors; the pool holds a buffer for each plus room for socket queues. */
    private static final int RING_SIZE = 256;
    private static final int BUFFERS = 2 * RING_SIZE + 1024;

    private final String name;
    private final DmaMemory memory;
    private final MbufPool pool;
    private final E1000Device card;
    private final E1000Driver driver;
    private final LinkEndpoint wire;
    private final String cidr;
    private final Ipv4Address gateway;
    private final Ipv4Address dnsServer;
    private NetStack stack;   // set by start()

    /**
     * @param name     device name (metrics tag), e.g. {@code e1000-0}
     * @param observer sees every frame the card sends and receives, or null
     */
    public Guest(String name, MacAddress mac, String cidr, Ipv4Address gateway, Ipv4Address dnsServer, FrameObserver observer) {
        this.name = name;
        E1000Config config = E1000Config.defaults().withName(name).withRingSizes(RING_SIZE, RING_SIZE);
        memory = DmaMemory.allocate(BUFFERS * Mbuf.SIZE + 2 * RING_SIZE * 16 + 65536);
        pool = MbufPool.carve(memory, BUFFERS);
        card = new E1000Device(memory, mac);
        driver = new E1000Driver(card, memory, pool, mac, config);
        wire = observer == null ? card.port() : FrameTap.on(card.port(), observer);
        this.cidr = cidr;
        this.gateway = gateway;
        this.dnsServer = dnsServer;
    }

    /**
     * Builds the stack on the card. Call it once the card's {@link #wire()} is plugged in: the stack
     * announces its address with a gratuitous ARP as it starts, which a card with no cable drops.
     */
    public Guest start() {
        NetStack.Builder builder = NetStack.builder().device(driver).address(cidr);
        if (gateway != null) {
            builder.gateway(gateway);
        }
        if (dnsServer != null) {
            builder.dnsServer(dnsServer);
        }
        try {
            stack = builder.build();
        } catch (RuntimeException e) {
            driver.close();
            throw e;
        }
        return this;
    }

    /** The MAC of guest number {@code index}: QEMU's 52:54:00:12:34:56, then counting up. */
    public static MacAddress macFor(int index) {
        return MacAddress.of(MacAddress.parse("52:54:00:12:34:56").bits() + index);
    }

    public String name() {
        return name;
    }

    public NetStack stack() {
        return stack;
    }

    public Ipv4Address address() {
        return stack.address();
    }

    public MacAddress macAddress() {
        return card.macAddress();
    }

    public E1000Driver driver() {
        return driver;
    }

    public MbufPool pool() {
        return pool;
    }

    /** The endpoint to plug into the link: the card's port, or the tap in front of it. */
    public LinkEndpoint wire() {
        return wire;
    }

    /** The stack's and the card's meters. */
    public List<MeterBinder> meterBinders() {
        return List.of(stack.metrics(), new E1000Metrics(driver));
    }

    /** Closes the stack (which closes the driver and frees every buffer). */
    @Override
    public void close() {
        if (stack != null) {
            stack.close();   // closes the driver too
        } else {
            driver.close();
        }
    }

    @Override
    public String toString() {
        return name + " " + card.macAddress() + " " + stack.address() + "/" + stack.subnet().prefixLength();
    }
}
