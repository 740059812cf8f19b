package dev.netstack.e1000;

import dev.netstack.NetStack;
import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.link.TestPeer;
import dev.netstack.link.VirtualCable;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Two E1000 cards with their drivers, each in its own guest memory, joined by a cable. */
final class Rig implements AutoCloseable {
    static final MacAddress GUEST_MAC = MacAddress.parse("52:54:00:12:34:56");
    static final MacAddress GATEWAY_MAC = MacAddress.parse("52:55:0a:00:02:02");

    final Side a;
    final Side b;
    final VirtualCable cable;

    Rig(E1000Config configA, E1000Config configB) {
        this(configA, configB, E1000Device.SYSTEM_CLOCK);
    }

    Rig(E1000Config configA, E1000Config configB, E1000Device.Clock clock) {
        a = new Side(GUEST_MAC, configA, clock);
        b = new Side(GATEWAY_MAC, configB, clock);
        cable = VirtualCable.connect(a.card.port(), b.card.port());
    }

    /** A driver wait that may be interrupted: {@code awaitReceive}, {@code awaitBacklog}. */
    @FunctionalInterface
    interface Wait {
        boolean await() throws InterruptedException;
    }

    /** Runs {@code wait} on another thread; an interrupt there fails the future. */
    static CompletableFuture<Boolean> inBackground(Wait wait) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return wait.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** The addresses {@link #stackA()} and {@link #stackB()} take. */
    static final Ipv4Address A_ADDRESS = Ipv4Address.parse("10.0.2.15");
    static final Ipv4Address B_ADDRESS = Ipv4Address.parse("10.0.2.2");

    /** A stack on side a's driver, at {@link #A_ADDRESS}/24; the caller closes it. */
    NetStack stackA() {
        return NetStack.builder().device(a.driver).address(A_ADDRESS + "/24").build();
    }

    /** A stack on side b's driver, at {@link #B_ADDRESS}/24; the caller closes it. */
    NetStack stackB() {
        return NetStack.builder().device(b.driver).address(B_ADDRESS + "/24").build();
    }

    /**
     * For a reader that is not reading: sends {@code count} datagrams from {@code sender} to
     * {@code reader}'s port at {@link #B_ADDRESS}, {@code step} at a time, and after each step waits
     * until the receiving stack's thread has queued them all on {@code reader} (a step must fit in
     * the ring, since nobody polls it meanwhile).
     */
    static void queueUnread(UdpSocket sender, UdpSocket reader, int count, int step) {
        ByteBuffer payload = ByteBuffer.allocateDirect(64);
        int before = reader.queuedDatagrams();
        for (int sent = 0; sent < count; ) {
            for (int i = 0; i < step && sent < count; i++, sent++) {
                sender.sendTo(payload.clear(), B_ADDRESS, reader.localPort());
            }
            int queued = before + sent;
            TestPeer.awaitTrue(() -> reader.queuedDatagrams() == queued, "the receive thread queues");
        }
    }

    static Rig withRings(int ring) {
        E1000Config config = E1000Config.defaults().withRingSizes(ring, ring);
        return new Rig(config.withName("a"), config.withName("b"));
    }

    @Override
    public void close() {
        a.close();
        b.close();
    }

    /** One card, its guest memory, pool and driver. */
    static final class Side {
        final DmaMemory memory;
        final MbufPool pool;
        final E1000Device card;
        E1000Driver driver;
        final MacAddress mac;

        Side(MacAddress mac, E1000Config config, E1000Device.Clock clock) {
            this.mac = mac;
            int buffers = config.receiveRingSize() + config.transmitRingSize() + 64;
            // room for the pool, two sets of rings (a re-initialised driver carves new ones) and a spare page
            memory = DmaMemory.allocate(buffers * Mbuf.SIZE + 4 * 4096 * 16 + 65536);
            pool = MbufPool.carve(memory, buffers, true);
            card = new E1000Device(memory, mac, clock);
            driver = new E1000Driver(card, memory, pool, mac, config);
        }

        /** Copies {@code frame} into a fresh mbuf and transmits it; returns the driver's result. */
        int send(byte[] frame) {
            Mbuf mbuf = pool.allocate();
            if (mbuf == null) {
                throw new IllegalStateException("test pool exhausted");
            }
            mbuf.append(ByteBuffer.wrap(frame));
            int result = driver.transmit(mbuf);
            if (result != E1000Driver.TRANSMITTED) {
                mbuf.free();
            }
            return result;
        }

        /** Receives up to {@code budget} frames, copying each out and freeing its mbuf. */
        List<byte[]> receive(int budget) {
            List<byte[]> frames = new ArrayList<>();
            driver.receive(m -> {
                byte[] bytes = new byte[m.length()];
                m.buffer().get(m.head(), bytes);
                frames.add(bytes);
                m.free();
            }, budget);
            return frames;
        }

        void close() {
            if (driver != null) {
                driver.close();
            }
        }
    }

    /** A 60-byte frame to {@code to} from {@code from} carrying {@code sequence}, ethertype 0x88B5 (local experimental). */
    static byte[] numberedFrame(MacAddress to, MacAddress from, int sequence) {
        ByteBuffer frame = ByteBuffer.allocate(60);
        MacAddress.write(frame, 0, to.bits());
        MacAddress.write(frame, 6, from.bits());
        frame.putShort(12, (short) 0x88b5);
        frame.putInt(14, sequence);
        for (int i = 18; i < 60; i++) {
            frame.put(i, (byte) (sequence + i));
        }
        return frame.array();
    }

    static int sequenceOf(byte[] frame) {
        return ByteBuffer.wrap(frame).getInt(14);
    }
}
