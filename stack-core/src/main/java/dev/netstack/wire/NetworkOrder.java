package dev.netstack.wire;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Big-endian (network order) reads and writes of 16, 32 and 64 bits at absolute offsets of any
 * {@code ByteBuffer}, heap or direct, writable or read-only, whatever byte order it is set to.
 *
 * <p>The header views, the MAC helpers and the checksum read and write through here rather than
 * through the buffer's own {@code getShort}, {@code putInt} and so on. Those are virtual calls, and
 * the JIT inlines one only for the kinds of buffer its call site has seen; a helper that heap
 * buffers, direct mbufs and read-only views all pass through sees every kind, and each header field
 * on the data path became a call the JIT could not inline. A {@code VarHandle} view reads the
 * buffer's fields itself: one path for every kind, bounds checked as {@code getShort} is.
 */
public final class NetworkOrder {
    private static final VarHandle SHORT = MethodHandles.byteBufferViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private NetworkOrder() {
    }

    /** The 16 bits at {@code index}, as an unsigned value. */
    public static int getU16(ByteBuffer buffer, int index) {
        return (short) SHORT.get(buffer, index) & 0xffff;
    }

    public static void putU16(ByteBuffer buffer, int index, int value) {
        SHORT.set(buffer, index, (short) value);
    }

    public static int getI32(ByteBuffer buffer, int index) {
        return (int) INT.get(buffer, index);
    }

    public static void putI32(ByteBuffer buffer, int index, int value) {
        INT.set(buffer, index, value);
    }

    public static long getI64(ByteBuffer buffer, int index) {
        return (long) LONG.get(buffer, index);
    }

    public static void putI64(ByteBuffer buffer, int index, long value) {
        LONG.set(buffer, index, value);
    }
}
