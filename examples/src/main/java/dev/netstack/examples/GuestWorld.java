package dev.netstack.examples;

import dev.netstack.bridge.SlirpGateway;
import dev.netstack.bridge.dns.DnsService;
import dev.netstack.bridge.tunnel.FrameTunnel;
import dev.netstack.link.FrameObserver;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualSwitch;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything a subcommand needs, in this one process, as {@code make qemu} plus {@code make server}
 * give the xv6 lab:
 * <pre>
 *   guest 10.0.2.15 (E1000 + driver + NetStack) ──cable──▶ SlirpGateway 10.0.2.2 / DNS 10.0.2.3
 *                                                             │ UDP NAT: 10.0.2.2 = 127.0.0.1
 *                                                             ▼
 *                                                  HostServer on 127.0.0.1:PORT
 * </pre>
 * With more than one guest they share a {@link VirtualSwitch} with the gateway (10.0.2.15,
 * 10.0.2.16, ...). A frame observer (pcap, {@code -v}) sits on the first guest's port.
 *
 * <p>In tunnel mode ({@link Builder#tunnel}) there is no gateway: one guest's card is cabled to a
 * frame tunnel, and the LAN is whatever is at the tunnel's other end (another netstack process, a
 * QEMU guest, the host kernel through socat or a VXLAN device).
 */
public final class GuestWorld implements AutoCloseable {
    public static final Ipv4Address GATEWAY = SlirpGateway.DEFAULT_GATEWAY;
    public static final Ipv4Address DNS = SlirpGateway.DEFAULT_DNS;
    public static final Ipv4Address FIRST_GUEST = SlirpGateway.DEFAULT_GUEST;
    public static final int PREFIX_LENGTH = 24;

    private final List<Guest> guests = new ArrayList<>();
    private DnsService dns;
    private SlirpGateway gateway;
    private VirtualSwitch lan;
    private HostServer hostServer;
    private FrameTunnel tunnel;

    private GuestWorld() {
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The address of guest number {@code index}: 10.0.2.15, 10.0.2.16, ... */
    public static Ipv4Address guestAddress(int index) {
        return Ipv4Address.of(FIRST_GUEST.bits() + index);
    }

    public Guest guest() {
        return guests.get(0);
    }

    public Guest guest(int index) {
        return guests.get(index);
    }

    public List<Guest> guests() {
        return List.copyOf(guests);
    }

    public SlirpGateway gateway() {
        return gateway;
    }

    /** The frame tunnel in tunnel mode, else null. */
    public FrameTunnel tunnel() {
        return tunnel;
    }

    /** The host-side server, or null when none was asked for. */
    public HostServer hostServer() {
        return hostServer;
    }

    /** The meters of every part: stacks, cards, gateway, DNS service, switch. */
    public List<MeterBinder> meterBinders() {
        List<MeterBinder> binders = new ArrayList<>();
        for (Guest guest : guests) {
            binders.addAll(guest.meterBinders());
        }
        if (gateway != null) {
            binders.add(gateway.metrics());
        }
        if (dns != null) {
            binders.add(dns);
        }
        if (lan != null) {
            binders.add(lan);
        }
        if (tunnel != null) {
            binders.add(tunnel);
        }
        return binders;
    }

    /** Stops the guests first (their pools come back whole), then the gateway (with its DNS service) and host server. */
    @Override
    public void close() {
        for (Guest guest : guests) {
            guest.close();
        }
        if (gateway != null) {
            gateway.close();
        }
        if (tunnel != null) {
            tunnel.close();
        }
        if (hostServer != null) {
            hostServer.close();
        }
    }

    /** How to set a world up; the defaults are one guest, the gateway, no host server. */
    public static final class Builder {
        private int guestCount = 1;
        private FrameObserver observer;
        private final List<String> staticRecords = new ArrayList<>();
        private Integer hostServerPort;
        private PrintWriter hostServerLog;
        private FrameTunnel tunnel;
        private String tunnelGuestAddress;
        private Ipv4Address tunnelGuestGateway;
        private MacAddress tunnelGuestMac;

        private Builder() {
        }

        /**
         * Tunnel mode: one guest with {@code cidr} (and {@code gateway}, may be null) and {@code mac}
         * cabled to {@code tunnel}, no gateway. The world closes the tunnel.
         */
        public Builder tunnel(FrameTunnel tunnel, String cidr, Ipv4Address gateway, MacAddress mac) {
            this.tunnel = tunnel;
            this.tunnelGuestAddress = cidr;
            this.tunnelGuestGateway = gateway;
            this.tunnelGuestMac = mac;
            this.guestCount = 1;
            return this;
        }

        public Builder guests(int count) {
            if (count < 1 || count > 200) {
                throw new IllegalArgumentException("guests must be 1-200, was " + count);
            }
            this.guestCount = count;
            return this;
        }

        /** Sees every frame of the first guest's card (a pcap writer, a frame printer). */
        public Builder observer(FrameObserver observer) {
            this.observer = observer;
            return this;
        }

        /** A static A record of the gateway's DNS server. */
        public Builder staticRecord(String name, String address) {
            staticRecords.add(name + "=" + address);
            return this;
        }

        /**
         * Starts the host-side server on 127.0.0.1:{@code preferredPort}, or on a free port when that
         * one is taken (0: any free port).
         */
        public Builder hostServer(int preferredPort, PrintWriter log) {
            this.hostServerPort = preferredPort;
            this.hostServerLog = log;
            return this;
        }

        public GuestWorld build() throws IOException {
            GuestWorld world = new GuestWorld();
            try {
                if (hostServerPort != null) {
                    world.hostServer = HostServer.bindPreferring(hostServerPort, hostServerLog).start();
                }
                if (tunnel != null) {
                    world.tunnel = tunnel;
                    world.guests.add(new Guest("e1000-0", tunnelGuestMac, tunnelGuestAddress, tunnelGuestGateway, null, observer));
                    VirtualCable.connect(world.guest().wire(), tunnel);
                    world.guest().start();
                    return world;
                }
                world.gateway = SlirpGateway.builder()
                        .dns(DnsService.builder().staticRecords(staticRecords.toArray(new String[0]))).build();
                world.dns = world.gateway.dnsService();   // the gateway's, on its loop; it closes it
                for (int i = 0; i < guestCount; i++) {
                    world.guests.add(new Guest("e1000-" + i, Guest.macFor(i), guestAddress(i) + "/" + PREFIX_LENGTH,
                            GATEWAY, DNS, i == 0 ? observer : null));
                }
                if (guestCount == 1) {
                    VirtualCable.connect(world.guest().wire(), world.gateway);
                } else {
                    world.lan = new VirtualSwitch("lan");
                    world.lan.connect(world.gateway);
                    for (Guest guest : world.guests) {
                        world.lan.connect(guest.wire());
                    }
                }
                for (Guest guest : world.guests) {
                    guest.start();   // after the cables: each stack's gratuitous ARP must reach the LAN
                }
                return world;
            } catch (IOException | RuntimeException e) {
                if (tunnel != null && world.tunnel == null) {
                    tunnel.close();
                }
                world.close();
                throw e;
            }
        }
    }
}
