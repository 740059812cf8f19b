package dev.netstack.examples;

import dev.netstack.bridge.tunnel.FrameTunnel;
import dev.netstack.bridge.tunnel.RawFrameTunnel;
import dev.netstack.bridge.tunnel.VxlanTunnel;
import dev.netstack.socket.SocketClosedException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Subnet;
import dev.netstack.wire.MacAddress;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code netstack guest}: one guest on a frame tunnel to another process or machine, answering
 * ping and echoing UDP until interrupted.
 */
@Command(name = "guest", mixinStandardHelpOptions = true,
        description = {"Run one guest on a frame tunnel, answering ping and echoing UDP until interrupted.",
            "The tunnel carries raw Ethernet frames over UDP (as QEMU -netdev dgram and socat do) or VXLAN, to another "
                + "netstack guest, a QEMU guest or the host kernel.",
            "Example: netstack guest --tunnel raw:127.0.0.1:5555@127.0.0.1:5556 --ip 10.0.2.16/24"})
final class GuestCommand extends Subcommand {
    @Option(names = "--tunnel", required = true, paramLabel = "SPEC",
            description = {"raw:LOCALHOST:PORT@REMOTEHOST:PORT or vxlan:LOCALHOST:PORT@REMOTEHOST:PORT[/VNI]",
                "(local port 0: any free port; VNI default 1)."})
    String tunnelSpec;

    @Option(names = "--ip", paramLabel = "ADDRESS/PREFIX", defaultValue = "10.0.2.15/24",
            description = "The guest's address (default: ${DEFAULT-VALUE}).")
    String ip;

    @Option(names = "--gateway", paramLabel = "ADDRESS", description = "Default gateway (none by default: the LAN only).")
    String gateway;

    @Option(names = "--mac", paramLabel = "MAC", description = "The card's MAC (default: 52:54 then the four octets of the address).")
    String mac;

    @Option(names = "--echo-port", paramLabel = "PORT", defaultValue = "7",
            description = "UDP echo service port (default: ${DEFAULT-VALUE}; 0: none).")
    int echoPort;

    /** A parsed --tunnel. */
    record TunnelSpec(String kind, InetSocketAddress local, InetSocketAddress remote, int vni) {
    }

    @Override
    int execute() throws Exception {
        TunnelSpec spec = parseTunnel(tunnelSpec);
        Ipv4Address address;
        int prefix;
        try {
            Ipv4Subnet.parse(ip.contains("/") ? ip : ip + "/24");
            String[] parts = ip.split("/", 2);
            address = Addresses.parseIpv4(commandLine(), "option '--ip'", parts[0]);
            prefix = parts.length == 2 ? Integer.parseInt(parts[1]) : 24;
            if (prefix < 1 || prefix > 30) {
                throw new IllegalArgumentException("prefix length must be 1-30");
            }
        } catch (IllegalArgumentException e) {
            throw usageError("Invalid value for option '--ip': '" + ip + "' is not ADDRESS/PREFIX (" + e.getMessage() + ")");
        }
        Ipv4Address gatewayAddress = gateway == null ? null : Addresses.parseIpv4(commandLine(), "option '--gateway'", gateway);
        if (gatewayAddress != null && !Ipv4Subnet.of(address, prefix).contains(gatewayAddress)) {
            throw usageError("Invalid value for option '--gateway': " + gatewayAddress + " is not on " + Ipv4Subnet.of(address, prefix));
        }
        MacAddress macAddress;
        try {
            byte[] octets = address.octets();
            macAddress = mac != null ? MacAddress.parse(mac)
                    : MacAddress.of(new byte[] {0x52, 0x54, octets[0], octets[1], octets[2], octets[3]});
        } catch (IllegalArgumentException e) {
            throw usageError("Invalid value for option '--mac': '" + mac + "' is not a MAC address");
        }
        if (macAddress.isMulticast()) {
            throw usageError("Invalid value for option '--mac': " + macAddress + " is a multicast address");
        }
        Addresses.checkPort(commandLine(), "option '--echo-port'", echoPort, true);

        FrameTunnel tunnel = open(spec);
        String cidr = address + "/" + prefix;
        GuestWorld.Builder builder = GuestWorld.builder().tunnel(tunnel, cidr, gatewayAddress, macAddress);
        Interruption interruption = Interruption.onSignal();   // Ctrl-C: stop serving, close, report
        try (Session session = Session.open(this, builder, null)) {
            GuestWorld world = session.world();
            out().printf("guest %s %s on %s tunnel %s -> %s%s%n", cidr, macAddress, spec.kind(),
                    format(tunnel.localAddress()), format(tunnel.remoteAddress()),
                    spec.kind().equals("vxlan") ? " vni " + spec.vni() : "");
            out().printf("answering ping%s; Ctrl-C to stop%n", echoPort == 0 ? "" : ", UDP echo on port " + echoPort);
            out().flush();
            AtomicLong echoed = new AtomicLong();
            if (echoPort == 0) {
                waitForInterrupt();
            } else {
                try (UdpSocket socket = world.guest().stack().openUdpSocket().bind(echoPort)) {
                    echo(socket, echoed);
                }
            }
            Thread.interrupted();
            out().printf("guest %s stopped; echoed %d datagram%s%n", address, echoed.get(), echoed.get() == 1 ? "" : "s");
            return OK;
        } finally {
            interruption.close();
        }
    }

    /** Echoes every datagram back to its sender until interrupted. */
    private static void echo(UdpSocket socket, AtomicLong echoed) {
        ByteBuffer buffer = ByteBuffer.allocate(65536);
        try {
            while (true) {
                buffer.clear();
                long sender = socket.receiveFrom(buffer, Long.MAX_VALUE);
                buffer.flip();
                try {
                    socket.sendTo(buffer, UdpSocket.senderAddressBits(sender), UdpSocket.senderPort(sender));
                    echoed.incrementAndGet();
                } catch (dev.netstack.socket.NetworkException e) {
                    // a sender we cannot reach (no route): nothing to echo to
                }
            }
        } catch (InterruptedException | SocketClosedException e) {
            // stop
        } catch (dev.netstack.socket.NetworkException e) {
            // an ICMP error about an earlier echo: keep serving
            echo(socket, echoed);
        }
    }

    private static void waitForInterrupt() {
        try {
            new java.util.concurrent.CountDownLatch(1).await();
        } catch (InterruptedException e) {
            // stop
        }
    }

    private FrameTunnel open(TunnelSpec spec) throws IOException {
        try {
            if (spec.kind().equals("raw")) {
                return RawFrameTunnel.builder().name("raw").localAddress(spec.local()).remoteAddress(spec.remote()).open();
            }
            return VxlanTunnel.builder().name("vxlan").localAddress(spec.local()).remoteAddress(spec.remote()).vni(spec.vni()).open();
        } catch (IOException e) {
            throw new IOException("cannot open the tunnel on " + format(spec.local()) + ": " + e.getMessage(), e);
        }
    }

    private static String format(InetSocketAddress address) {
        return address == null ? "(none)" : address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    TunnelSpec parseTunnel(String text) {
        String usage = "Invalid value for option '--tunnel': '" + text
                + "' is not raw:LOCALHOST:PORT@REMOTEHOST:PORT or vxlan:LOCALHOST:PORT@REMOTEHOST:PORT[/VNI]";
        int colon = text.indexOf(':');
        int at = text.indexOf('@');
        if (colon < 0 || at < colon) {
            throw usageError(usage);
        }
        String kind = text.substring(0, colon);
        if (!kind.equals("raw") && !kind.equals("vxlan")) {
            throw usageError(usage);
        }
        String remote = text.substring(at + 1);
        int vni = 1;
        int slash = remote.indexOf('/');
        if (slash >= 0) {
            if (!kind.equals("vxlan")) {
                throw usageError(usage + " (a VNI is for vxlan only)");
            }
            try {
                vni = Integer.parseInt(remote.substring(slash + 1));
            } catch (NumberFormatException e) {
                throw usageError(usage);
            }
            if (vni < 0 || vni > 0xff_ffff) {
                throw usageError("Invalid value for option '--tunnel': VNI " + vni + " is not 0-16777215");
            }
            remote = remote.substring(0, slash);
        }
        return new TunnelSpec(kind, socketAddress(text.substring(colon + 1, at), true, usage),
                socketAddress(remote, false, usage), vni);
    }

    private InetSocketAddress socketAddress(String hostAndPort, boolean zeroAllowed, String usage) {
        int colon = hostAndPort.lastIndexOf(':');
        if (colon <= 0) {
            throw usageError(usage);
        }
        String host = hostAndPort.substring(0, colon);
        int port;
        try {
            port = Integer.parseInt(hostAndPort.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw usageError(usage);
        }
        Addresses.checkPort(commandLine(), "option '--tunnel'", port, zeroAllowed);
        try {
            InetAddress inet = Addresses.isIpv4Literal(host) ? InetAddress.getByAddress(Ipv4Address.parse(host).octets())
                    : InetAddress.getByName(host);
            return new InetSocketAddress(inet, port);
        } catch (UnknownHostException e) {
            throw usageError("Invalid value for option '--tunnel': unknown host '" + host + "'");
        }
    }
}
