package dev.netstack.wire;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.lang.reflect.Field;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * The Internet checksum: the 16-bit one's complement of the one's complement sum of 16-bit words
 * (RFC 1071), and its incremental update when one field changes (RFC 1624, eqn. 3).
 *
 * <p>Sums are carried as non-negative {@code int}s of 32-bit partial sums so several ranges (a
 * pseudo-header and a payload) can be added before one {@link #finish(long)}.
 *
 * <p>Ranges of 32 bytes and more are summed as whole 8-byte words in the machine's byte order: a sum
 * of byte-swapped words is the byte-swapped sum (RFC 1071 §2(B)), so the folded result is swapped
 * back once. The words are read with {@code sun.misc.Unsafe} after one bounds check for the whole
 * range (the {@code jdk.unsupported} module, as Agrona and Netty read off-heap memory): a
 * {@code ByteBuffer} or {@code VarHandle} read checks its index, the buffer's state and its memory
 * session on every word, which made a 1472-byte sum take twice as long. Without {@code Unsafe}, and
 * for read-only heap buffers, the same words are read through a {@code VarHandle}.
 */
public final class InternetChecksum {
    private static final VarHandle NATIVE_LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    private static final sun.misc.Unsafe UNSAFE;
    /** Where a direct buffer keeps the address of its first byte ({@code java.nio.Buffer.address}). */
    private static final long BUFFER_ADDRESS;

    static {
        sun.misc.Unsafe unsafe = null;
        long address = -1;
        try {
            Field theUnsafe = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            theUnsafe.setAccessible(true);
            unsafe = (sun.misc.Unsafe) theUnsafe.get(null);
            address = unsafe.objectFieldOffset(Buffer.class.getDeclaredField("address"));
        } catch (ReflectiveOperationException | RuntimeException e) {
            unsafe = null;   // the VarHandle reads serve
        }
        UNSAFE = unsafe;
        BUFFER_ADDRESS = address;
    }

    private InternetChecksum() {
    }

    /**
     * Adds {@code length} bytes at {@code offset} (big-endian 16-bit words, an odd last byte padded
     * with zero) to {@code partial} and returns the new partial sum.
     *
     * @throws IndexOutOfBoundsException when the range is not within the buffer's limit
     */
    public static long add(ByteBuffer buffer, int offset, int length, long partial) {
        long sum = partial;
        int i = offset;
        int end = offset + length;
        if (length >= 32) {
            Objects.checkFromIndexSize(offset, length, buffer.limit());
            int words = length >>> 3;
            long wordSum = UNSAFE != null && (buffer.isDirect() || buffer.hasArray())
                    ? sumWordsUnchecked(buffer, offset, words) : sumWords(buffer, offset, words);
            int folded = fold(wordSum);
            sum += LITTLE_ENDIAN ? ((folded & 0xff) << 8) | (folded >>> 8) : folded;
            i += words << 3;
        }
        // the rest (and short ranges, such as headers) big-endian, 32-bit words first: one's complement
        // addition is associative, so wider words folded later give the same result (RFC 1071 §2(C))
        while (i + 8 <= end) {
            long v = NetworkOrder.getI64(buffer, i);
            sum += (v >>> 32) + (v & 0xffff_ffffL);
            i += 8;
        }
        while (i + 4 <= end) {
            sum += NetworkOrder.getI32(buffer, i) & 0xffff_ffffL;
            i += 4;
        }
        if (i + 2 <= end) {
            sum += NetworkOrder.getU16(buffer, i);
            i += 2;
        }
        if (i < end) {
            sum += (buffer.get(i) & 0xff) << 8;
        }
        return sum;
    }

    /**
     * The sum of {@code words} 8-byte words at {@code offset}, in native order, each split into its
     * two 32-bit halves: two sums that cannot overflow a long for any length an int can give. The
     * caller has checked the range.
     */
    private static long sumWordsUnchecked(ByteBuffer buffer, int offset, int words) {
        long high = 0;
        long low = 0;
        // two loops, so that each reads memory of one kind: an access whose base may be an array or
        // nothing is one the JIT fences
        if (buffer.isDirect()) {
            long address = UNSAFE.getLong(buffer, BUFFER_ADDRESS) + offset;
            for (int w = 0; w < words; w++) {
                long v = UNSAFE.getLong(address + ((long) w << 3));
                high += v >>> 32;
                low += v & 0xffff_ffffL;
            }
            Reference.reachabilityFence(buffer);   // a direct buffer's memory lives as long as the buffer
        } else {
            byte[] array = buffer.array();
            long at = sun.misc.Unsafe.ARRAY_BYTE_BASE_OFFSET + buffer.arrayOffset() + offset;
            for (int w = 0; w < words; w++) {
                long v = UNSAFE.getLong(array, at + ((long) w << 3));
                high += v >>> 32;
                low += v & 0xffff_ffffL;
            }
        }
        return high + low;
    }

    /** As {@link #sumWordsUnchecked}, through a {@code VarHandle}. */
    private static long sumWords(ByteBuffer buffer, int offset, int words) {
        long high = 0;
        long low = 0;
        for (int w = 0; w < words; w++) {
            long v = (long) NATIVE_LONGS.get(buffer, offset + (w << 3));
            high += v >>> 32;
            low += v & 0xffff_ffffL;
        }
        return high + low;
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
