package dev.netstack.e1000.robustness;

import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.e1000.E1000Config;
import dev.netstack.e1000.E1000Device;
import dev.netstack.e1000.E1000Driver;
import dev.netstack.robustness.Guest;

/** A {@link Guest} whose device is an emulated E1000 card and its driver, on a hand-driven card clock. */
final class E1000Guest {
    static final int RING = 16;

    private E1000Guest() {
    }

    /** The card, in its own guest memory, with a clock that never moves (no timer thread, no delays). */
    static E1000Device card(int buffers) {
        DmaMemory memory = DmaMemory.allocate(buffers * Mbuf.SIZE + 4 * 4096 * 16 + 65536);
        return new E1000Device(memory, Guest.GUEST_MAC, () -> 1_000_000_000L);
    }

    static Guest start(E1000Config config, int buffers) {
        E1000Device card = card(buffers);
        MbufPool pool = MbufPool.carve(card.memory(), buffers, true);
        E1000Driver driver = new E1000Driver(card, card.memory(), pool, Guest.GUEST_MAC, config);
        // idle, the driver holds one buffer per receive descriptor and the transmitted ones it reclaims lazily
        return Guest.on(driver, card.port(), () -> {
            driver.reclaimTransmitted();
            return config.receiveRingSize() + driver.transmitInFlight();
        }, Guest.defaultReassembler(pool));
    }

    static Guest start() {
        return start(E1000Config.defaults().withName("e1000-fuzz").withRingSizes(RING, RING), RING * 2 + 96);
    }

    static E1000Device cardOf(Guest guest) {
        return ((E1000Driver) guest.device).card();
    }
}
