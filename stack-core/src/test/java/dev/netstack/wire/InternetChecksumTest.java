package dev.netstack.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;

import java.nio.ByteBuffer;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

class InternetChecksumTest {
    private static final Gen<Byte> ANY_BYTE = Generate.bytes(Byte.MIN_VALUE, Byte.MAX_VALUE, (byte) 0);

    /** RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2; the checksum is its complement. */
    @Test
    void rfc1071NumericExample() {
        ByteBuffer buffer = ByteBuffer.wrap(HexFormat.of().parseHex("0001f203f4f5f6f7"));
        long partial = InternetChecksum.add(buffer, 0, 8, 0);
        assertThat(partial).isEqualTo(0x0001f203L + 0xf4f5f6f7L);
        assertThat(InternetChecksum.finish(partial)).isEqualTo(0x220d);
        assertThat(~InternetChecksum.finish(partial) & 0xffff).as("folded sum").isEqualTo(0xddf2);
        assertThat(InternetChecksum.compute(buffer, 0, 8)).isEqualTo(0x220d);

        ByteBuffer withChecksum = ByteBuffer.wrap(HexFormat.of().parseHex("0001f203f4f5f6f7220d"));
        assertThat(InternetChecksum.compute(withChecksum, 0, 10)).as("data plus its checksum").isZero();
    }

    @Test
    void byteOrderIndependenceOfRfc1071() {
        // RFC 1071 §2(B): the sum of byte-swapped words is the byte-swapped sum
        ByteBuffer swapped = ByteBuffer.wrap(HexFormat.of().parseHex("010003f2f5f4f7f6"));
        assertThat(InternetChecksum.compute(swapped, 0, 8)).isEqualTo(0x0d22);
    }

    @Test
    void oddLengthPadsTheLastByteWithZero() {
        ByteBuffer buffer = ByteBuffer.wrap(HexFormat.of().parseHex("0001f203f4f5f6f7ab99"));
        // 0xddf2 + 0xab00 = 0x188f2 → 0x88f3 → 0x770c; the 0x99 after the range is not read
        assertThat(InternetChecksum.compute(buffer, 0, 9)).isEqualTo(0x770c);
        assertThat(InternetChecksum.compute(buffer, 8, 1)).isEqualTo(~0xab00 & 0xffff);
        assertThat(InternetChecksum.compute(buffer, 0, 9)).isEqualTo(reference(buffer.array(), 0, 9));
    }

    @Test
    void emptyRangeAndPartialSums() {
        ByteBuffer buffer = ByteBuffer.allocate(4);
        assertThat(InternetChecksum.compute(buffer, 0, 0)).isEqualTo(0xffff);
        assertThat(InternetChecksum.add16(0, 0x1_2345)).isEqualTo(0x2345);
        assertThat(InternetChecksum.add32(0, 0xffff_0001)).isEqualTo(0x1_0000);
        assertThat(InternetChecksum.finish(0x1_fffeL)).as("carry folds twice").isEqualTo(0x0000);
        assertThat(InternetChecksum.finish(0xffff_ffffL * 3)).isEqualTo(reference(new byte[] {
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}, 0, 12));
    }

    @Test
    void pseudoHeaderMatchesAWrittenPseudoHeader() {
        ByteBuffer pseudo = ByteBuffer.allocate(12);
        pseudo.putInt(0, 0x0a00_0202).putInt(4, 0x0a00_020f).put(9, (byte) 17).putShort(10, (short) 25);
        assertThat(InternetChecksum.finish(InternetChecksum.pseudoHeader(0x0a00_0202, 0x0a00_020f, 17, 25)))
                .isEqualTo(InternetChecksum.compute(pseudo, 0, 12));
    }

    @Test
    void update16AndUpdate32MatchAFullRecompute() {
        byte[] header = HexFormat.of().parseHex("4500002f0000000064113eae0a00020f0a000202");
        ByteBuffer buffer = ByteBuffer.wrap(header);
        assertThat(InternetChecksum.compute(buffer, 0, 20)).isZero();

        int oldTtlWord = buffer.getShort(8) & 0xffff;
        buffer.putShort(8, (short) 0x3f11);
        int patched = InternetChecksum.update16(0x3eae, oldTtlWord, 0x3f11);
        buffer.putShort(10, (short) 0);
        assertThat(patched).isEqualTo(InternetChecksum.compute(buffer, 0, 20));

        buffer.putShort(10, (short) patched);
        int newSource = 0xc0a8_0105;   // NAT rewrite of the source address
        int repatched = InternetChecksum.update32(patched, 0x0a00_020f, newSource);
        buffer.putInt(12, newSource);
        buffer.putShort(10, (short) 0);
        assertThat(repatched).isEqualTo(InternetChecksum.compute(buffer, 0, 20));
        buffer.putShort(10, (short) repatched);
        assertThat(InternetChecksum.compute(buffer, 0, 20)).isZero();
    }

    @Test
    void wordSumsMatchASimpleSixteenBitReference() {
        qt().forAll(Generate.byteArrays(integers().between(0, 200), ANY_BYTE), integers().between(0, 200),
                integers().between(0, 200))
                .checkAssert((bytes, fromSeed, lengthSeed) -> {
                    int from = fromSeed % (bytes.length + 1);
                    int length = lengthSeed % (bytes.length - from + 1);
                    assertThat(InternetChecksum.compute(ByteBuffer.wrap(bytes), from, length))
                            .isEqualTo(reference(bytes, from, length));
                });
    }

    @Test
    void directBuffersOfFrameSizesAtAnyOffsetMatchTheReference() {
        // the 32-byte little-endian rounds and the big-endian tail must agree at every alignment
        qt().forAll(Generate.byteArrays(integers().between(0, 1600), ANY_BYTE), integers().between(0, 1600),
                integers().between(0, 1600))
                .checkAssert((bytes, fromSeed, lengthSeed) -> {
                    int from = fromSeed % (bytes.length + 1);
                    int length = lengthSeed % (bytes.length - from + 1);
                    ByteBuffer direct = ByteBuffer.allocateDirect(bytes.length).put(bytes).clear();
                    assertThat(InternetChecksum.compute(direct, from, length)).isEqualTo(reference(bytes, from, length));
                });
    }

    @Test
    void slicesAndReadOnlyBuffersOfEveryKindMatchTheReference() {
        // the word loop reads a direct buffer at its own address and a heap buffer at its array
        // offset; read-only heap buffers have no accessible array and take the other path
        qt().forAll(Generate.byteArrays(integers().between(0, 1600), ANY_BYTE), integers().between(0, 1600),
                integers().between(0, 1600), integers().between(0, 40))
                .checkAssert((bytes, fromSeed, lengthSeed, skip) -> {
                    int from = fromSeed % (bytes.length + 1);
                    int length = lengthSeed % (bytes.length - from + 1);
                    int expected = reference(bytes, from, length);
                    byte[] padded = new byte[skip + bytes.length];
                    System.arraycopy(bytes, 0, padded, skip, bytes.length);
                    ByteBuffer heapSlice = ByteBuffer.wrap(padded).position(skip).slice();
                    ByteBuffer directSlice = ByteBuffer.allocateDirect(padded.length).put(padded).position(skip).slice();
                    for (ByteBuffer buffer : new ByteBuffer[] {heapSlice, directSlice, heapSlice.asReadOnlyBuffer(),
                            directSlice.asReadOnlyBuffer()}) {
                        assertThat(InternetChecksum.compute(buffer, from, length)).as("%s", buffer).isEqualTo(expected);
                    }
                });
    }

    @Test
    void aRangeBeyondTheLimitIsRefused() {
        for (ByteBuffer buffer : new ByteBuffer[] {ByteBuffer.allocate(100), ByteBuffer.allocateDirect(100)}) {
            buffer.limit(64);
            assertThatThrownBy(() -> InternetChecksum.add(buffer, 0, 65, 0)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> InternetChecksum.add(buffer, 40, 32, 0)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> InternetChecksum.add(buffer, -8, 40, 0)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void update16EqualsAFullRecompute() {
        qt().forAll(Generate.byteArrays(integers().between(1, 100).map(words -> words * 2), ANY_BYTE),
                integers().between(0, 99), integers().between(0, 0xffff))
                .checkAssert((bytes, wordSeed, value) -> {
                    int word = wordSeed % (bytes.length / 2);
                    ByteBuffer buffer = ByteBuffer.wrap(bytes);
                    int before = InternetChecksum.compute(buffer, 0, bytes.length);
                    int oldValue = buffer.getShort(word * 2) & 0xffff;
                    buffer.putShort(word * 2, (short) (int) value);
                    assertThat(InternetChecksum.update16(before, oldValue, value))
                            .isEqualTo(expectedAfterUpdate(bytes));
                });
    }

    @Test
    void update32EqualsAFullRecompute() {
        qt().forAll(Generate.byteArrays(integers().between(2, 100).map(words -> words * 2), ANY_BYTE),
                integers().between(0, 98), integers().all())
                .checkAssert((bytes, wordSeed, value) -> {
                    int word = wordSeed % (bytes.length / 2 - 1);
                    ByteBuffer buffer = ByteBuffer.wrap(bytes);
                    int before = InternetChecksum.compute(buffer, 0, bytes.length);
                    int oldValue = buffer.getInt(word * 2);
                    buffer.putInt(word * 2, value);
                    assertThat(InternetChecksum.update32(before, oldValue, value))
                            .isEqualTo(expectedAfterUpdate(bytes));
                });
    }

    /**
     * The full recompute, except for data that sums to zero: there a recompute gives 0xffff and RFC 1624's
     * update the other one's complement zero, 0x0000. (Never the case for an IP header: its version is not 0.)
     */
    private static int expectedAfterUpdate(byte[] bytes) {
        int full = reference(bytes, 0, bytes.length);
        return full == 0xffff ? 0 : full;
    }

    /** RFC 1071 done the slow, obvious way: 16-bit words, fold at every step. */
    private static int reference(byte[] bytes, int from, int length) {
        int sum = 0;
        for (int i = 0; i < length; i += 2) {
            int high = bytes[from + i] & 0xff;
            int low = i + 1 < length ? bytes[from + i + 1] & 0xff : 0;
            sum += high << 8 | low;
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return ~sum & 0xffff;
    }
}
