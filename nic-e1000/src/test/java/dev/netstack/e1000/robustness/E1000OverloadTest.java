package dev.netstack.e1000.robustness;

import static dev.netstack.e1000.E1000Registers.MPC;
import static dev.netstack.e1000.E1000Registers.RDH;
import static dev.netstack.e1000.E1000Registers.RDT;
import static dev.netstack.e1000.E1000Registers.RNBC;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.NetStack;
import dev.netstack.buffer.MbufPool;
import dev.netstack.e1000.E1000Config;
import dev.netstack.e1000.E1000Device;
import dev.netstack.e1000.E1000Driver;
import dev.netstack.ipv4.Reassembler;
import dev.netstack.link.VirtualCable;
import dev.netstack.metrics.Layer;
import dev.netstack.robustness.Accounting;
import dev.netstack.robustness.Guest;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Frames arriving faster than a guest on an E1000 takes them, and an mbuf pool eaten by a socket that stopped reading. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class E1000OverloadTest {

    @org.junit.jupiter.api.RepeatedTest(10)
    void poolExhaustionAndAFullRingAreCountedByCardAndDriverAndRecoverCompletely() throws Exception {
        int ring = 16;
        int buffers = ring * 2 + 48;
        E1000Device card = E1000Guest.card(buffers);
        MbufPool pool = MbufPool.carve(card.memory(), buffers, true);
        E1000Driver driver = new E1000Driver(card, card.memory(), pool, Guest.GUEST_MAC,
                E1000Config.defaults().withName("overload").withRingSizes(ring, ring));
        Guest.Wire wire = new Guest.Wire();
        VirtualCable.connect(card.port(), wire);
        Reassembler reassembler = Guest.defaultReassembler(pool);
        try (NetStack stack = NetStack.builder().device(driver).address(Guest.GUEST_IP, 24).gateway(Guest.PEER_IP)
                .reassembler(reassembler).socketQueue(100_000, 64 << 20).build();
             UdpSocket socket = stack.openUdpSocket().bind(Guest.SINK_PORT)) {
            // a socket that does not read: its queue takes every buffer, then the card runs dry
            for (int i = 0; i < 5_000; i++) {
                wire.send(Guest.udpToGuest(Guest.PEER_IP, 5555, Guest.SINK_PORT, ByteBuffer.allocate(64).putInt(0, i).array()));
            }
            stack.receiveNow();
            long missed = card.statisticTotal(MPC);
            long noBuffer = card.statisticTotal(RNBC);
            long driverNoBuffer = driver.drops(E1000Driver.Drop.NO_BUFFER);
            assertThat(missed + driverNoBuffer).as("frames lost for want of buffers (card MPC %d, driver no_buffer %d)",
                    missed, driverNoBuffer).isPositive();
            assertThat(noBuffer).as("RNBC counts with MPC").isEqualTo(missed);
            assertThat(socket.queuedDatagrams()).isLessThanOrEqualTo(buffers);

            // the application reads again: every buffer comes back and traffic flows
            ByteBuffer into = ByteBuffer.allocate(2048);
            while (socket.tryReceive(into.clear()) != null) {
                // drain
            }
            stack.receiveNow();
            driver.reclaimTransmitted();
            assertThat(pool.available()).as("free buffers after the drain").isEqualTo(buffers - ring - driver.transmitInFlight());
            long missedBefore = card.statisticTotal(MPC);
            for (int i = 0; i < 200; i++) {
                // request and answer in lock step: each datagram is sent the moment the previous one
                // reached the socket, while the driver may still be in its batch. The card must never
                // find its ring used up (a driver that returned descriptors only at the end of a batch did)
                long missedSoFar = card.statisticTotal(MPC);
                wire.send(Guest.udpToGuest(Guest.PEER_IP, 5555, Guest.SINK_PORT, ByteBuffer.allocate(64).putInt(0, i).array()));
                assertThat(card.statisticTotal(MPC)).as("datagram %d missed by the card (RDH %d, RDT %d)", i,
                        card.read(RDH), card.read(RDT)).isEqualTo(missedSoFar);
                assertThat(socket.receive(into.clear(), Duration.ofSeconds(5))).as("datagram %d after recovery", i).isNotNull();
                assertThat(into.getInt(0)).isEqualTo(i);
            }
            assertThat(card.statisticTotal(MPC)).as("no frame missed once the guest keeps up").isEqualTo(missedBefore);
            stack.receiveNow();
            assertThat(stack.counters().packetsIn(Layer.ETHERNET)).isPositive();
            Accounting.assertBalanced(stack.counters(), reassembler, socket.receivedDatagrams() + socket.queuedDatagrams());
        }
        PoolChecks.assertWhole(pool);
    }
}
