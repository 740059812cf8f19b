package dev.netstack.bench;

import dev.netstack.NetStack;
import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.e1000.E1000Config;
import dev.netstack.e1000.E1000Device;
import dev.netstack.e1000.E1000Driver;
import dev.netstack.link.VirtualCable;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;

/**
 * Two NetStacks, each on its own emulated E1000 in its own guest memory, joined by a virtual
 * cable: the "guest to guest" world of the benchmarks. Checking mode is off (as in production).
 */
public final class GuestPair implements AutoCloseable {
    public static final Ipv4Address A = Ipv4Address.parse("10.0.2.15");
    public static final Ipv4Address B = Ipv4Address.parse("10.0.2.2");

    /** One guest: memory, pool, card, driver, stack. */
    public static final class Guest {
        public final MbufPool pool;
        public final E1000Device card;
        public final E1000Driver driver;
        public final NetStack stack;

        Guest(String name, MacAddress mac, E1000Config config, String cidr, int socketQueue) {
            int buffers = config.receiveRingSize() + config.transmitRingSize() + Math.max(1024, socketQueue + 256);
            DmaMemory memory = DmaMemory.allocate(buffers * Mbuf.SIZE + (1 << 20));
            pool = MbufPool.carve(memory, buffers, false);
            card = new E1000Device(memory, mac);
            driver = new E1000Driver(card, memory, pool, mac, config.withName(name));
            stack = NetStack.builder().device(driver).address(cidr).socketQueue(socketQueue, 64 << 20).build();
        }

        /** The stack's own receive thread (by name), for allocation accounting; null if not found. */
        public Thread receiveThread() {
            String name = "netstack-rx-" + driver.name();
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().equals(name) && t.isAlive()) {
                    return t;
                }
            }
            return null;
        }
    }

    public final Guest a;
    public final Guest b;
    public final E1000Config config;

    public GuestPair(E1000Config config) {
        this(config, 1024);
    }

    public GuestPair(E1000Config config, int socketQueue) {
        this.config = config;
        a = new Guest("bench-a", MacAddress.parse("52:54:00:12:34:56"), config, "10.0.2.15/24", socketQueue);
        b = new Guest("bench-b", MacAddress.parse("52:55:0a:00:02:02"), config, "10.0.2.2/24", socketQueue);
        VirtualCable.connect(a.card.port(), b.card.port());
        try {
            // resolve both ways before anything is timed
            a.stack.ping(B, 0, java.time.Duration.ofSeconds(2));
            b.stack.ping(A, 0, java.time.Duration.ofSeconds(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        a.stack.close();
        b.stack.close();
    }
}
