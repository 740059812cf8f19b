package dev.netstack.ipv4;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.buffer.DmaMemory;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.ipv4.Reassembler.DropReason;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.InternetChecksum;
import dev.netstack.wire.Ipv4Header;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ReassemblerTest {
    static final int SOURCE = 0x0a00_020f;          // 10.0.2.15
    static final int DESTINATION = 0x0a00_0202;     // 10.0.2.2
    static final int TTL = 63;
    static final long SECOND = 1_000_000_000L;

    private final MbufPool pool = pool(1024);

    @AfterEach
    void poolIsWhole() {
        PoolChecks.assertWhole(pool);
    }

    // ---- helpers shared with the property tests ------------------------------------------------

    static MbufPool pool(int buffers) {
        return MbufPool.carve(DmaMemory.allocate(buffers * Mbuf.SIZE + 256), buffers, true);
    }

    static byte[] randomPayload(Random random, int length) {
        byte[] payload = new byte[length];
        random.nextBytes(payload);
        return payload;
    }

    /** One fragment carrying payload [start, end) of a datagram, with a 20-byte header. */
    static Mbuf fragment(MbufPool pool, byte[] payload, int id, int start, int end, boolean more) {
        return fragment(pool, payload, id, Ipv4Header.PROTOCOL_UDP, start, end, more, 0, new byte[0]);
    }

    /**
     * One fragment: an IPv4 header (with {@code options}, a multiple of 4 bytes, and {@code extraFlags}
     * such as DF) then payload [start, end) of {@code payload}, whose bytes outside it need not exist.
     */
    static Mbuf fragment(MbufPool pool, byte[] payload, int id, int protocol, int start, int end, boolean more,
            int extraFlags, byte[] options) {
        Mbuf mbuf = pool.allocate();
        assertThat(mbuf).as("test pool exhausted").isNotNull();
        int headerLength = Ipv4Header.MIN_HEADER_LENGTH + options.length;
        int at = mbuf.put(headerLength + (end - start));
        assertThat(at).as("fragment larger than an mbuf").isNotNegative();
        Ipv4Header header = new Ipv4Header();
        header.wrap(mbuf.buffer(), at, mbuf.length());
        header.set(headerLength + (end - start), id,
                (more ? Ipv4Header.FLAG_MORE_FRAGMENTS : 0) | extraFlags | start / 8, TTL, protocol, SOURCE, DESTINATION);
        header.versionAndHeaderLength(headerLength);
        mbuf.buffer().put(at + Ipv4Header.MIN_HEADER_LENGTH, options);
        mbuf.buffer().put(at + headerLength, payload, start, end - start);
        header.fillChecksum();
        return mbuf;
    }

    /** Cuts a datagram into fragments of {@code size} payload bytes (a multiple of 8), in order. */
    static List<Mbuf> fragments(MbufPool pool, byte[] payload, int id, int size) {
        List<Mbuf> fragments = new ArrayList<>();
        for (int start = 0; start < payload.length; start += size) {
            int end = Math.min(payload.length, start + size);
            fragments.add(fragment(pool, payload, id, start, end, end < payload.length));
        }
        return fragments;
    }

    /** The payload of a reassembled chain, after checking its header says what the chain holds. */
    static byte[] payloadOf(Mbuf datagram) {
        Ipv4Header header = new Ipv4Header();
        assertThat(header.wrap(datagram.buffer(), datagram.head(), datagram.length())).isTrue();
        int headerLength = header.headerLength();
        assertThat(header.version()).isEqualTo(4);
        assertThat(header.isChecksumValid()).as("header checksum").isTrue();
        assertThat(header.totalLength()).as("total length").isEqualTo(datagram.packetLength());
        assertThat(header.flagsAndFragment() & (Ipv4Header.FLAG_MORE_FRAGMENTS | 0x1fff)).as("MF and offset").isZero();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Mbuf m = datagram; m != null; m = m.chained()) {
            int skip = m == datagram ? headerLength : 0;
            assertThat(m.length()).as("payload bytes in %s", m).isGreaterThan(skip);
            byte[] bytes = new byte[m.length() - skip];
            m.buffer().get(m.head() + skip, bytes);
            out.writeBytes(bytes);
        }
        return out.toByteArray();
    }

    static int chainLength(Mbuf datagram) {
        int n = 0;
        for (Mbuf m = datagram; m != null; m = m.chained()) {
            n++;
        }
        return n;
    }

    static long droppedTotal(Reassembler reassembler) {
        long total = 0;
        for (DropReason reason : DropReason.values()) {
            total += reassembler.dropped(reason);
        }
        return total;
    }

    /** Feeds fragments in the given order; returns the one result, checking it came with the last. */
    private Mbuf feed(Reassembler reassembler, List<Mbuf> fragments, long now) {
        Mbuf result = null;
        for (int i = 0; i < fragments.size(); i++) {
            Mbuf out = reassembler.add(fragments.get(i), now);
            if (i < fragments.size() - 1) {
                assertThat(out).as("result before the last fragment").isNull();
            } else {
                result = out;
            }
        }
        return result;
    }

    private void assertReassembled(Mbuf datagram, byte[] payload, int id) {
        assertThat(datagram).isNotNull();
        Ipv4Header header = new Ipv4Header();
        header.wrap(datagram.buffer(), datagram.head(), datagram.length());
        assertThat(header.identification()).isEqualTo(id);
        assertThat(header.source()).isEqualTo(SOURCE);
        assertThat(header.destination()).isEqualTo(DESTINATION);
        assertThat(header.protocol()).isEqualTo(Ipv4Header.PROTOCOL_UDP);
        assertThat(header.ttl()).isEqualTo(TTL);
        assertThat(header.totalLength()).isEqualTo(header.headerLength() + payload.length);
        assertThat(payloadOf(datagram)).isEqualTo(payload);
    }

    // ---- ordering -------------------------------------------------------------------------------

    @Test
    void inOrderFragmentsMakeTheOriginalDatagram() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(1), 8000);
        List<Mbuf> fragments = fragments(pool, payload, 0x1234, 1480);

        Mbuf datagram = feed(reassembler, fragments, 0);

        assertReassembled(datagram, payload, 0x1234);
        assertThat(chainLength(datagram)).isEqualTo(6);
        assertThat(datagram.length()).isEqualTo(20 + 1480);
        assertThat(reassembler.reassembled()).isEqualTo(1);
        assertThat(reassembler.pendingDatagrams()).isZero();
        assertThat(reassembler.heldBuffers()).isZero();
        assertThat(droppedTotal(reassembler)).isZero();
        datagram.freePacket();
    }

    @Test
    void reverseOrderFragmentsMakeTheOriginalDatagram() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(2), 12_345);
        List<Mbuf> fragments = fragments(pool, payload, 7, 1024);
        Collections.reverse(fragments);

        Mbuf datagram = feed(reassembler, fragments, 0);

        assertReassembled(datagram, payload, 7);
        datagram.freePacket();
    }

    @Test
    void randomOrderFragmentsMakeTheOriginalDatagram() {
        Reassembler reassembler = new Reassembler();
        Random random = new Random(3);
        for (int round = 0; round < 20; round++) {
            byte[] payload = randomPayload(random, 1 + random.nextInt(20_000));
            List<Mbuf> fragments = fragments(pool, payload, round, 8 * (8 + random.nextInt(178)));
            Collections.shuffle(fragments, random);
            Mbuf datagram = feed(reassembler, fragments, round);
            if (fragments.size() == 1) {
                // a one-fragment "datagram" here is MF clear at offset 0: not a fragment at all
                assertThat(datagram).isNotNull();
            } else {
                assertReassembled(datagram, payload, round);
            }
            datagram.freePacket();
        }
        assertThat(reassembler.heldBuffers()).isZero();
    }

    @Test
    void firstFragmentOptionsAndDontFragmentAreKept() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(4), 3000);
        byte[] options = {(byte) 0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00};   // router alert, NOP, NOP, NOP, EOL
        List<Mbuf> fragments = new ArrayList<>();
        fragments.add(fragment(pool, payload, 9, Ipv4Header.PROTOCOL_UDP, 2400, 3000, false, Ipv4Header.FLAG_DONT_FRAGMENT, new byte[0]));
        fragments.add(fragment(pool, payload, 9, Ipv4Header.PROTOCOL_UDP, 0, 1200, true, Ipv4Header.FLAG_DONT_FRAGMENT, options));
        fragments.add(fragment(pool, payload, 9, Ipv4Header.PROTOCOL_UDP, 1200, 2400, true, Ipv4Header.FLAG_DONT_FRAGMENT, new byte[0]));

        Mbuf datagram = feed(reassembler, fragments, 0);

        assertReassembled(datagram, payload, 9);
        Ipv4Header header = new Ipv4Header();
        header.wrap(datagram.buffer(), datagram.head(), datagram.length());
        assertThat(header.headerLength()).isEqualTo(28);
        assertThat(header.totalLength()).isEqualTo(28 + 3000);
        assertThat(header.flagsAndFragment()).isEqualTo(Ipv4Header.FLAG_DONT_FRAGMENT);
        byte[] kept = new byte[options.length];
        datagram.buffer().get(datagram.head() + 20, kept);
        assertThat(kept).isEqualTo(options);
        assertThat(InternetChecksum.compute(datagram.buffer(), datagram.head(), 28)).isZero();
        datagram.freePacket();
    }

    @Test
    void interleavedDatagramsAreKeptApartByTheirKey() {
        Reassembler reassembler = new Reassembler();
        byte[] a = randomPayload(new Random(5), 4000);
        byte[] b = randomPayload(new Random(6), 4000);
        List<Mbuf> fa = fragments(pool, a, 42, 1000);
        // same identification, other protocol: another datagram (RFC 791 key)
        List<Mbuf> fb = new ArrayList<>();
        for (int start = 0; start < 4000; start += 1000) {
            fb.add(fragment(pool, b, 42, Ipv4Header.PROTOCOL_ICMP, start, start + 1000, start + 1000 < 4000, 0, new byte[0]));
        }
        for (int i = 0; i < 3; i++) {
            assertThat(reassembler.add(fa.get(i), 0)).isNull();
            assertThat(reassembler.add(fb.get(i), 0)).isNull();
        }
        assertThat(reassembler.pendingDatagrams()).isEqualTo(2);
        assertThat(reassembler.heldBuffers()).isEqualTo(6);
        Mbuf da = reassembler.add(fa.get(3), 0);
        Mbuf db = reassembler.add(fb.get(3), 0);
        assertReassembled(da, a, 42);
        assertThat(payloadOf(db)).isEqualTo(b);
        da.freePacket();
        db.freePacket();
    }

    @Test
    void aPacketThatIsNotAFragmentIsReturnedAsItIs() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(7), 100);
        Mbuf whole = fragment(pool, payload, 1, 0, 100, false);
        assertThat(reassembler.add(whole, 0)).isSameAs(whole);
        assertThat(reassembler.received()).isZero();
        whole.free();
    }

    // ---- overlaps and duplicates -----------------------------------------------------------------

    @Test
    void exactDuplicatesAreDroppedAndCounted() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(8), 3000);
        assertThat(reassembler.add(fragment(pool, payload, 1, 0, 1000, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 0, 1000, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 1000, 2000, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 1000, 2000, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 504, 1504, true), 0)).as("inside held data").isNull();
        assertThat(reassembler.dropped(DropReason.DUPLICATE)).isEqualTo(3);
        assertThat(reassembler.heldBuffers()).isEqualTo(2);
        Mbuf datagram = reassembler.add(fragment(pool, payload, 1, 2000, 3000, false), 0);
        assertReassembled(datagram, payload, 1);
        assertThat(chainLength(datagram)).isEqualTo(3);
        datagram.freePacket();
    }

    @Test
    void aDuplicateLastFragmentStillTellsTheEnd() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(25), 2000);
        assertThat(reassembler.add(fragment(pool, payload, 1, 0, 1000, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 1000, 2000, true), 0)).as("MF set up to the end").isNull();
        Mbuf datagram = reassembler.add(fragment(pool, payload, 1, 1504, 2000, false), 0);
        assertReassembled(datagram, payload, 1);
        assertThat(reassembler.dropped(DropReason.DUPLICATE)).isEqualTo(1);
        datagram.freePacket();
    }

    @Test
    void overlapsWithTheSameBytesAreTrimmed() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(9), 4000);
        assertThat(reassembler.add(fragment(pool, payload, 1, 800, 1600, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 0, 1000, true), 0)).as("tail overlap").isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 1400, 2400, true), 0)).as("front overlap").isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 3000, 4000, false), 0)).isNull();
        Mbuf datagram = reassembler.add(fragment(pool, payload, 1, 2000, 3200, true), 0);   // both ends overlap
        assertReassembled(datagram, payload, 1);
        assertThat(chainLength(datagram)).isEqualTo(5);
        assertThat(reassembler.dropped(DropReason.DUPLICATE)).isZero();
        datagram.freePacket();
    }

    @Test
    void aNewcomerCoveringSmallPiecesReplacesThem() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(10), 2000);
        assertThat(reassembler.add(fragment(pool, payload, 1, 8, 16, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 24, 32, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 40, 48, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 1000, 2000, false), 0)).isNull();
        // two holes under it, [16, 24) and [32, 40): the covered pieces are freed instead
        Mbuf datagram = reassembler.add(fragment(pool, payload, 1, 0, 1000, true), 0);
        assertReassembled(datagram, payload, 1);
        assertThat(chainLength(datagram)).isEqualTo(2);
        assertThat(reassembler.dropped(DropReason.DUPLICATE)).isEqualTo(3);
        datagram.freePacket();
    }

    @Test
    void overlappingBytesThatDifferDropTheWholeDatagram() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(11), 3000);
        byte[] forged = payload.clone();
        forged[1100] ^= 1;
        assertThat(reassembler.add(fragment(pool, payload, 1, 0, 1200, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 2000, 3000, false), 0)).isNull();
        // teardrop-style: starts inside the first fragment, and lies about the overlapping bytes
        assertThat(reassembler.add(fragment(pool, forged, 1, 1000, 2000, true), 0)).isNull();
        assertThat(reassembler.dropped(DropReason.OVERLAP_CONFLICT)).isEqualTo(3);
        assertThat(reassembler.pendingDatagrams()).isZero();
        assertThat(reassembler.heldBuffers()).isZero();
    }

    @Test
    void aConflictInACoveredPieceDropsTheWholeDatagram() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(12), 3000);
        byte[] forged = payload.clone();
        forged[20] ^= (byte) 0x80;
        assertThat(reassembler.add(fragment(pool, forged, 1, 16, 24, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 0, 1000, true), 0)).isNull();
        assertThat(reassembler.dropped(DropReason.OVERLAP_CONFLICT)).isEqualTo(2);
        assertThat(reassembler.heldBuffers()).isZero();
    }

    @Test
    void fragmentsThatDisagreeAboutTheEndDropTheDatagram() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(13), 4000);
        // two different last fragments
        assertThat(reassembler.add(fragment(pool, payload, 1, 0, 1000, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 2000, 3000, false), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 3000, 4000, false), 0)).isNull();
        assertThat(reassembler.dropped(DropReason.OVERLAP_CONFLICT)).isEqualTo(3);
        // data beyond the known end
        assertThat(reassembler.add(fragment(pool, payload, 2, 1000, 2000, false), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 2, 2000, 3000, true), 0)).isNull();
        assertThat(reassembler.dropped(DropReason.OVERLAP_CONFLICT)).isEqualTo(5);
        // a last fragment ending before data already held
        assertThat(reassembler.add(fragment(pool, payload, 3, 2000, 3000, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 3, 1000, 2000, false), 0)).isNull();
        assertThat(reassembler.dropped(DropReason.OVERLAP_CONFLICT)).isEqualTo(7);
        assertThat(reassembler.pendingDatagrams()).isZero();
        assertThat(reassembler.heldBuffers()).isZero();
    }

    // ---- malformed fragments ------------------------------------------------------------------------

    @Test
    void aMiddleFragmentNotAMultipleOfEightIsDroppedAlone() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(14), 3000);
        assertThat(reassembler.add(fragment(pool, payload, 1, 0, 1000, true), 0)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 1000, 1999, true), 0)).isNull();
        assertThat(reassembler.dropped(DropReason.BAD_FRAGMENT)).isEqualTo(1);
        assertThat(reassembler.heldBuffers()).isEqualTo(1);
        assertThat(reassembler.add(fragment(pool, payload, 1, 2000, 3000, false), 0)).isNull();
        Mbuf datagram = reassembler.add(fragment(pool, payload, 1, 1000, 2000, true), 0);
        assertReassembled(datagram, payload, 1);
        datagram.freePacket();
    }

    @Test
    void emptyChainedAndLyingFragmentsAreDropped() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(15), 3000);
        assertThat(reassembler.add(fragment(pool, payload, 1, 1000, 1000, true), 0)).as("empty").isNull();

        Mbuf chained = fragment(pool, payload, 1, 1000, 2000, true);
        chained.chain(pool.allocate());
        assertThat(reassembler.add(chained, 0)).as("already a chain").isNull();

        Mbuf lying = fragment(pool, payload, 1, 1000, 2000, true);
        lying.trim(8);
        assertThat(reassembler.add(lying, 0)).as("total length beyond the data").isNull();

        assertThat(reassembler.dropped(DropReason.BAD_FRAGMENT)).isEqualTo(3);
        assertThat(reassembler.heldBuffers()).isZero();
        assertThat(reassembler.pendingDatagrams()).isZero();
    }

    @Test
    void aFragmentReachingPast65535DropsTheDatagram() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(16), 65_535);
        assertThat(reassembler.add(fragment(pool, payload, 1, 0, 1480, true), 0)).isNull();
        // the "ping of death": offset 65528, 16 bytes
        assertThat(reassembler.add(fragment(pool, payload, 1, 65_512, 65_528, true), 0)).isNull();
        assertThat(reassembler.dropped(DropReason.TOO_LARGE)).isEqualTo(2);
        assertThat(reassembler.add(fragment(pool, payload, 1, 65_528, 65_535, false), 0)).isNull();
        assertThat(reassembler.dropped(DropReason.TOO_LARGE)).as("the held fragment goes too").isEqualTo(3);
        assertThat(reassembler.heldBuffers()).isZero();
        assertThat(reassembler.pendingDatagrams()).isZero();
    }

    @Test
    void aDatagramOver65535WithItsHeaderIsDroppedWhole() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(17), 65_500);   // + a 60-byte header > 65535
        byte[] options = new byte[40];
        List<Mbuf> fragments = new ArrayList<>();
        for (int start = 0; start < payload.length; start += 1480) {
            int end = Math.min(payload.length, start + 1480);
            fragments.add(fragment(pool, payload, 1, Ipv4Header.PROTOCOL_UDP, start, end, end < payload.length, 0,
                    start == 0 ? options : new byte[0]));
        }
        assertThat(feed(reassembler, fragments, 0)).isNull();
        assertThat(reassembler.dropped(DropReason.TOO_LARGE)).isEqualTo(fragments.size());
        assertThat(reassembler.heldBuffers()).isZero();
        assertThat(reassembler.pendingDatagrams()).isZero();
    }

    @Test
    void theLargestLegalDatagramIsReassembled() {
        Reassembler reassembler = new Reassembler();
        byte[] payload = randomPayload(new Random(18), 65_515);
        Mbuf datagram = feed(reassembler, fragments(pool, payload, 1, 1480), 0);
        assertReassembled(datagram, payload, 1);
        assertThat(datagram.packetLength()).isEqualTo(65_535);
        datagram.freePacket();
    }

    // ---- timeout ------------------------------------------------------------------------------------

    @Test
    void incompleteDatagramsExpireAfterTheTimeoutAndReportTheFirstFragment() {
        Reassembler reassembler = new Reassembler(8, 64, 30 * SECOND);
        byte[] payload = randomPayload(new Random(19), 3000);
        long start = 1_000 * SECOND;
        assertThat(reassembler.add(fragment(pool, payload, 1, 0, 1000, true), start)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 1, 2000, 3000, false), start + 10 * SECOND)).isNull();
        assertThat(reassembler.add(fragment(pool, payload, 2, 1000, 2000, true), start + 5 * SECOND)).isNull();

        List<String> reports = new ArrayList<>();
        Reassembler.ExpiredListener listener = (source, destination, first) -> {
            Ipv4Header header = new Ipv4Header();
            header.wrap(first.buffer(), first.head(), first.length());
            byte[] quoted = new byte[8];
            first.buffer().get(first.head() + header.headerLength(), quoted);
            assertThat(quoted).isEqualTo(java.util.Arrays.copyOf(payload, 8));
            assertThat(header.isChecksumValid()).isTrue();
            reports.add(Integer.toHexString(source) + ">" + Integer.toHexString(destination) + " id " + header.identification()
                    + " len " + first.length());
        };

        assertThat(reassembler.expire(start + 30 * SECOND - 1, listener)).isZero();
        assertThat(reassembler.pendingDatagrams()).isEqualTo(2);
        assertThat(reassembler.expire(start + 30 * SECOND, listener)).as("measured from the first fragment").isEqualTo(1);
        assertThat(reports).containsExactly("a00020f>a000202 id 1 len 1020");
        assertThat(reassembler.dropped(DropReason.TIMEOUT)).isEqualTo(2);
        assertThat(reassembler.expire(start + 35 * SECOND, listener)).as("no offset-0 fragment: no report").isEqualTo(1);
        assertThat(reports).hasSize(1);
        assertThat(reassembler.dropped(DropReason.TIMEOUT)).isEqualTo(3);
        assertThat(reassembler.heldBuffers()).isZero();
        assertThat(reassembler.pendingDatagrams()).isZero();
        assertThat(reassembler.expire(start + 100 * SECOND)).isZero();
    }

    @Test
    void aDatagramCompletedBeforeTheTimeoutIsNotExpired() {
        Reassembler reassembler = new Reassembler(8, 64, 30 * SECOND);
        byte[] payload = randomPayload(new Random(20), 2000);
        assertThat(reassembler.add(fragment(pool, payload, 1, 1000, 2000, false), -5 * SECOND)).isNull();
        assertThat(reassembler.expire(20 * SECOND)).isZero();
        Mbuf datagram = reassembler.add(fragment(pool, payload, 1, 0, 1000, true), 24 * SECOND);
        assertReassembled(datagram, payload, 1);
        assertThat(reassembler.expire(1_000 * SECOND)).isZero();
        datagram.freePacket();
    }

    // ---- bounds -------------------------------------------------------------------------------------

    @Test
    void tooManyDatagramsEvictsTheOldest() {
        Reassembler reassembler = new Reassembler(4, 64, 30 * SECOND);
        byte[] payload = randomPayload(new Random(21), 2000);
        for (int id = 0; id < 4; id++) {
            assertThat(reassembler.add(fragment(pool, payload, id, 0, 1000, true), id)).isNull();
            assertThat(reassembler.add(fragment(pool, payload, id, 1000, 1504, true), id)).isNull();
        }
        assertThat(reassembler.add(fragment(pool, payload, 4, 0, 1000, true), 10)).isNull();
        assertThat(reassembler.pendingDatagrams()).isEqualTo(4);
        assertThat(reassembler.dropped(DropReason.NO_ROOM)).isEqualTo(2);
        assertThat(reassembler.heldBuffers()).isEqualTo(7);
        // datagram 0 is gone; datagram 1 still completes
        Mbuf datagram = reassembler.add(fragment(pool, payload, 1, 1504, 2000, false), 11);
        assertReassembled(datagram, payload, 1);
        datagram.freePacket();
        assertThat(reassembler.add(fragment(pool, payload, 0, 1504, 2000, false), 12)).isNull();
        reassembler.clear();
        assertThat(reassembler.heldBuffers()).isZero();
        assertThat(reassembler.pendingDatagrams()).isZero();
    }

    @Test
    void tooManyBuffersEvictsTheOldestOtherDatagram() {
        Reassembler reassembler = new Reassembler(16, 8, 30 * SECOND);
        byte[] payload = randomPayload(new Random(22), 800);
        for (int i = 0; i < 5; i++) {
            assertThat(reassembler.add(fragment(pool, payload, 1, i * 80, i * 80 + 80, true), 0)).isNull();
        }
        for (int i = 0; i < 3; i++) {
            assertThat(reassembler.add(fragment(pool, payload, 2, i * 80, i * 80 + 80, true), 1)).isNull();
        }
        assertThat(reassembler.heldBuffers()).isEqualTo(8);
        assertThat(reassembler.add(fragment(pool, payload, 2, 240, 320, true), 2)).isNull();
        assertThat(reassembler.dropped(DropReason.NO_ROOM)).isEqualTo(5);
        assertThat(reassembler.pendingDatagrams()).isEqualTo(1);
        assertThat(reassembler.heldBuffers()).isEqualTo(4);
        reassembler.clear();
    }

    @Test
    void aDatagramNeedingMoreBuffersThanTheBoundIsDroppedWhole() {
        Reassembler reassembler = new Reassembler(16, 8, 30 * SECOND);
        byte[] payload = randomPayload(new Random(23), 800);
        List<Mbuf> fragments = fragments(pool, payload, 1, 80);   // 10 fragments
        assertThat(feed(reassembler, fragments, 0)).isNull();
        assertThat(reassembler.dropped(DropReason.NO_ROOM)).isEqualTo(9);
        assertThat(reassembler.heldBuffers()).isEqualTo(1);
        assertThat(reassembler.expire(30 * SECOND)).isEqualTo(1);
        assertThat(reassembler.heldBuffers()).isZero();
    }

    @Test
    void thousandsOfNeverCompletingFragmentsStayBounded() {
        Reassembler reassembler = new Reassembler();
        Random random = new Random(24);
        byte[] payload = randomPayload(random, 4096);
        for (int i = 0; i < 20_000; i++) {
            int id = random.nextInt(i < 10_000 ? 40 : 5_000);     // first few long datagrams, then many short ones
            int start = 8 * (1 + random.nextInt(400));           // never offset 0: never completes
            assertThat(reassembler.add(fragment(pool, payload, id, start, start + 8, true), i)).isNull();
            assertThat(reassembler.heldBuffers()).isLessThanOrEqualTo(Reassembler.DEFAULT_MAX_BUFFERS);
            assertThat(reassembler.pendingDatagrams()).isLessThanOrEqualTo(Reassembler.DEFAULT_MAX_DATAGRAMS);
            assertThat(pool.available()).isGreaterThanOrEqualTo(pool.capacity() - Reassembler.DEFAULT_MAX_BUFFERS);
        }
        assertThat(reassembler.received()).isEqualTo(reassembler.heldBuffers() + droppedTotal(reassembler));
        assertThat(reassembler.dropped(DropReason.NO_ROOM)).isPositive();
        assertThat(reassembler.dropped(DropReason.DUPLICATE)).isPositive();
        int pending = reassembler.pendingDatagrams();
        assertThat(reassembler.expire(20_000 + Reassembler.DEFAULT_TIMEOUT_NANOS)).isEqualTo(pending);
        assertThat(reassembler.heldBuffers()).isZero();
        assertThat(reassembler.pendingDatagrams()).isZero();
    }

    @Test
    void constructorRejectsNonsense() {
        org.assertj.core.api.Assertions.assertThatIllegalArgumentException()
                .isThrownBy(() -> new Reassembler(0, 8, SECOND)).withMessageContaining("maxDatagrams");
        org.assertj.core.api.Assertions.assertThatIllegalArgumentException()
                .isThrownBy(() -> new Reassembler(8, 0, SECOND)).withMessageContaining("maxBuffers");
        org.assertj.core.api.Assertions.assertThatIllegalArgumentException()
                .isThrownBy(() -> new Reassembler(8, 8, 0)).withMessageContaining("timeout");
    }
}
