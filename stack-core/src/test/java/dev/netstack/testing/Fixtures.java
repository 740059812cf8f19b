package dev.netstack.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The real frames of the MIT 6.S081 net lab exchange ({@code fixtures/xv6-lab-exchange.hex}):
 * a name line, then the frame as hex on the next line.
 */
public final class Fixtures {
    public static final String UDP_GUEST_TO_HOST = "udp_guest_to_host";
    public static final String ARP_REQUEST_FROM_GATEWAY = "arp_request_from_gateway";
    public static final String ARP_REPLY_FROM_GUEST = "arp_reply_from_guest";
    public static final String UDP_HOST_TO_GUEST = "udp_host_to_guest";

    private static final Map<String, byte[]> FRAMES = load();

    private Fixtures() {
    }

    /** The frame called {@code name}, a fresh copy each call. */
    public static byte[] frame(String name) {
        byte[] frame = FRAMES.get(name);
        if (frame == null) {
            throw new IllegalArgumentException("no fixture frame " + name + "; have " + FRAMES.keySet());
        }
        return frame.clone();
    }

    private static Map<String, byte[]> load() {
        try (InputStream in = Fixtures.class.getResourceAsStream("/fixtures/xv6-lab-exchange.hex")) {
            if (in == null) {
                throw new IllegalStateException("fixtures/xv6-lab-exchange.hex is not on the test class path");
            }
            Map<String, byte[]> frames = new LinkedHashMap<>();
            String name = null;
            for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
                line = line.trim();
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                if (name == null) {
                    name = line;
                } else {
                    frames.put(name, HexFormat.of().parseHex(line));
                    name = null;
                }
            }
            return frames;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
