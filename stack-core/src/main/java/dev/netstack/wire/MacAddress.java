package dev.netstack.wire;

import java.nio.ByteBuffer;

/**
 * An IEEE 802 48-bit MAC address; immutable, for configuration and display. The hot path works with
 * the same value as a {@code long} (the low 48 bits, first octet most significant) through the static
 * helpers, to allocate nothing.
 */
public final class MacAddress {
    public static final MacAddress BROADCAST = new MacAddress(0xffff_ffff_ffffL);
    public static final MacAddress ZERO = new MacAddress(0L);
    public static final long BROADCAST_BITS = 0xffff_ffff_ffffL;

    private final long bits;

    private MacAddress(long bits) {
        this.bits = bits & BROADCAST_BITS;
    }

    /** The address whose low 48 bits are {@code bits}. */
    public static MacAddress of(long bits) {
        return new MacAddress(bits);
    }

    /** From six octets. */
    public static MacAddress of(byte[] octets) {
        if (octets.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 octets, got " + octets.length);
        }
        long bits = 0;
        for (byte b : octets) {
            bits = (bits << 8) | (b & 0xff);
        }
        return new MacAddress(bits);
    }

    /**
     * Parses {@code 52:54:00:12:34:56} (also with {@code -} separators).
     *
     * @throws IllegalArgumentException with the offending text when it is not a MAC address
     */
    public static MacAddress parse(String text) {
        String[] parts = text.trim().split("[:-]", -1);
        if (parts.length != 6) {
            throw new IllegalArgumentException("not a MAC address (want 6 hex octets like 52:54:00:12:34:56): " + text);
        }
        long bits = 0;
        for (String part : parts) {
            if (part.isEmpty() || part.length() > 2) {
                throw new IllegalArgumentException("not a MAC address: " + text);
            }
            // hex digits only: Integer.parseInt would also take a sign ("+f")
            for (int i = 0; i < part.length(); i++) {
                char c = part.charAt(i);
                if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) {
                    throw new IllegalArgumentException("not a MAC address: " + text);
                }
            }
            bits = (bits << 8) | Integer.parseInt(part, 16);
        }
        return new MacAddress(bits);
    }

    /** Reads six octets at {@code offset} as the low 48 bits of a long. */
    public static long read(ByteBuffer buffer, int offset) {
        return ((long) NetworkOrder.getU16(buffer, offset) << 32) | (NetworkOrder.getI32(buffer, offset + 2) & 0xffff_ffffL);
    }

    /** Writes the low 48 bits of {@code bits} as six octets at {@code offset}. */
    public static void write(ByteBuffer buffer, int offset, long bits) {
        NetworkOrder.putU16(buffer, offset, (int) (bits >>> 32));
        NetworkOrder.putI32(buffer, offset + 2, (int) bits);
    }

    /** Group bit: the least significant bit of the first octet (broadcast is a multicast too). */
    public static boolean isMulticast(long bits) {
        return (bits & 0x0100_0000_0000L) != 0;
    }

    public static boolean isBroadcast(long bits) {
        return (bits & BROADCAST_BITS) == BROADCAST_BITS;
    }

    public long bits() {
        return bits;
    }

    public byte[] octets() {
        byte[] out = new byte[6];
        for (int i = 0; i < 6; i++) {
            out[i] = (byte) (bits >>> (40 - 8 * i));
        }
        return out;
    }

    public boolean isBroadcast() {
        return isBroadcast(bits);
    }

    public boolean isMulticast() {
        return isMulticast(bits);
    }

    /** Formats {@code bits} as {@code 52:54:00:12:34:56}. */
    public static String toString(long bits) {
        StringBuilder out = new StringBuilder(17);
        for (int i = 0; i < 6; i++) {
            if (i > 0) {
                out.append(':');
            }
            int octet = (int) (bits >>> (40 - 8 * i)) & 0xff;
            out.append(Character.forDigit(octet >> 4, 16)).append(Character.forDigit(octet & 15, 16));
        }
        return out.toString();
    }

    @Override
    public String toString() {
        return toString(bits);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof MacAddress && ((MacAddress) other).bits == bits;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(bits);
    }
}
