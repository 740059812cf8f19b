package dev.netstack.examples;

import dev.netstack.wire.Ipv4Address;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/** Parsing of the addresses and ports users type, failing as a usage error (exit status 2). */
final class Addresses {
    private Addresses() {
    }

    /** A dotted-quad IPv4 address. */
    static Ipv4Address parseIpv4(CommandLine command, String what, String text) {
        if (!text.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            throw new ParameterException(command, "Invalid value for " + what + ": '" + text + "' is not an IPv4 address");
        }
        try {
            return Ipv4Address.parse(text);
        } catch (RuntimeException e) {
            throw new ParameterException(command, "Invalid value for " + what + ": '" + text + "' is not an IPv4 address");
        }
    }

    static boolean isIpv4Literal(String text) {
        if (!text.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            return false;
        }
        try {
            Ipv4Address.parse(text);
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** A UDP port, 1-65535 (or 0 when {@code zeroAllowed}). */
    static int checkPort(CommandLine command, String what, int port, boolean zeroAllowed) {
        if (port < (zeroAllowed ? 0 : 1) || port > 65535) {
            throw new ParameterException(command, "Invalid value for " + what + ": " + port + " is not a port ("
                    + (zeroAllowed ? 0 : 1) + "-65535)");
        }
        return port;
    }
}
