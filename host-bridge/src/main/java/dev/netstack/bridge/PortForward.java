package dev.netstack.bridge;

import dev.netstack.wire.Ipv4Address;
import java.util.Objects;

/**
 * One UDP port forward from the host to the guest, as QEMU's {@code hostfwd} option writes it:
 * {@code udp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT}. An empty host address means 127.0.0.1 (the
 * forward is reachable from this machine only unless told otherwise); an empty guest address means
 * the gateway's guest address. Host port 0 binds an ephemeral port (see
 * {@link SlirpGateway#addPortForward}). Immutable.
 */
public final class PortForward {
    private final Ipv4Address hostAddress;
    private final int hostPort;
    private final Ipv4Address guestAddress;   // null: the gateway's guest
    private final int guestPort;

    private PortForward(Ipv4Address hostAddress, int hostPort, Ipv4Address guestAddress, int guestPort) {
        this.hostAddress = Objects.requireNonNull(hostAddress, "hostAddress");
        this.hostPort = checkPort(hostPort, true, "host");
        this.guestAddress = guestAddress;
        this.guestPort = checkPort(guestPort, false, "guest");
    }

    /** A forward from 127.0.0.1:{@code hostPort} to the guest's {@code guestPort}. */
    public static PortForward udp(int hostPort, int guestPort) {
        return new PortForward(Ipv4Address.LOOPBACK, hostPort, null, guestPort);
    }

    /** A forward from {@code hostAddress:hostPort} to {@code guestAddress:guestPort} ({@code guestAddress} null = the guest). */
    public static PortForward udp(Ipv4Address hostAddress, int hostPort, Ipv4Address guestAddress, int guestPort) {
        return new PortForward(hostAddress, hostPort, guestAddress, guestPort);
    }

    /**
     * Parses {@code udp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT}, e.g. {@code udp::5555-:2000} or
     * {@code udp:127.0.0.1:5555-10.0.2.15:2000}. The {@code udp:} prefix may be left out; only UDP is
     * forwarded, so {@code tcp:} is refused.
     *
     * @throws IllegalArgumentException naming the text and what is wrong with it
     */
    public static PortForward parse(String text) {
        String spec = text.trim();
        int colon = spec.indexOf(':');
        int dash = spec.indexOf('-');
        if (colon >= 0 && (dash < 0 || colon < dash)) {
            String protocol = spec.substring(0, colon);
            if (protocol.equalsIgnoreCase("udp")) {
                spec = spec.substring(colon + 1);
            } else if (protocol.equalsIgnoreCase("tcp")) {
                throw new IllegalArgumentException("only UDP port forwards are supported, not \"" + text + "\"");
            } else if (!protocol.isEmpty() && !Character.isDigit(protocol.charAt(0))) {
                throw new IllegalArgumentException("unknown protocol \"" + protocol + "\" in port forward \"" + text
                        + "\" (want udp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT)");
            }
        }
        dash = spec.indexOf('-');
        if (dash < 0 || spec.indexOf('-', dash + 1) >= 0) {
            throw new IllegalArgumentException("port forward must look like udp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT, e.g. "
                    + "udp::5555-:2000: \"" + text + "\"");
        }
        String host = spec.substring(0, dash);
        String guest = spec.substring(dash + 1);
        Ipv4Address hostAddress = address(host, text, "host");
        int hostPort = port(host, text, "host", true);
        Ipv4Address guestAddress = address(guest, text, "guest");
        int guestPort = port(guest, text, "guest", false);
        return new PortForward(hostAddress == null ? Ipv4Address.LOOPBACK : hostAddress, hostPort, guestAddress, guestPort);
    }

    /** The address of {@code ADDR:PORT} (or of a bare {@code PORT}), null when empty. */
    private static Ipv4Address address(String part, String text, String side) {
        int colon = part.lastIndexOf(':');
        String address = colon < 0 ? "" : part.substring(0, colon).trim();
        if (address.isEmpty()) {
            return null;
        }
        try {
            return Ipv4Address.parse(address);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(side + " address \"" + address + "\" in port forward \"" + text
                    + "\" is not an IPv4 address", e);
        }
    }

    private static int port(String part, String text, String side, boolean zeroAllowed) {
        String port = part.substring(part.lastIndexOf(':') + 1).trim();
        if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException(side + " port \"" + port + "\" in port forward \"" + text
                    + "\" is not a port number");
        }
        int value = Integer.parseInt(port);
        if (value > 65535 || (value == 0 && !zeroAllowed)) {
            throw new IllegalArgumentException(side + " port " + value + " in port forward \"" + text
                    + "\" is outside " + (zeroAllowed ? 0 : 1) + "-65535");
        }
        return value;
    }

    private static int checkPort(int port, boolean zeroAllowed, String side) {
        if (port < (zeroAllowed ? 0 : 1) || port > 65535) {
            throw new IllegalArgumentException(side + " port must be " + (zeroAllowed ? 0 : 1) + "-65535, was " + port);
        }
        return port;
    }

    public Ipv4Address hostAddress() {
        return hostAddress;
    }

    public int hostPort() {
        return hostPort;
    }

    /** The guest address, or null for "the gateway's guest". */
    public Ipv4Address guestAddress() {
        return guestAddress;
    }

    public int guestPort() {
        return guestPort;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof PortForward && ((PortForward) other).hostAddress.equals(hostAddress)
                && ((PortForward) other).hostPort == hostPort && Objects.equals(((PortForward) other).guestAddress, guestAddress)
                && ((PortForward) other).guestPort == guestPort;
    }

    @Override
    public int hashCode() {
        return Objects.hash(hostAddress, hostPort, guestAddress, guestPort);
    }

    /** The option text, e.g. {@code udp:127.0.0.1:5555-:2000}. */
    @Override
    public String toString() {
        return "udp:" + hostAddress + ":" + hostPort + "-" + (guestAddress == null ? "" : guestAddress.toString()) + ":" + guestPort;
    }
}
