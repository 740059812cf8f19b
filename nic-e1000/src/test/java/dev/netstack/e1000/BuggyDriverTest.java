package dev.netstack.e1000;

import static dev.netstack.e1000.E1000Registers.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.netstack.buffer.DmaMemory;
import dev.netstack.link.NetDevice;
import dev.netstack.testing.PoolChecks;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A driver that programs the card wrongly must not hang, crash or corrupt it: each case below
 * returns promptly, is counted under its reason, and a reset plus re-initialisation makes the card
 * work again.
 */
class BuggyDriverTest {
    private static final int RING = 8;

    /** Writes a raw legacy transmit descriptor at TDT and bumps TDT, as a careless driver would. */
    private static void rawTransmit(Rig.Side side, long address, int length, int command) {
        E1000Device card = side.card;
        long ring = card.read(TDBAL) & 0xffff_ffffL;
        int tail = card.read(TDT);
        new TransmitDescriptor().wrap(side.memory, ring + 16L * tail).legacy(address, length, command, 0, 0);
        card.write(TDT, (tail + 1) % RING);
    }

    private static void arrive(Rig rig) {
        rig.b.card.receiveFrame(ByteBuffer.wrap(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 5)));
    }

    private static final int EOP_RS = TransmitDescriptor.CMD_EOP | TransmitDescriptor.CMD_RS;

    static Stream<Arguments> cases() {
        return Stream.of(
                bug("TDH past the ring", E1000Error.HEAD_OUT_OF_RANGE, rig -> {
                    rig.a.card.write(TDH, 4000);
                    rig.a.card.write(TDT, 1);
                }),
                bug("TDT past the ring", E1000Error.TAIL_OUT_OF_RANGE, rig -> rig.a.card.write(TDT, 0xffff)),
                bug("RDH past the ring", E1000Error.HEAD_OUT_OF_RANGE, rig -> {
                    rig.a.card.write(RDH, 999);
                    rig.a.card.receiveFrame(ByteBuffer.wrap(Rig.numberedFrame(Rig.GUEST_MAC, Rig.GATEWAY_MAC, 1)));
                }),
                bug("RDT past the ring", E1000Error.TAIL_OUT_OF_RANGE, rig -> {
                    rig.a.card.write(RDT, 4096);
                    rig.a.card.receiveFrame(ByteBuffer.wrap(Rig.numberedFrame(Rig.GUEST_MAC, Rig.GATEWAY_MAC, 1)));
                }),
                bug("TDLEN of 0", E1000Error.RING_LENGTH, rig -> {
                    rig.a.card.write(TDLEN, 0);
                    rig.a.card.write(TDT, 1);
                }),
                bug("TDLEN not a multiple of 128", E1000Error.RING_LENGTH, rig -> {
                    rig.a.card.write(TDLEN, 100);
                    rig.a.card.write(TDT, 1);
                }),
                bug("RDLEN of 0", E1000Error.RING_LENGTH, rig -> {
                    rig.a.card.write(RDLEN, 0);
                    rig.a.card.receiveFrame(ByteBuffer.wrap(Rig.numberedFrame(Rig.GUEST_MAC, Rig.GATEWAY_MAC, 1)));
                }),
                bug("transmit ring outside memory", E1000Error.RING_ADDRESS, rig -> {
                    rig.a.card.write(TDBAH, 0x10);
                    rig.a.card.write(TDT, 1);
                }),
                bug("receive ring outside memory", E1000Error.RING_ADDRESS, rig -> {
                    rig.a.card.write(RDBAL, rig.a.memory.size() - 64);
                    rig.a.card.receiveFrame(ByteBuffer.wrap(Rig.numberedFrame(Rig.GUEST_MAC, Rig.GATEWAY_MAC, 1)));
                }),
                bug("transmit buffer outside memory", E1000Error.DMA_FAULT,
                        rig -> rawTransmit(rig.a, 0xdead_0000_0000L, 60, EOP_RS)),
                bug("receive buffer outside memory", E1000Error.DMA_FAULT, rig -> {
                    long ring = rig.b.card.read(RDBAL) & 0xffff_ffffL;
                    int head = rig.b.card.read(RDH);
                    rig.b.memory.write64le(ring + 16L * head, -4096L);
                    arrive(rig);
                }),
                bug("zero-length descriptor", E1000Error.ZERO_LENGTH, rig -> rawTransmit(rig.a, 0, 0, EOP_RS)),
                bug("chain without EOP over the whole ring", E1000Error.MISSING_EOP, rig -> {
                    for (int i = 0; i < RING - 1; i++) {
                        rawTransmit(rig.a, 4096, 64, TransmitDescriptor.CMD_RS);
                    }
                }),
                bug("frame over the maximum", E1000Error.OVERSIZE, rig -> {
                    rawTransmit(rig.a, 0, 0xffff, TransmitDescriptor.CMD_RS);
                    rawTransmit(rig.a, 0, 0xffff, EOP_RS);
                }),
                bug("unknown extended descriptor type", E1000Error.BAD_DESCRIPTOR, rig -> {
                    E1000Device card = rig.a.card;
                    long ring = card.read(TDBAL) & 0xffff_ffffL;
                    int tail = card.read(TDT);
                    rig.a.memory.write64le(ring + 16L * tail, 0);
                    rig.a.memory.write64le(ring + 16L * tail + 8, (0xfL << 20) | (long) (TransmitDescriptor.CMD_DEXT | EOP_RS) << 24);
                    card.write(TDT, tail + 1);
                }),
                bug("unaligned and out-of-range register offsets", E1000Error.BAD_REGISTER, rig -> {
                    rig.a.card.write(3, -1);
                    rig.a.card.write(REGISTER_SPACE, -1);
                    assertThat(rig.a.card.read(-4)).isZero();
                }));
    }

    private static Arguments bug(String name, E1000Error reason, Consumer<Rig> action) {
        return Arguments.of(name, reason, action);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void cardSurvivesCountsAndRecoversAfterReset(String name, E1000Error reason, Consumer<Rig> bug) {
        Rig rig = Rig.withRings(RING);
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(5), () -> bug.accept(rig), name + " must not hang");
            E1000Device card = reason == E1000Error.DMA_FAULT && name.startsWith("receive") ? rig.b.card : rig.a.card;
            assertThat(card.errorCount(reason)).as("%s counted as %s", name, reason).isPositive();

            // The broken card answers registers sanely...
            assertThat(card.read(STATUS) & STATUS_LU).isNotZero();
            // ...and a reset with a fresh initialisation makes it work again, both directions.
            for (Rig.Side side : new Rig.Side[] {rig.a, rig.b}) {
                side.driver.close();
                side.driver = new E1000Driver(side.card, side.memory, side.pool, side.mac,
                        E1000Config.defaults().withRingSizes(RING, RING));
            }
            long errorsBefore = rig.a.card.errorCount() + rig.b.card.errorCount();
            for (int i = 0; i < 3 * RING; i++) {
                assertThat(rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, i))).isEqualTo(NetDevice.TRANSMITTED);
                assertThat(rig.b.receive(4)).extracting(Rig::sequenceOf).containsExactly(i);
                assertThat(rig.b.send(Rig.numberedFrame(Rig.GUEST_MAC, Rig.GATEWAY_MAC, i))).isEqualTo(NetDevice.TRANSMITTED);
                assertThat(rig.a.receive(4)).extracting(Rig::sequenceOf).containsExactly(i);
            }
            assertThat(rig.a.card.errorCount() + rig.b.card.errorCount()).isEqualTo(errorsBefore);
            assertThat(rig.a.card.read(TDH)).isBetween(0, RING - 1);
            assertThat(rig.b.card.read(RDH)).isBetween(0, RING - 1);
        } finally {
            rig.close();
        }
        PoolChecks.assertWhole(rig.a.pool);
        PoolChecks.assertWhole(rig.b.pool);
    }

    @ParameterizedTest(name = "ring size {0}")
    @org.junit.jupiter.params.provider.ValueSource(ints = {0, 4, 12, 4104, -8})
    void invalidRingSizesAreRefusedWithAClearMessage(int size) {
        org.assertj.core.api.Assertions.assertThatIllegalArgumentException()
                .isThrownBy(() -> E1000Config.defaults().withRingSizes(size, 256))
                .withMessageContaining("receive ring size must be a multiple of 8 from 8 to 4096")
                .withMessageContaining(String.valueOf(size));
    }

    @org.junit.jupiter.api.Test
    void poolTooSmallForTheReceiveRingIsRefused() {
        DmaMemory memory = DmaMemory.allocate(1 << 20);
        dev.netstack.buffer.MbufPool pool = dev.netstack.buffer.MbufPool.carve(memory, 16, true);
        E1000Device card = new E1000Device(memory, Rig.GUEST_MAC);
        org.assertj.core.api.Assertions.assertThatIllegalArgumentException()
                .isThrownBy(() -> new E1000Driver(card, memory, pool, Rig.GUEST_MAC, E1000Config.defaults()))
                .withMessageContaining("receive ring of 256 descriptors");
        PoolChecks.assertWhole(pool);
    }
}
