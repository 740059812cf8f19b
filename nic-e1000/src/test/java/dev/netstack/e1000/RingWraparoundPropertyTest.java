package dev.netstack.e1000;

import static dev.netstack.e1000.E1000Registers.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.link.NetDevice;
import dev.netstack.link.VirtualCable;
import dev.netstack.testing.PoolChecks;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;

/**
 * Model-based test of both rings: random interleavings of driver transmit (one frame or a burst
 * with one tail write) and reclaim, the card's
 * transmit engine, frames arriving from the wire, driver receive and unrelated register accesses,
 * compared after every step with a FIFO model. Failures shrink to a short operation list.
 *
 * <p>Card A (transmit side) fetches descriptors only when the test says so, which lets the driver
 * run ahead of the card and fill its ring; card B (receive side) fills its ring as frames arrive.
 */
class RingWraparoundPropertyTest {

    enum Kind { TRANSMIT, BURST, RECLAIM, CARD_TRANSMIT, ARRIVE, RECEIVE, REGISTER }

    record Op(Kind kind, int argument) {
        @Override
        public String toString() {
            return kind + "(" + argument + ")";
        }
    }

    private static final Kind[] WEIGHTED = {
        Kind.TRANSMIT, Kind.TRANSMIT, Kind.BURST, Kind.BURST, Kind.RECLAIM, Kind.CARD_TRANSMIT, Kind.CARD_TRANSMIT,
        Kind.ARRIVE, Kind.RECEIVE, Kind.RECEIVE, Kind.REGISTER,
    };

    private static Gen<Op> operations() {
        return integers().between(0, WEIGHTED.length - 1).zip(integers().between(1, 24),
                (k, n) -> new Op(WEIGHTED[k], n));
    }

    /** Mostly small rings that wrap often, some medium, a few of the 4096 maximum; shrinks toward 8. */
    private static Gen<Integer> ringSizes() {
        return integers().between(0, 99).map(p -> p < 70 ? 8 * (1 + p % 4) : p < 96 ? 8 * (5 + 4 * (p - 70)) : 4096);
    }

    @Test
    void ringsNeverLoseDuplicateOrReorderFrames() {
        qt().withExamples(120).withShrinkCycles(300)
                .forAll(ringSizes(), lists().of(operations()).ofSizeBetween(1, 400))
                .checkAssert(RingWraparoundPropertyTest::run);
    }

    @Test
    void aLongRunOnTheSmallestRing() {
        List<Op> ops = new ArrayList<>();
        java.util.Random random = new java.util.Random(8254);
        for (int i = 0; i < 20_000; i++) {
            ops.add(new Op(WEIGHTED[random.nextInt(WEIGHTED.length)], 1 + random.nextInt(24)));
        }
        run(8, ops);
    }

    private static void run(int ring, List<Op> ops) {
        new Harness(ring).run(ops);
    }

    private static final class Harness {
        final int ring;
        final DmaMemory memory;
        final MbufPool pool;
        final E1000Device cardA;
        final E1000Device cardB;
        final E1000Driver sender;
        final E1000Driver receiver;
        final long[] ownedBefore;
        final ByteBuffer arriving = ByteBuffer.allocate(60);

        final ArrayDeque<Integer> inTransmitRing = new ArrayDeque<>();
        final ArrayDeque<Integer> inReceiveRing = new ArrayDeque<>();
        /** How many receive descriptors the driver takes before it refills them and moves RDT. */
        final int refillInterval;
        /** Receive descriptors taken and not yet handed back: the card cannot fill them. */
        int awaitingRefill;
        long dropped;
        int nextSequence;
        int nextArrival = 1_000_000;

        Harness(int ring) {
            this.ring = ring;
            this.refillInterval = Math.max(1, Math.min(16, ring / 4));
            int buffers = 8 + 2 * ring + 8;
            memory = DmaMemory.allocate(buffers * Mbuf.SIZE + 4 * ring * 16 + 8192);
            pool = MbufPool.carve(memory, buffers, true);
            cardA = new E1000Device(memory, Rig.GUEST_MAC);
            cardB = new E1000Device(memory, Rig.GATEWAY_MAC);
            VirtualCable.connect(cardA.port(), cardB.port());
            sender = new E1000Driver(cardA, memory, pool, Rig.GUEST_MAC,
                    E1000Config.defaults().withName("a").withRingSizes(8, ring));
            receiver = new E1000Driver(cardB, memory, pool, Rig.GATEWAY_MAC,
                    E1000Config.defaults().withName("b").withRingSizes(ring, 8));
            cardA.transmitOnTailWrite(false);
            ownedBefore = new long[4 * ring];
        }

        void run(List<Op> ops) {
            try {
                for (Op op : ops) {
                    step(op);
                    checkInvariants(op);
                }
                // drain: everything still queued comes out in order
                step(new Op(Kind.CARD_TRANSMIT, 0));
                step(new Op(Kind.RECEIVE, ring));
                checkInvariants(new Op(Kind.RECEIVE, ring));
                assertThat(inReceiveRing).isEmpty();
            } finally {
                sender.close();
                receiver.close();
                cardA.powerOff();
                cardB.powerOff();
            }
            PoolChecks.assertWhole(pool);
        }

        void step(Op op) {
            switch (op.kind()) {
                case TRANSMIT -> driverOperation(() -> {
                    for (int i = 0; i < op.argument(); i++) {
                        Mbuf mbuf = pool.allocate();
                        mbuf.append(ByteBuffer.wrap(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, nextSequence)));
                        int result = sender.transmit(mbuf);
                        if (inTransmitRing.size() == ring - 1) {
                            assertThat(result).as("ring full with %d in flight", ring - 1).isEqualTo(NetDevice.RING_FULL);
                            mbuf.free();
                        } else {
                            assertThat(result).isEqualTo(NetDevice.TRANSMITTED);
                            inTransmitRing.add(nextSequence++);
                        }
                    }
                });
                case BURST -> driverOperation(() -> {
                    int size = Math.min(op.argument(), pool.available());
                    Mbuf[] burst = new Mbuf[size + 2];
                    int offset = op.argument() % 3;   // bursts need not start at index 0
                    for (int i = 0; i < size; i++) {
                        burst[offset + i] = pool.allocate();
                        burst[offset + i].append(ByteBuffer.wrap(
                                Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, nextSequence + i)));
                    }
                    int room = ring - 1 - inTransmitRing.size();
                    int tdtBefore = cardA.read(TDT);
                    int taken = sender.transmit(burst, offset, size);
                    assertThat(taken).as("a burst of %d with %d descriptors free", size, room)
                            .isEqualTo(Math.min(size, room));
                    assertThat(cardA.read(TDT)).as("TDT moved past the burst").isEqualTo((tdtBefore + taken) % ring);
                    for (int i = 0; i < taken; i++) {
                        inTransmitRing.add(nextSequence++);
                    }
                    for (int i = taken; i < size; i++) {
                        burst[offset + i].free();   // the caller keeps what did not fit
                    }
                });
                case RECLAIM -> driverOperation(() -> {
                    sender.reclaimTransmitted();
                    assertThat(sender.transmitInFlight()).isEqualTo(inTransmitRing.size());
                });
                case CARD_TRANSMIT -> {
                    cardA.processTransmitRing();
                    while (!inTransmitRing.isEmpty()) {
                        arrive(inTransmitRing.poll());
                    }
                }
                case ARRIVE -> {
                    for (int i = 0; i < op.argument(); i++) {
                        int sequence = nextArrival++;
                        arriving.clear();
                        arriving.put(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, sequence)).flip();
                        cardB.receiveFrame(arriving);
                        assertThat(arriving.position()).isZero();
                        assertThat(arriving.limit()).isEqualTo(60);
                        arrive(sequence);
                    }
                }
                case RECEIVE -> driverOperation(() -> {
                    List<Integer> got = new ArrayList<>();
                    int delivered = receiver.receive(m -> {
                        byte[] bytes = new byte[m.length()];
                        m.buffer().get(m.head(), bytes);
                        assertThat(bytes).isEqualTo(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, Rig.sequenceOf(bytes)));
                        got.add(Rig.sequenceOf(bytes));
                        m.free();
                    }, op.argument());
                    List<Integer> expected = new ArrayList<>();
                    for (int i = 0; i < op.argument() && !inReceiveRing.isEmpty(); i++) {
                        expected.add(inReceiveRing.poll());
                    }
                    assertThat(got).isEqualTo(expected);
                    assertThat(delivered).isEqualTo(expected.size());
                    awaitingRefill = (awaitingRefill + delivered) % refillInterval;
                });
                case REGISTER -> {
                    switch (op.argument() % 6) {
                        case 0 -> cardB.read(ICR);
                        case 1 -> cardB.write(ICS, op.argument() << 3);
                        case 2 -> cardB.write(IMS, ICR_RXT0 | ICR_RXO);
                        case 3 -> cardB.write(IMC, 0xffff_ffff);
                        case 4 -> cardB.read(MPC);     // clear on read must not disturb anything else
                        default -> cardA.read(GOTCH);
                    }
                }
            }
        }

        void arrive(int sequence) {
            if (inReceiveRing.size() < ring - 1 - awaitingRefill) {
                inReceiveRing.add(sequence);
            } else {
                dropped++;   // RDH == RDT: the card must count it as missed
            }
        }

        /** Runs a driver operation and checks it wrote no descriptor the cards own. */
        void driverOperation(Runnable operation) {
            int tdh = cardA.read(TDH), tdt = cardA.read(TDT);
            int rdh = cardB.read(RDH), rdt = cardB.read(RDT);
            long txRing = cardA.read(TDBAL) & 0xffff_ffffL;
            long rxRing = cardB.read(RDBAL) & 0xffff_ffffL;
            int n = 0;
            for (int i = tdh; i != tdt; i = (i + 1) % ring) {
                ownedBefore[n++] = memory.read64le(txRing + 16L * i);
                ownedBefore[n++] = memory.read64le(txRing + 16L * i + 8);
            }
            for (int i = rdh; i != rdt; i = (i + 1) % ring) {
                ownedBefore[n++] = memory.read64le(rxRing + 16L * i);
                ownedBefore[n++] = memory.read64le(rxRing + 16L * i + 8);
            }
            operation.run();
            n = 0;
            for (int i = tdh; i != tdt; i = (i + 1) % ring) {
                assertThat(memory.read64le(txRing + 16L * i)).as("card-owned TX descriptor %d", i).isEqualTo(ownedBefore[n++]);
                assertThat(memory.read64le(txRing + 16L * i + 8)).as("card-owned TX descriptor %d", i).isEqualTo(ownedBefore[n++]);
            }
            for (int i = rdh; i != rdt; i = (i + 1) % ring) {
                assertThat(memory.read64le(rxRing + 16L * i)).as("card-owned RX descriptor %d", i).isEqualTo(ownedBefore[n++]);
                assertThat(memory.read64le(rxRing + 16L * i + 8)).as("card-owned RX descriptor %d", i).isEqualTo(ownedBefore[n++]);
            }
        }

        void checkInvariants(Op after) {
            int tdh = cardA.read(TDH), tdt = cardA.read(TDT);
            int rdh = cardB.read(RDH), rdt = cardB.read(RDT);
            assertThat(tdh).as("TDH after %s", after).isBetween(0, ring - 1);
            assertThat(tdt).as("TDT after %s", after).isBetween(0, ring - 1);
            assertThat(rdh).as("RDH after %s", after).isBetween(0, ring - 1);
            assertThat(rdt).as("RDT after %s", after).isBetween(0, ring - 1);
            assertThat(Math.floorMod(tdt - tdh, ring)).as("TX descriptors owned by the card").isEqualTo(inTransmitRing.size());
            assertThat(Math.floorMod(rdt - rdh, ring)).as("free RX descriptors the card owns")
                    .isEqualTo(ring - 1 - inReceiveRing.size() - awaitingRefill);
            long rxRing = cardB.read(RDBAL) & 0xffff_ffffL;
            assertThat(memory.read8(rxRing + 16L * rdt + ReceiveDescriptor.STATUS) & ReceiveDescriptor.STATUS_DD)
                    .as("the slot at RDT is always left empty").isZero();
            assertThat(cardB.statisticTotal(MPC)).as("missed frames").isEqualTo(dropped);
            assertThat(cardB.statisticTotal(RNBC)).isEqualTo(dropped);
            assertThat(pool.available() + 8 + ring + sender.transmitInFlight()).as("mbufs accounted for")
                    .isEqualTo(pool.capacity());
            assertThat(cardA.errorCount() + cardB.errorCount()).isZero();
        }
    }
}
