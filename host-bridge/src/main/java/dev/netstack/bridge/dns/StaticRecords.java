package dev.netstack.bridge.dns;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Names the DNS service answers itself, before asking anyone: from code, from a hosts-format file,
 * or from {@code name=address} option strings. Names compare case-insensitively (RFC 4343) and
 * without the trailing dot. Built once, then only read.
 */
final class StaticRecords {
    private final Map<String, List<InetAddress>> addresses = new HashMap<>();

    static String normalize(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        return lower.endsWith(".") ? lower.substring(0, lower.length() - 1) : lower;
    }

    void add(String name, InetAddress address) {
        String key = normalize(name);
        if (key.isEmpty() || key.length() > 253) {
            throw new IllegalArgumentException("not a DNS name: \"" + name + "\"");
        }
        List<InetAddress> list = addresses.computeIfAbsent(key, k -> new ArrayList<>());
        if (!list.contains(address)) {
            list.add(address);
        }
    }

    /** Adds {@code name=address}, e.g. {@code printer.lan=10.0.2.50} or {@code v6.lan=fd00::1}. */
    void addOption(String option) {
        int equals = option.indexOf('=');
        if (equals <= 0 || equals == option.length() - 1) {
            throw new IllegalArgumentException("static DNS record must look like name=address, e.g. printer.lan=10.0.2.50: \""
                    + option + "\"");
        }
        add(option.substring(0, equals).trim(), parseAddress(option.substring(equals + 1).trim(), option));
    }

    /** Reads a hosts(5) file: {@code address name [alias...]} per line, {@code #} starts a comment. */
    void addHostsFile(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            if (hash >= 0) {
                line = line.substring(0, hash);
            }
            String[] fields = line.trim().split("\\s+");
            if (fields.length == 1 && fields[0].isEmpty()) {
                continue;
            }
            String where = file + " line " + (i + 1);
            if (fields.length < 2) {
                throw new IllegalArgumentException(where + ": want \"address name [alias...]\", got \"" + lines.get(i) + "\"");
            }
            InetAddress address = parseAddress(fields[0], where);
            for (int f = 1; f < fields.length; f++) {
                add(fields[f], address);
            }
        }
    }

    /** Parses a numeric address only: a name here must never trigger a lookup. */
    private static InetAddress parseAddress(String text, String where) {
        if (!text.matches("[0-9.]+|[0-9a-fA-F:.]*:[0-9a-fA-F:.%a-zA-Z]*")) {
            throw new IllegalArgumentException(where + ": \"" + text + "\" is not an IPv4 or IPv6 address");
        }
        try {
            InetAddress address = InetAddress.getByName(text);   // literal: parsed, not resolved
            if (address instanceof Inet4Address && text.split("\\.").length != 4) {
                throw new IllegalArgumentException(where + ": \"" + text + "\" is not a dotted-quad IPv4 address");
            }
            return address;
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(where + ": \"" + text + "\" is not an IPv4 or IPv6 address", e);
        }
    }

    /** The addresses of {@code normalizedName}, or {@code null} when the name is not a static one. */
    List<InetAddress> lookup(String normalizedName) {
        return addresses.get(normalizedName);
    }

    boolean isEmpty() {
        return addresses.isEmpty();
    }
}
