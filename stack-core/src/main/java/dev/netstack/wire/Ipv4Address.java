package dev.netstack.wire;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 address; immutable, for configuration and the public API. The hot path carries the same
 * value as an {@code int} (network order: first octet most significant).
 */
public final class Ipv4Address implements Comparable<Ipv4Address> {
    public static final Ipv4Address ANY = new Ipv4Address(0);
    public static final Ipv4Address BROADCAST = new Ipv4Address(0xffff_ffff);
    public static final Ipv4Address LOOPBACK = new Ipv4Address(0x7f00_0001);

    private final int bits;

    private Ipv4Address(int bits) {
        this.bits = bits;
    }

    public static Ipv4Address of(int bits) {
        return new Ipv4Address(bits);
    }

    public static Ipv4Address of(int a, int b, int c, int d) {
        for (int octet : new int[] {a, b, c, d}) {
            if (octet < 0 || octet > 255) {
                throw new IllegalArgumentException("IPv4 octet out of range 0-255: " + octet);
            }
        }
        return new Ipv4Address((a << 24) | (b << 16) | (c << 8) | d);
    }

    /**
     * Parses dotted-quad text such as {@code 10.0.2.15}; nothing else (no host names, no shortened forms).
     *
     * @throws IllegalArgumentException naming the text when it is not an IPv4 address
     */
    public static Ipv4Address parse(String text) {
        String trimmed = text.trim();
        String[] parts = trimmed.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("not an IPv4 address (want a.b.c.d): " + text);
        }
        int bits = 0;
        for (String part : parts) {
            // ASCII digits only: Character.isDigit and Integer.parseInt also accept other scripts' digits
            if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new IllegalArgumentException("not an IPv4 address (want a.b.c.d): " + text);
            }
            int octet = Integer.parseInt(part);
            if (octet > 255) {
                throw new IllegalArgumentException("IPv4 octet out of range 0-255 in " + text);
            }
            bits = (bits << 8) | octet;
        }
        return new Ipv4Address(bits);
    }

    public static Ipv4Address of(InetAddress address) {
        if (!(address instanceof Inet4Address)) {
            throw new IllegalArgumentException("not an IPv4 address: " + address);
        }
        byte[] b = address.getAddress();
        return new Ipv4Address(((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff));
    }

    public int bits() {
        return bits;
    }

    public byte[] octets() {
        return new byte[] {(byte) (bits >>> 24), (byte) (bits >>> 16), (byte) (bits >>> 8), (byte) bits};
    }

    public InetAddress toInetAddress() {
        try {
            return InetAddress.getByAddress(octets());
        } catch (UnknownHostException e) {
            throw new AssertionError("four octets are always an address", e);
        }
    }

    public boolean isAny() {
        return bits == 0;
    }

    public boolean isBroadcast() {
        return bits == 0xffff_ffff;
    }

    /** 224.0.0.0/4. */
    public boolean isMulticast() {
        return isMulticast(bits);
    }

    public static boolean isMulticast(int bits) {
        return (bits & 0xf000_0000) == 0xe000_0000;
    }

    public boolean isLoopback() {
        return (bits >>> 24) == 127;
    }

    public static String toString(int bits) {
        return (bits >>> 24) + "." + ((bits >>> 16) & 0xff) + "." + ((bits >>> 8) & 0xff) + "." + (bits & 0xff);
    }

    @Override
    public String toString() {
        return toString(bits);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Ipv4Address && ((Ipv4Address) other).bits == bits;
    }

    @Override
    public int hashCode() {
        return bits;
    }

    @Override
    public int compareTo(Ipv4Address other) {
        return Integer.compareUnsigned(bits, other.bits);
    }
}
