package dev.netstack.e1000.robustness;

import static dev.netstack.e1000.E1000Registers.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.netstack.buffer.DmaFault;
import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.e1000.E1000Config;
import dev.netstack.e1000.E1000Device;
import dev.netstack.e1000.E1000Driver;
import dev.netstack.e1000.E1000Error;
import dev.netstack.link.FramePort;
import dev.netstack.link.NetDevice;
import dev.netstack.robustness.Guest;
import dev.netstack.testing.PoolChecks;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A buggy (or hostile) driver: arbitrary register writes and reads, descriptor and buffer contents
 * anywhere in guest memory, frames arriving and timer ticks in any order, straight at the
 * {@link E1000Device}. The card must never throw, never count an internal error, never put a frame
 * longer than its maximum on the wire, and must work again after a reset and a fresh driver.
 */
class E1000DeviceFuzzTest {
    private static final int BUFFERS = 48;
    private static final int RING = 8;
    private static final int[] REGISTERS = {CTRL, STATUS, ICR, ITR, ICS, IMS, IMC, RCTL, RDBAL, RDBAH, RDLEN, RDH, RDT,
            RDTR, RADV, TCTL, TIPG, TDBAL, TDBAH, TDLEN, TDH, TDT, TIDV, TADV, MTA, RAL, RAH, EERD, MDIC, MPC, RNBC, GPRC};

    @FuzzTest(maxDuration = "60s")
    void registerWritesAndDescriptorsFromABuggyDriver(FuzzedDataProvider data) {
        DmaMemory memory = DmaMemory.allocate(BUFFERS * Mbuf.SIZE + 4 * 4096 * 16 + 65536);
        MbufPool pool = MbufPool.carve(memory, BUFFERS, true);
        long[] now = {1_000_000_000L};
        E1000Device card = new E1000Device(memory, Guest.GUEST_MAC, () -> now[0]);
        List<Integer> wire = new ArrayList<>();
        card.port().attach(frame -> wire.add(frame.remaining()));
        FramePort port = card.port();
        // start from a working setup half the time: the fuzzer then breaks a live card, not only a cold one
        if (data.consumeBoolean()) {
            new E1000Driver(card, memory, pool, Guest.GUEST_MAC, E1000Config.defaults().withRingSizes(RING, RING));
        }
        int operations = data.consumeInt(1, 64);
        for (int i = 0; i < operations && data.remainingBytes() > 0; i++) {
            switch (data.consumeInt(0, 6)) {
                case 0:
                    card.write(register(data), value(data, memory));
                    break;
                case 1:
                    card.read(register(data));
                    break;
                case 2: {   // a descriptor (or anything) written somewhere in guest memory
                    long address = data.consumeBoolean() ? data.consumeLong(0, memory.size() - 16) & ~15L : data.consumeLong();
                    try {
                        memory.write64le(address, data.consumeLong());
                        memory.write64le(address + 8, data.consumeLong());
                    } catch (DmaFault | IndexOutOfBoundsException | IllegalArgumentException outside) {
                        // the test's own write missed guest memory; not the card's business
                    }
                    break;
                }
                case 3:
                    port.receiveFrame(ByteBuffer.wrap(data.consumeBytes(data.consumeInt(0, 2000))));
                    break;
                case 4:
                    now[0] += data.consumeLong(0, 1_000_000_000L);
                    card.tick();
                    break;
                case 5:
                    card.processTransmitRing();
                    break;
                default:
                    card.interruptAsserted();
                    card.read(STATUS);
            }
        }
        assertThat(card.errorCount(E1000Error.INTERNAL)).as("internal errors (exceptions contained by the card)").isZero();
        for (int length : wire) {
            assertThat(length).as("frame on the wire").isBetween(1, E1000Device.MAX_TRANSMIT_FRAME);
        }

        // a reset and a fresh driver bring it back: a frame out and a frame in
        MbufPool fresh = MbufPool.carve(memory, RING * 2 + 8, true);
        E1000Driver driver = new E1000Driver(card, memory, fresh, Guest.GUEST_MAC, E1000Config.defaults().withRingSizes(RING, RING));
        try {
            wire.clear();
            Mbuf out = fresh.allocate();
            out.append(ByteBuffer.wrap(frame(Guest.PEER_MAC.bits(), Guest.GUEST_MAC.bits())));
            assertThat(driver.transmit(out)).isEqualTo(NetDevice.TRANSMITTED);
            driver.reclaimTransmitted();
            assertThat(wire).as("frames sent after the reset").containsExactly(60);
            port.receiveFrame(ByteBuffer.wrap(frame(Guest.GUEST_MAC.bits(), Guest.PEER_MAC.bits())));
            List<Integer> in = new ArrayList<>();
            driver.receive(m -> {
                in.add(m.length());
                m.free();
            }, 8);
            assertThat(in).as("frames received after the reset").containsExactly(60);
        } finally {
            driver.close();
        }
        PoolChecks.assertWhole(fresh);
    }

    private static int register(FuzzedDataProvider data) {
        int choice = data.consumeInt(0, REGISTERS.length + 2);
        if (choice < REGISTERS.length) {
            return REGISTERS[choice];
        }
        return choice == REGISTERS.length ? data.consumeInt(0, REGISTER_SPACE / 4) * 4 : data.consumeInt();
    }

    /** Small numbers, addresses inside guest memory, or anything at all. */
    private static int value(FuzzedDataProvider data, DmaMemory memory) {
        switch (data.consumeInt(0, 3)) {
            case 0:
                return data.consumeInt(0, 64);
            case 1:
                return data.consumeInt(0, memory.size() - 1) & ~127;
            default:
                return data.consumeInt();
        }
    }

    private static byte[] frame(long to, long from) {
        ByteBuffer b = ByteBuffer.allocate(60);
        dev.netstack.wire.MacAddress.write(b, 0, to);
        dev.netstack.wire.MacAddress.write(b, 6, from);
        b.putShort(12, (short) 0x88b5);
        return b.array();
    }
}
