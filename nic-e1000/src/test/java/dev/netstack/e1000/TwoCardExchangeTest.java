package dev.netstack.e1000;

import static dev.netstack.e1000.E1000Registers.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.buffer.Mbuf;
import dev.netstack.link.NetDevice;
import dev.netstack.testing.Fixtures;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.InternetChecksum;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Two cards and drivers on a cable, no stack: what one driver transmits the other receives. */
class TwoCardExchangeTest {
    private Rig rig;

    @AfterEach
    void poolsAreWhole() {
        if (rig != null) {
            rig.close();
            PoolChecks.assertWhole(rig.a.pool);
            PoolChecks.assertWhole(rig.b.pool);
        }
    }

    /** What the card puts on the wire: short frames padded with zeros to 60 bytes (TCTL.PSP). */
    private static byte[] onTheWire(byte[] frame) {
        return frame.length >= E1000Device.MIN_FRAME ? frame : Arrays.copyOf(frame, E1000Device.MIN_FRAME);
    }

    @Test
    void xv6LabExchangeCrossesByteForByte() {
        rig = Rig.withRings(E1000Config.DEFAULT_RING_SIZE);
        // a is the guest (52:54:00:12:34:56), b the gateway (52:55:0a:00:02:02)
        byte[] arpRequest = Fixtures.frame(Fixtures.ARP_REQUEST_FROM_GATEWAY);
        byte[] arpReply = Fixtures.frame(Fixtures.ARP_REPLY_FROM_GUEST);
        byte[] udpToHost = Fixtures.frame(Fixtures.UDP_GUEST_TO_HOST);
        byte[] udpToGuest = Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST);

        assertThat(rig.b.send(arpRequest)).isEqualTo(NetDevice.TRANSMITTED);
        assertThat(rig.a.receive(16)).containsExactly(onTheWire(arpRequest));
        assertThat(rig.a.send(arpReply)).isEqualTo(NetDevice.TRANSMITTED);
        assertThat(rig.b.receive(16)).containsExactly(onTheWire(arpReply));
        assertThat(rig.a.send(udpToHost)).isEqualTo(NetDevice.TRANSMITTED);
        assertThat(rig.b.receive(16)).containsExactly(onTheWire(udpToHost));
        assertThat(rig.b.send(udpToGuest)).isEqualTo(NetDevice.TRANSMITTED);
        assertThat(rig.a.receive(16)).containsExactly(onTheWire(udpToGuest));

        // the UDP frames are longer than 60 bytes and cross unchanged
        assertThat(onTheWire(udpToHost)).isSameAs(udpToHost);
        assertThat(rig.a.receive(16)).isEmpty();
        assertThat(rig.b.receive(16)).isEmpty();
        assertThat(rig.a.card.errorCount() + rig.b.card.errorCount()).isZero();
    }

    @Test
    void thousandsOfFramesWrapRingsOfEightManyTimesBothWays() {
        rig = Rig.withRings(8);
        List<Integer> atB = new ArrayList<>();
        List<Integer> atA = new ArrayList<>();
        for (int i = 0; i < 5000; i++) {
            assertThat(rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, i))).isEqualTo(NetDevice.TRANSMITTED);
            assertThat(rig.b.send(Rig.numberedFrame(Rig.GUEST_MAC, Rig.GATEWAY_MAC, -i))).isEqualTo(NetDevice.TRANSMITTED);
            if (i % 5 == 4) {   // the card may hold 7 frames: drain before it runs out
                for (byte[] frame : rig.b.receive(64)) {
                    assertThat(frame).isEqualTo(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, Rig.sequenceOf(frame)));
                    atB.add(Rig.sequenceOf(frame));
                }
                for (byte[] frame : rig.a.receive(64)) {
                    atA.add(-Rig.sequenceOf(frame));
                }
            }
        }
        assertThat(atB).hasSize(5000);
        assertThat(atA).hasSize(5000);
        for (int i = 0; i < 5000; i++) {
            assertThat(atB.get(i)).isEqualTo(i);
            assertThat(atA.get(i)).isEqualTo(i);
        }
        assertThat(rig.b.card.read(MPC)).isZero();
        assertThat(rig.a.card.read(MPC)).isZero();
        assertThat(rig.a.card.statisticTotal(GPTC)).isEqualTo(5000);
        assertThat(rig.b.card.statisticTotal(GPRC)).isEqualTo(5000);
    }

    @Test
    void receivePendingTellsAPollerWhetherTheNextDescriptorIsDone() {
        rig = Rig.withRings(8);
        assertThat(rig.b.driver.receivePending()).as("empty ring").isFalse();
        for (int i = 0; i < 20; i++) {   // round the ring twice, across refills
            rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, i));
            assertThat(rig.b.driver.receivePending()).as("frame %d written back", i).isTrue();
            assertThat(rig.b.receive(16)).hasSize(1);
            assertThat(rig.b.driver.receivePending()).as("frame %d taken", i).isFalse();
        }
        rig.b.driver.close();
        assertThat(rig.b.driver.receivePending()).as("closed").isFalse();
    }

    @Test
    void transmitRingFullLeavesTheCardsDescriptorsAlone() {
        rig = Rig.withRings(8);
        for (Rig.Side side : List.of(rig.a, rig.b)) {
            Rig.Side other = side == rig.a ? rig.b : rig.a;
            side.card.transmitOnTailWrite(false);   // the card has not fetched anything yet
            for (int i = 0; i < 7; i++) {
                assertThat(side.send(Rig.numberedFrame(other.mac, side.mac, i))).isEqualTo(NetDevice.TRANSMITTED);
            }
            Mbuf eighth = side.pool.allocate();
            eighth.append(ByteBuffer.wrap(Rig.numberedFrame(other.mac, side.mac, 7)));
            int available = side.pool.available();
            assertThat(side.driver.transmit(eighth)).isEqualTo(NetDevice.RING_FULL);
            assertThat(side.pool.available()).as("the caller still owns the mbuf").isEqualTo(available);
            assertThat(side.card.read(TDH)).isZero();
            assertThat(side.card.read(TDT)).isEqualTo(7);

            side.card.processTransmitRing();
            assertThat(side.card.read(TDH)).isEqualTo(7);
            assertThat(side.driver.transmit(eighth)).as("reclaim frees the ring").isEqualTo(NetDevice.TRANSMITTED);
            assertThat(side.driver.transmitInFlight()).isEqualTo(1);
            side.card.processTransmitRing();
            side.card.transmitOnTailWrite(true);

            List<byte[]> got = other.receive(64);
            assertThat(got).hasSize(7);   // the eighth found the receive ring full
            for (int i = 0; i < 7; i++) {
                assertThat(Rig.sequenceOf(got.get(i))).isEqualTo(i);
            }
            assertThat(side.driver.reclaimTransmitted()).isEqualTo(1);
            assertThat(side.driver.transmitInFlight()).isZero();
        }
    }

    @Test
    void receiveRingFullDropsCountsMissedAndRaisesRxo() {
        rig = Rig.withRings(8);
        rig.b.card.read(ICR);
        for (int i = 0; i < 10; i++) {
            rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, i));
        }
        // seven descriptors for the card, the eighth (at RDT) is always left empty
        assertThat(rig.b.card.read(RDH)).isEqualTo(rig.b.card.read(RDT));
        assertThat(rig.b.card.read(MPC)).isEqualTo(3);
        assertThat(rig.b.card.read(RNBC)).isEqualTo(3);
        assertThat(rig.b.card.read(MPC)).as("clear on read").isZero();
        assertThat(rig.b.card.read(ICR) & (ICR_RXO | ICR_RXT0 | ICR_RXDMT0)).isEqualTo(ICR_RXO | ICR_RXT0 | ICR_RXDMT0);

        List<byte[]> got = rig.b.receive(64);
        assertThat(got).extracting(Rig::sequenceOf).containsExactly(0, 1, 2, 3, 4, 5, 6);
        rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 10));
        assertThat(rig.b.receive(64)).extracting(Rig::sequenceOf).containsExactly(10);
    }

    @Test
    void interruptMaskingAndIcrClearOnRead() throws Exception {
        rig = Rig.withRings(8);
        E1000Device card = rig.b.card;
        assertThat(card.read(IMS) & ICR_RXT0).as("driver unmasked RXT0").isNotZero();
        assertThat(card.interruptAsserted()).as("plugging the cable changed link status").isTrue();
        assertThat(card.read(ICR)).isEqualTo(ICR_LSC);
        assertThat(card.interruptAsserted()).isFalse();

        rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 1));
        assertThat(card.interruptAsserted()).isTrue();
        assertThat(rig.b.driver.awaitReceive(TimeUnit.SECONDS.toNanos(1))).isTrue();
        assertThat(card.interruptAsserted()).as("awaitReceive read ICR").isFalse();
        assertThat(card.read(ICR)).isZero();
        assertThat(rig.b.receive(8)).hasSize(1);

        // masked: the cause is recorded but the line stays low
        card.write(IMC, ICR_RXT0 | ICR_RXDMT0);
        rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 2));
        assertThat(card.interruptAsserted()).isFalse();
        assertThat(rig.b.driver.awaitReceive(TimeUnit.MILLISECONDS.toNanos(20))).isFalse();
        assertThat(card.read(ICR) & ICR_RXT0).isNotZero();
        assertThat(card.read(ICR)).as("reading ICR cleared it").isZero();

        // unmasking a pending cause asserts at once; ICS raises causes by software
        card.write(ICS, ICR_RXT0);
        assertThat(card.interruptAsserted()).isFalse();
        card.write(IMS, ICR_RXT0);
        assertThat(card.interruptAsserted()).isTrue();
        card.write(ICR, ICR_RXT0);   // writing 1s clears too
        assertThat(card.interruptAsserted()).isFalse();
        card.write(IMS, ICR_TXDW);
        card.write(ICS, ICR_TXDW);
        assertThat(card.interruptAsserted()).isTrue();
        assertThat(card.read(ICR)).isEqualTo(ICR_TXDW);
        card.write(IMC, ICR_TXDW);

        // a waiting receive thread wakes when a frame arrives
        CompletableFuture<Boolean> woke = Rig.inBackground(() -> rig.b.driver.awaitReceive(TimeUnit.SECONDS.toNanos(5)));
        Thread.sleep(50);
        rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 3));
        assertThat(woke.get(5, TimeUnit.SECONDS)).isTrue();
        assertThat(rig.b.receive(8)).extracting(Rig::sequenceOf).containsExactly(2, 3);
    }

    @Test
    void statusShowsLinkAndCtrlResetRestoresDefaults() {
        rig = Rig.withRings(8);
        int status = rig.a.card.read(STATUS);
        assertThat(status & STATUS_LU).isNotZero();
        assertThat(status & STATUS_FD).isNotZero();
        assertThat(status & STATUS_SPEED_MASK).isEqualTo(STATUS_SPEED_1000);
        assertThat(rig.a.driver.isLinkUp()).isTrue();
        rig.cable.disconnect();
        assertThat(rig.a.card.read(STATUS) & STATUS_LU).isZero();
        assertThat(rig.a.driver.isLinkUp()).isFalse();
        assertThat(rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 0))).isEqualTo(NetDevice.LINK_DOWN);
    }

    @Test
    void statisticsRegistersCountExactlyWhatWentThrough() {
        rig = Rig.withRings(64);
        byte[][] frames = {
            Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST),          // unicast, 59 bytes -> padded to 60
            Fixtures.frame(Fixtures.ARP_REQUEST_FROM_GATEWAY),   // broadcast, 42 -> 60
            Rig.numberedFrame(Rig.GUEST_MAC, Rig.GATEWAY_MAC, 9),
        };
        long octets = 0;
        int broadcasts = 0;
        for (int round = 0; round < 10; round++) {
            for (byte[] frame : frames) {
                rig.b.send(frame);
                octets += Math.max(frame.length, 60) + E1000Device.FCS_LENGTH;
                broadcasts += frame[0] == (byte) 0xff ? 1 : 0;
            }
            rig.a.receive(64);
        }
        E1000Device tx = rig.b.card;
        E1000Device rx = rig.a.card;
        assertThat(tx.read(GPTC)).isEqualTo(30);
        assertThat(tx.read(TPT)).isEqualTo(30);
        assertThat(tx.read(BPTC)).isEqualTo(broadcasts);
        assertThat(tx.read(GOTCL)).isEqualTo((int) octets);
        assertThat(tx.read(GOTCH)).isZero();
        assertThat(tx.read(GOTCL)).as("reading the high half cleared the count").isZero();
        assertThat(tx.read(TOTL)).isEqualTo((int) octets);

        assertThat(rx.read(GPRC)).isEqualTo(30);
        assertThat(rx.read(TPR)).isEqualTo(30);
        assertThat(rx.read(BPRC)).isEqualTo(broadcasts);
        assertThat(rx.read(MPRC)).isZero();
        assertThat(rx.read(GORCL)).isEqualTo((int) octets);
        assertThat(rx.read(GORCH)).isZero();
        assertThat(rx.read(TORL)).isEqualTo((int) octets);
        assertThat(rx.read(TORH)).isZero();
        assertThat(rx.read(MPC)).isZero();
        assertThat(rx.read(CRCERRS)).isZero();
        assertThat(rx.read(GPRC)).as("clear on read").isZero();
        assertThat(rx.read(PRC64)).as("every frame was 64 bytes on the wire").isEqualTo(30);
        assertThat(tx.read(PTC64)).isEqualTo(30);
        assertThat(rx.read(PRC127)).isZero();
        // the cumulative copy behind metrics is unaffected by the reads
        assertThat(rx.statisticTotal(GPRC)).isEqualTo(30);
        assertThat(rx.statisticTotal(GORCL)).isEqualTo(octets);
        assertThat(tx.statisticTotal(GOTCH)).isEqualTo(octets);
    }

    @Test
    void statisticsRegistersCountFromTheirLastReadAndFromAResetWhileTotalsRunOn() {
        rig = Rig.withRings(64);
        for (int i = 0; i < 7; i++) {
            rig.b.send(Rig.numberedFrame(Rig.GUEST_MAC, Rig.GATEWAY_MAC, i));
        }
        E1000Device tx = rig.b.card;
        assertThat(tx.read(GPTC)).isEqualTo(7);
        for (int i = 0; i < 3; i++) {
            rig.b.send(Rig.numberedFrame(Rig.GUEST_MAC, Rig.GATEWAY_MAC, i));
        }
        assertThat(tx.read(GPTC)).as("only what came after the read").isEqualTo(3);
        assertThat(tx.read(TPT)).as("a counter not read before has it all").isEqualTo(10);
        rig.b.send(Rig.numberedFrame(Rig.GUEST_MAC, Rig.GATEWAY_MAC, 0));

        tx.write(CTRL, tx.read(CTRL) | CTRL_RST);

        assertThat(tx.read(GPTC)).as("a reset clears the registers").isZero();
        assertThat(tx.read(GOTCL)).isZero();
        assertThat(tx.read(GOTCH)).isZero();
        assertThat(tx.statisticTotal(GPTC)).as("and leaves the totals behind metrics").isEqualTo(11);
        assertThat(tx.statisticTotal(TPT)).isEqualTo(11);
    }

    @Test
    void filteringFollowsRalRahBamMtaAndPromiscuousBits() {
        rig = Rig.withRings(16);
        E1000Device card = rig.a.card;
        byte[] toOther = Rig.numberedFrame(dev.netstack.wire.MacAddress.parse("02:00:00:00:00:99"), Rig.GATEWAY_MAC, 1);
        byte[] broadcast = Rig.numberedFrame(dev.netstack.wire.MacAddress.BROADCAST, Rig.GATEWAY_MAC, 2);
        dev.netstack.wire.MacAddress group = dev.netstack.wire.MacAddress.parse("01:00:5e:00:00:fb");
        byte[] multicast = Rig.numberedFrame(group, Rig.GATEWAY_MAC, 3);

        rig.b.send(toOther);
        rig.b.send(broadcast);
        rig.b.send(multicast);
        assertThat(rig.a.receive(16)).extracting(Rig::sequenceOf).containsExactly(2);

        int rctl = card.read(RCTL);
        card.write(RCTL, rctl & ~RCTL_BAM);
        rig.b.send(broadcast);
        assertThat(rig.a.receive(16)).isEmpty();

        int hash = E1000Device.multicastHash(group.bits(), 0);
        card.write(MTA + 4 * (hash >>> 5), 1 << (hash & 31));
        rig.b.send(multicast);
        assertThat(rig.a.receive(16)).extracting(Rig::sequenceOf).containsExactly(3);

        card.write(RCTL, rctl | RCTL_UPE);
        rig.b.send(toOther);
        assertThat(rig.a.receive(16)).extracting(Rig::sequenceOf).containsExactly(1);

        card.write(RCTL, rctl & ~RCTL_EN);
        rig.b.send(broadcast);
        card.write(RCTL, rctl);
        assertThat(rig.a.receive(16)).as("receiver disabled").isEmpty();
        assertThat(card.statisticTotal(MPRC)).isEqualTo(1);
    }

    @Test
    void checksumOffloadFillsIpv4AndUdpChecksums() {
        E1000Config offload = E1000Config.defaults().withRingSizes(16, 16).withChecksumOffload(true);
        rig = new Rig(E1000Config.defaults().withRingSizes(16, 16), offload.withName("b"));
        assertThat(rig.b.driver.checksumOffload()).isTrue();
        byte[] original = Fixtures.frame(Fixtures.UDP_HOST_TO_GUEST);
        for (int round = 0; round < 3; round++) {   // the second and third reuse the loaded context
            byte[] blank = original.clone();
            blank[24] = blank[25] = 0;   // IPv4 header checksum
            blank[40] = blank[41] = 0;   // UDP checksum
            assertThat(rig.b.send(blank)).isEqualTo(NetDevice.TRANSMITTED);
            List<byte[]> got = rig.a.receive(8);
            assertThat(got).hasSize(1);
            byte[] frame = got.get(0);
            ByteBuffer bytes = ByteBuffer.wrap(frame);
            assertThat(InternetChecksum.compute(bytes, 14, 20)).as("IPv4 header verifies").isZero();
            int udpLength = bytes.getShort(14 + 20 + 4) & 0xffff;
            long pseudo = InternetChecksum.pseudoHeader(bytes.getInt(26), bytes.getInt(30), 17, udpLength);
            assertThat(InternetChecksum.finish(InternetChecksum.add(bytes, 34, udpLength, pseudo))).as("UDP verifies").isZero();
            assertThat(Arrays.copyOf(frame, original.length)).as("same as the real frame's checksums").isEqualTo(original);
        }
        // context + data for the first frame, data only afterwards
        assertThat(rig.b.card.read(TDT)).isEqualTo(4);

        // frames that are not IPv4 go out untouched
        byte[] arp = Fixtures.frame(Fixtures.ARP_REQUEST_FROM_GATEWAY);
        rig.b.send(arp);
        assertThat(rig.a.receive(8)).containsExactly(onTheWire(arp));
    }

    @Test
    void legacyInsertChecksumCommand() {
        rig = Rig.withRings(8);
        // A hand-built legacy descriptor with IC: checksum from CSS to the end stored at CSO.
        byte[] frame = Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 77);
        frame[58] = frame[59] = 0;
        E1000Device card = rig.a.card;
        long ring = card.read(TDBAL) & 0xffffffffL;
        int tail = card.read(TDT);
        Mbuf mbuf = rig.a.pool.allocate();
        mbuf.append(ByteBuffer.wrap(frame));
        new TransmitDescriptor().wrap(rig.a.memory, ring + 16L * tail).legacy(mbuf.dataAddress(), frame.length,
                TransmitDescriptor.CMD_EOP | TransmitDescriptor.CMD_IC | TransmitDescriptor.CMD_RS, 58, 14);
        card.write(TDT, tail + 1);
        mbuf.free();
        byte[] got = rig.b.receive(8).get(0);
        assertThat(InternetChecksum.compute(ByteBuffer.wrap(got), 14, 46)).isZero();
        assertThat(Arrays.copyOf(got, 58)).isEqualTo(Arrays.copyOf(frame, 58));
        // the driver's own bookkeeping never saw that descriptor: re-initialise before going on
        rig.a.driver.close();
        rig.a.driver = new E1000Driver(card, rig.a.memory, rig.a.pool, Rig.GUEST_MAC,
                E1000Config.defaults().withRingSizes(8, 8));
        assertThat(rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 78))).isEqualTo(NetDevice.TRANSMITTED);
        assertThat(rig.b.receive(8)).extracting(Rig::sequenceOf).containsExactly(78);
    }
}
