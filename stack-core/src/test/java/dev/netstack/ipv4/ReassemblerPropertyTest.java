package dev.netstack.ipv4;

import static dev.netstack.ipv4.ReassemblerTest.chainLength;
import static dev.netstack.ipv4.ReassemblerTest.droppedTotal;
import static dev.netstack.ipv4.ReassemblerTest.fragment;
import static dev.netstack.ipv4.ReassemblerTest.fragments;
import static dev.netstack.ipv4.ReassemblerTest.payloadOf;
import static dev.netstack.ipv4.ReassemblerTest.pool;
import static dev.netstack.ipv4.ReassemblerTest.randomPayload;
import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.ipv4.Reassembler.DropReason;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Header;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Properties of {@link Reassembler}, each example on its own checking pool so that a failing example
 * cannot leave buffers behind that make the next (shrunk) one fail for another reason.
 */
class ReassemblerPropertyTest {
    /** Payload bytes that fit one mbuf after the default headroom and a 20-byte header. */
    private static final int MAX_FRAGMENT_PAYLOAD = (Mbuf.SIZE - Mbuf.DEFAULT_HEADROOM - Ipv4Header.MIN_HEADER_LENGTH) / 8 * 8;

    /**
     * The datagram cut with one fragment size, plus a second cutting with another size of which some
     * fragments are sent, plus arbitrary slices of the same bytes, all in any order: whatever comes
     * out is exactly the original, and something comes out.
     */
    @Test
    void anyMixOfFragmentationsOfTheSameBytesGivesTheOriginal() {
        qt().withExamples(300)
                .forAll(integers().between(9, 20_000), integers().between(1, 185), integers().between(1, 185), longs().all())
                .checkAssert((size, units, otherUnits, seed) -> reassembleMixedFragmentations(size, units * 8, otherUnits * 8, seed));
    }

    private static void reassembleMixedFragmentations(int size, int fragmentSize, int otherFragmentSize, long seed) {
        Random random = new Random(seed);
        byte[] payload = randomPayload(random, size);
        int id = random.nextInt(0x10000);
        int largestCut = (size - 1) / 8 * 8;   // every cutting yields at least two fragments
        int first = Math.min(fragmentSize, largestCut);
        int second = Math.min(otherFragmentSize, largestCut);
        int slices = random.nextInt(8);
        MbufPool pool = pool(ceilDiv(size, first) + ceilDiv(size, second) + slices + 2);

        List<Mbuf> order = new ArrayList<>(fragments(pool, payload, id, first));
        for (Mbuf extra : fragments(pool, payload, id, second)) {
            if (random.nextInt(3) == 0) {
                extra.free();
            } else {
                order.add(extra);
            }
        }
        for (int i = 0; i < slices; i++) {
            int start = 8 * random.nextInt(largestCut / 8 + 1);
            int end = Math.min(size, start + 8 * (1 + random.nextInt(MAX_FRAGMENT_PAYLOAD / 8)));
            if (start == 0 && end == size) {
                end = largestCut;
            }
            order.add(fragment(pool, payload, id, start, end, end < size));
        }
        Collections.shuffle(order, random);

        Reassembler reassembler = new Reassembler(Reassembler.DEFAULT_MAX_DATAGRAMS, order.size(), Reassembler.DEFAULT_TIMEOUT_NANOS);
        List<Mbuf> results = new ArrayList<>();
        int fed = 0;
        try {
            while (fed < order.size()) {
                Mbuf fragment = order.get(fed);
                fed++;
                Mbuf datagram = reassembler.add(fragment, fed);
                if (datagram != null) {
                    results.add(datagram);
                }
            }
            assertThat(results).as("datagrams reassembled").isNotEmpty();
            long delivered = 0;
            for (Mbuf datagram : results) {
                assertThat(payloadOf(datagram)).isEqualTo(payload);
                Ipv4Header header = new Ipv4Header();
                header.wrap(datagram.buffer(), datagram.head(), datagram.length());
                assertThat(header.identification()).isEqualTo(id);
                assertThat(header.totalLength()).isEqualTo(Ipv4Header.MIN_HEADER_LENGTH + size);
                delivered += chainLength(datagram);
            }
            assertThat(reassembler.received()).isEqualTo(delivered + reassembler.heldBuffers() + droppedTotal(reassembler));
            assertThat(reassembler.dropped(DropReason.OVERLAP_CONFLICT)).isZero();
            assertThat(reassembler.dropped(DropReason.BAD_FRAGMENT)).isZero();
            assertThat(reassembler.dropped(DropReason.NO_ROOM)).isZero();
            assertThat(reassembler.dropped(DropReason.TOO_LARGE)).isZero();
        } finally {
            for (int i = fed; i < order.size(); i++) {
                order.get(i).free();
            }
            for (Mbuf datagram : results) {
                datagram.freePacket();
            }
            reassembler.clear();
        }
        PoolChecks.assertWhole(pool);
    }

    /**
     * Several datagrams interleaved, with lost, repeated and re-cut fragments, small bounds and a
     * clock that moves: the bounds always hold, the counters always add up, every datagram that comes
     * out is exactly one that went in, and nothing leaks. When no bound or timeout interfered, every
     * datagram whose bytes all arrived came out.
     */
    @Test
    void interleavedDatagramsUnderBoundsNeverLeakOrCorrupt() {
        qt().withExamples(300)
                .forAll(integers().between(1, 8), integers().between(1, 80), integers().between(1, 8), longs().all())
                .checkAssert(ReassemblerPropertyTest::interleaveUnderBounds);
    }

    private static void interleaveUnderBounds(int maxDatagrams, int maxBuffers, int datagramCount, long seed) {
        Random random = new Random(seed);
        long timeout = 1_000;
        byte[][] payloads = new byte[datagramCount][];
        boolean[] allSent = new boolean[datagramCount];
        boolean[] cameOut = new boolean[datagramCount];
        List<int[]> plan = new ArrayList<>();    // {datagram, start, end}
        for (int d = 0; d < datagramCount; d++) {
            int size = 9 + random.nextInt(4000);
            payloads[d] = randomPayload(random, size);
            int largestCut = (size - 1) / 8 * 8;
            boolean lost = false;
            for (int cut = 0; cut < 2; cut++) {
                int step = Math.min(largestCut, 8 * (1 + random.nextInt(MAX_FRAGMENT_PAYLOAD / 8)));
                for (int start = 0; start < size; start += step) {
                    int end = Math.min(size, start + step);
                    int copies = random.nextInt(10) == 0 ? 2 : 1;
                    if (cut == 0 && random.nextInt(12) == 0) {
                        copies = 0;
                        lost = true;
                    }
                    if (cut == 1 && random.nextInt(3) != 0) {
                        copies = 0;
                    }
                    for (int c = 0; c < copies; c++) {
                        plan.add(new int[] {d, start, end});
                    }
                }
            }
            allSent[d] = !lost;
        }
        Collections.shuffle(plan, random);
        MbufPool pool = pool(maxBuffers + 2);
        Reassembler reassembler = new Reassembler(maxDatagrams, maxBuffers, timeout);
        long now = random.nextLong();
        long delivered = 0;
        try {
            for (int[] step : plan) {
                int d = step[0];
                byte[] payload = payloads[d];
                Mbuf datagram = reassembler.add(fragment(pool, payload, d, step[1], step[2], step[2] < payload.length), now);
                if (datagram != null) {
                    Ipv4Header header = new Ipv4Header();
                    header.wrap(datagram.buffer(), datagram.head(), datagram.length());
                    int id = header.identification();
                    assertThat(id).isBetween(0, datagramCount - 1);
                    assertThat(payloadOf(datagram)).isEqualTo(payloads[id]);
                    cameOut[id] = true;
                    delivered += chainLength(datagram);
                    datagram.freePacket();
                }
                if (random.nextInt(20) == 0) {
                    now += random.nextInt((int) timeout);
                    reassembler.expire(now);
                }
                assertThat(reassembler.heldBuffers()).isBetween(0, maxBuffers);
                assertThat(reassembler.pendingDatagrams()).isBetween(0, maxDatagrams);
                assertThat(pool.capacity() - pool.available()).isEqualTo(reassembler.heldBuffers());
                assertThat(reassembler.received()).isEqualTo(delivered + reassembler.heldBuffers() + droppedTotal(reassembler));
                assertThat(reassembler.dropped(DropReason.OVERLAP_CONFLICT)).isZero();
                assertThat(reassembler.dropped(DropReason.BAD_FRAGMENT)).isZero();
            }
            if (reassembler.dropped(DropReason.NO_ROOM) == 0 && reassembler.dropped(DropReason.TIMEOUT) == 0) {
                for (int d = 0; d < datagramCount; d++) {
                    if (allSent[d]) {
                        assertThat(cameOut[d]).as("datagram %d with every fragment sent came out", d).isTrue();
                    }
                }
            }
            int pending = reassembler.pendingDatagrams();
            assertThat(reassembler.expire(now + timeout)).isEqualTo(pending);
            assertThat(reassembler.heldBuffers()).isZero();
        } finally {
            reassembler.clear();
        }
        PoolChecks.assertWhole(pool);
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
