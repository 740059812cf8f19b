package dev.netstack.wire;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The Internet checksum: the 16-bit one's complement of the one's complement sum of 16-bit words
 * (RFC 1071), and its incremental update when one field changes (RFC 1624, eqn. 3).
 *
 * <p>Sums are carried as non-negative {@code int}s of 32-bit partial sums so several ranges (a
 * pseudo-header and a payload) can be added before one {@link #finish(long)}.
 */
public final class InternetChecksum {
    private static final VarHandle LITTLE_ENDIAN_LONGS =
            MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private InternetChecksum() {
    }

    /**
     * Adds {@code length} bytes at {@code offset} (big-endian 16-bit words, an odd last byte padded
     * with zero) to {@code partial} and returns the new partial sum.
     */
    public static long add(ByteBuffer buffer, int offset, int length, long partial) {
        long sum = partial;
        int i = offset;
        int end = offset + length;
        if (length >= 32) {
            // 32 bytes per round into four independent sums (no carry chain between them), each
            // 8-byte word split into two 32-bit halves that cannot overflow a long for any IPv4
            // length. The words are read little-endian through a VarHandle, which the JIT turns into
            // plain loads, while ByteBuffer.getLong pays a byte swap and a scope check per call. A sum
            // of byte-swapped words is the byte-swapped sum (RFC 1071 §2(B)), so the folded result is
            // swapped back before it joins the big-endian partial sum.
            long s0 = 0;
            long s1 = 0;
            long s2 = 0;
            long s3 = 0;
            while (i + 32 <= end) {
                long a = (long) LITTLE_ENDIAN_LONGS.get(buffer, i);
                long b = (long) LITTLE_ENDIAN_LONGS.get(buffer, i + 8);
                long c = (long) LITTLE_ENDIAN_LONGS.get(buffer, i + 16);
                long d = (long) LITTLE_ENDIAN_LONGS.get(buffer, i + 24);
                s0 += (a >>> 32) + (a & 0xffff_ffffL);
                s1 += (b >>> 32) + (b & 0xffff_ffffL);
                s2 += (c >>> 32) + (c & 0xffff_ffffL);
                s3 += (d >>> 32) + (d & 0xffff_ffffL);
                i += 32;
            }
            int swapped = fold(s0 + s1 + s2 + s3);
            sum += ((swapped & 0xff) << 8) | (swapped >>> 8);
        }
        // the rest (and short ranges, such as headers) big-endian, 32-bit words first: one's complement
        // addition is associative, so wider words folded later give the same result (RFC 1071 §2(C))
        while (i + 8 <= end) {
            long v = buffer.getLong(i);
            sum += (v >>> 32) + (v & 0xffff_ffffL);
            i += 8;
        }
        while (i + 4 <= end) {
            sum += buffer.getInt(i) & 0xffff_ffffL;
            i += 4;
        }
        if (i + 2 <= end) {
            sum += buffer.getShort(i) & 0xffff;
            i += 2;
        }
        if (i < end) {
            sum += (buffer.get(i) & 0xff) << 8;
        }
        return sum;
    }

    /** Folds a partial sum to 16 bits, end-around carries added in. */
    private static int fold(long partial) {
        long sum = partial;
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) sum;
    }

    /** Adds a 16-bit value to a partial sum. */
    public static long add16(long partial, int value) {
        return partial + (value & 0xffff);
    }

    /** Adds a 32-bit value (two 16-bit words, e.g. an IPv4 address) to a partial sum. */
    public static long add32(long partial, int value) {
        return partial + (value >>> 16) + (value & 0xffff);
    }

    /** Folds a partial sum to 16 bits and complements it: the value to store in a checksum field. */
    public static int finish(long partial) {
        return ~fold(partial) & 0xffff;
    }

    /** The checksum of {@code length} bytes at {@code offset}. A range that holds a correct checksum gives 0. */
    public static int compute(ByteBuffer buffer, int offset, int length) {
        return finish(add(buffer, offset, length, 0));
    }

    /**
     * The UDP/TCP pseudo-header sum (RFC 768): source, destination, protocol and transport length,
     * as a partial sum to which the transport header and payload are then added.
     */
    public static long pseudoHeader(int source, int destination, int protocol, int transportLength) {
        return add32(add32(0, source), destination) + protocol + transportLength;
    }

    /**
     * Updates checksum {@code oldChecksum} when a 16-bit field changes from {@code oldValue} to
     * {@code newValue}: HC' = ~(~HC + ~m + m') (RFC 1624 eqn. 3), which never yields the 0xffff/0x0000
     * ambiguity of RFC 1141's form.
     */
    public static int update16(int oldChecksum, int oldValue, int newValue) {
        long sum = (~oldChecksum & 0xffff) + (~oldValue & 0xffff) + (newValue & 0xffff);
        return finish(sum);
    }

    /** Updates a checksum when a 32-bit field (an address) changes. */
    public static int update32(int oldChecksum, int oldValue, int newValue) {
        long sum = (~oldChecksum & 0xffff)
                + (~(oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff)
                + ((newValue >>> 16) & 0xffff) + (newValue & 0xffff);
        return finish(sum);
    }
}
