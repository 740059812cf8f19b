package dev.netstack.wire;

/** An IPv4 prefix such as {@code 10.0.2.0/24}; immutable. */
public final class Ipv4Subnet {
    private final Ipv4Address network;
    private final int prefixLength;
    private final int mask;

    private Ipv4Subnet(int network, int prefixLength) {
        this.prefixLength = prefixLength;
        this.mask = maskOf(prefixLength);
        this.network = Ipv4Address.of(network & mask);
    }

    public static Ipv4Subnet of(Ipv4Address address, int prefixLength) {
        if (prefixLength < 0 || prefixLength > 32) {
            throw new IllegalArgumentException("IPv4 prefix length must be 0-32, was " + prefixLength);
        }
        return new Ipv4Subnet(address.bits(), prefixLength);
    }

    /** Parses {@code 10.0.2.0/24}; the host bits are cleared. */
    public static Ipv4Subnet parse(String text) {
        int slash = text.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("not an IPv4 prefix (want a.b.c.d/len): " + text);
        }
        String lengthText = text.substring(slash + 1).trim();
        if (lengthText.isEmpty() || lengthText.length() > 2 || !lengthText.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("not an IPv4 prefix length in " + text);
        }
        int length = Integer.parseInt(lengthText);
        if (length > 32) {
            throw new IllegalArgumentException("IPv4 prefix length must be 0-32 in " + text);
        }
        Ipv4Address address;
        try {
            address = Ipv4Address.parse(text.substring(0, slash));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not an IPv4 prefix (want a.b.c.d/len): " + text, e);
        }
        return of(address, length);
    }

    public static int maskOf(int prefixLength) {
        return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
    }

    public Ipv4Address network() {
        return network;
    }

    public int prefixLength() {
        return prefixLength;
    }

    public int mask() {
        return mask;
    }

    public Ipv4Address broadcast() {
        return Ipv4Address.of(network.bits() | ~mask);
    }

    public boolean contains(Ipv4Address address) {
        return contains(address.bits());
    }

    public boolean contains(int address) {
        return (address & mask) == network.bits();
    }

    @Override
    public String toString() {
        return network + "/" + prefixLength;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Ipv4Subnet && ((Ipv4Subnet) other).network.equals(network)
                && ((Ipv4Subnet) other).prefixLength == prefixLength;
    }

    @Override
    public int hashCode() {
        return network.hashCode() * 31 + prefixLength;
    }
}
