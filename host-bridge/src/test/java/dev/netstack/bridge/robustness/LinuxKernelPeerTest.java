package dev.netstack.bridge.robustness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.netstack.NetStack;
import dev.netstack.bridge.SlirpGateway;
import dev.netstack.bridge.dns.DnsService;
import dev.netstack.bridge.tunnel.RawFrameTunnel;
import dev.netstack.buffer.MbufPool;
import dev.netstack.dns.DnsResolver;
import dev.netstack.link.VirtualDevice;
import dev.netstack.link.VirtualSwitch;
import dev.netstack.socket.SocketClosedException;
import dev.netstack.socket.UdpSocket;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The Linux kernel as a real peer on the guest's LAN. Needs root (network namespaces, TAP) and
 * iproute2, socat, ping, tcpdump, dnsmasq and python3; skipped with a message otherwise.
 *
 * <pre>
 *  namespace ns-netstack-N (its own loopback, routes and addresses)
 *    tapN 10.0.2.1/24  ── the kernel; ping, python3 UDP client, tcpdump run here
 *       │  (the TAP's file descriptor stays with socat in the host namespace)
 *  host namespace
 *    socat TUN(tapN) ⇄ UDP 127.0.0.1:A ⇄ 127.0.0.1:B RawFrameTunnel ── VirtualSwitch ── guest 10.0.2.15
 *                                                                                  └─ SlirpGateway .2/.3
 *    dnsmasq on 127.0.0.1:D ◀── the gateway's DNS forwarder (upstream)
 * </pre>
 * socat creates the TAP in the host namespace, where its UDP side reaches the tunnel on the host's
 * loopback; the TAP is then moved into the namespace (its queue stays attached to socat's file
 * descriptor) and given its address there. So 10.0.2.0/24 exists only inside the namespace and on
 * the virtual LAN: the host namespace sends only to 127.0.0.1. dnsmasq listens on the host's
 * 127.0.0.1 because the gateway's host socket cannot reach into the namespace without sending to
 * a non-loopback address.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LinuxKernelPeerTest {
    static final String KERNEL_IP = "10.0.2.1";
    static final Ipv4Address GUEST_IP = Ipv4Address.parse("10.0.2.15");

    final String suffix = Integer.toString(ThreadLocalRandom.current().nextInt(1000, 10000));
    final String namespace = "ns-netstack-" + suffix;
    final String tap = "tapns" + suffix;
    final List<Process> processes = new ArrayList<>();
    Path capture;
    Process tcpdump;
    boolean namespaceCreated;

    VirtualSwitch lan;
    RawFrameTunnel tunnel;
    SlirpGateway gateway;
    DnsService dns;
    MbufPool pool;
    NetStack guest;
    UdpSocket echo;
    Thread echoThread;

    @BeforeAll
    void setUp() throws Exception {
        assumeTrue(isRoot(), "needs root for a network namespace and a TAP device (skipped)");
        for (String tool : new String[] {"ip", "socat", "ping", "tcpdump", "dnsmasq", "python3"}) {
            assumeTrue(run(5, "sh", "-c", "command -v " + tool).exit == 0, tool + " is not installed (skipped; .ci/run installs it)");
        }
        assumeTrue(run(10, "ip", "netns", "add", namespace).exit == 0, "cannot create a network namespace here (skipped)");
        namespaceCreated = true;

        int tunnelPort = freeUdpPort();
        int socatPort = freeUdpPort();
        int dnsPort = freeUdpPort();
        // socat in the host namespace: TAP <-> UDP on the host's loopback
        start("socat", "TUN,tun-type=tap,iff-no-pi,tun-name=" + tap,
                "UDP-DATAGRAM:127.0.0.1:" + tunnelPort + ",bind=127.0.0.1:" + socatPort);
        awaitTrue(() -> run(5, "ip", "link", "show", tap).exit == 0, "socat creates " + tap);
        check(run(10, "ip", "link", "set", tap, "netns", namespace), "move the TAP into the namespace");
        check(inNamespace("ip", "link", "set", "lo", "up"), "loopback up");
        check(inNamespace("sysctl", "-qw", "net.ipv6.conf." + tap + ".disable_ipv6=1"), "no IPv6 on the TAP");
        check(inNamespace("ip", "addr", "add", KERNEL_IP + "/24", "dev", tap), "address the TAP");
        check(inNamespace("ip", "link", "set", tap, "up"), "TAP up");

        capture = Files.createTempFile("netstack-kernel-", ".pcap");
        tcpdump = start("ip", "netns", "exec", namespace, "tcpdump", "-i", tap, "-U", "-n", "-s", "0", "-w", capture.toString());
        start("dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
                "--listen-address=127.0.0.1", "--port=" + dnsPort, "--address=/kernel.test/" + KERNEL_IP, "--pid-file=");

        dns = DnsService.builder().upstream(new InetSocketAddress(InetAddress.getLoopbackAddress(), dnsPort))
                .hostResolver(false).build();
        gateway = SlirpGateway.builder().dnsService(dns).build();
        tunnel = RawFrameTunnel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), tunnelPort),
                new InetSocketAddress(InetAddress.getLoopbackAddress(), socatPort));
        lan = new VirtualSwitch("kernel-lan");
        lan.connect(tunnel);
        lan.connect(gateway);
        pool = NetStack.newPool(1024, 0);
        VirtualDevice device = new VirtualDevice("guest", MacAddress.parse("52:54:00:12:34:56"), pool);
        lan.connect(device);
        guest = NetStack.builder().device(device).address("10.0.2.15/24").gateway("10.0.2.2").dnsServer("10.0.2.3").build();
        echo = guest.openUdpSocket().bind(7);
        echoThread = new Thread(() -> {
            ByteBuffer buffer = ByteBuffer.allocate(65536);
            try {
                while (true) {
                    buffer.clear();
                    long from = echo.receiveFrom(buffer, Long.MAX_VALUE);
                    buffer.flip();
                    echo.sendTo(buffer, UdpSocket.senderAddressBits(from), UdpSocket.senderPort(from));
                }
            } catch (SocketClosedException | InterruptedException e) {
                // closed
            }
        }, "guest-udp-echo");
        echoThread.setDaemon(true);
        echoThread.start();
        Thread.sleep(500);   // let tcpdump open its capture
    }

    @AfterAll
    void tearDown() throws Exception {
        try {
            if (echo != null) {
                echo.close();
            }
            if (guest != null) {
                guest.close();
                PoolChecks.assertWhole(pool);
            }
            if (gateway != null) {
                gateway.close();
            }
            if (dns != null) {
                dns.close();
            }
            if (tunnel != null) {
                tunnel.close();
            }
        } finally {
            for (Process p : processes) {
                p.destroy();
                if (!p.waitFor(5, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
            if (namespaceCreated) {
                run(10, "ip", "netns", "del", namespace);
            }
            if (capture != null) {
                Files.deleteIfExists(capture);
            }
        }
    }

    @Test
    @Order(1)
    void theKernelPingsTheGuestAHundredTimesWithoutLoss() {
        Result ping = inNamespace("ping", "-c", "100", "-i", "0.01", "-W", "1", "10.0.2.15");
        assertThat(ping.output).as(ping.output).contains("100 received").contains(" 0% packet loss");
    }

    @Test
    @Order(2)
    void largeAndFragmentedPings() {
        Result large = inNamespace("ping", "-c", "5", "-i", "0.05", "-W", "2", "-s", "1400", "10.0.2.15");
        assertThat(large.output).as(large.output).contains("5 received");
        Result fragmented = inNamespace("ping", "-c", "5", "-i", "0.05", "-W", "2", "-s", "4000", "10.0.2.15");
        assertThat(fragmented.output).as(fragmented.output).contains("5 received");
    }

    @Test
    @Order(3)
    void kernelUdpSocketsExchangeDatagramsWithTheGuestEcho() {
        String client = String.join("\n",
                "import socket, sys",
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
                "s.settimeout(2)",
                "ok = 0",
                "for i in range(50):",
                "    data = (b'netstack-%d-' % i) * (1 + i * 7)",
                "    s.sendto(data, ('10.0.2.15', 7))",
                "    reply, addr = s.recvfrom(65535)",
                "    if reply == data and addr == ('10.0.2.15', 7): ok += 1",
                "print('echoed', ok)");
        Result result = inNamespace("python3", "-c", client);
        assertThat(result.output).as(result.output).contains("echoed 50");
    }

    @Test
    @Order(4)
    void theGuestPingsTheKernel() throws Exception {
        for (int i = 0; i < 10; i++) {
            assertThat(guest.ping(Ipv4Address.parse(KERNEL_IP), 56 + i * 100, Duration.ofSeconds(2)).from())
                    .isEqualTo(Ipv4Address.parse(KERNEL_IP));
        }
        assertThat(guest.ping(Ipv4Address.parse(KERNEL_IP), 3000, Duration.ofSeconds(2))).isNotNull();   // fragmented both ways
    }

    @Test
    @Order(5)
    void theGuestResolvesANameThroughTheGatewayFromDnsmasq() throws Exception {
        List<Ipv4Address> addresses = List.of();
        for (int attempt = 0; attempt < 20 && addresses.isEmpty(); attempt++) {   // dnsmasq may still be starting
            try {
                addresses = DnsResolver.builder(guest).build().resolve("kernel.test", Duration.ofSeconds(2));
            } catch (dev.netstack.socket.NetworkException e) {
                Thread.sleep(200);
            }
        }
        assertThat(addresses).containsExactly(Ipv4Address.parse(KERNEL_IP));
    }

    @Test
    @Order(6)
    void theCaptureShowsNoMalformedPacketAndNoBadChecksum() throws Exception {
        Thread.sleep(300);
        tcpdump.destroy();   // SIGTERM: tcpdump flushes and closes the file
        tcpdump.waitFor(5, TimeUnit.SECONDS);
        Result read = run(30, "tcpdump", "-vvv", "-n", "-r", capture.toString());
        assertThat(read.exit).as(read.output).isZero();
        assertThat(read.output).as("the capture").contains("10.0.2.15");
        assertThat(read.output.toLowerCase(java.util.Locale.ROOT)).as(read.output)
                .doesNotContain("bad cksum").doesNotContain("bad udp cksum").doesNotContain("malformed")
                .doesNotContain("truncated").doesNotContain("wrong icmp cksum");
    }

    // --- plumbing ------------------------------------------------------------------------------

    record Result(int exit, String output) {
    }

    static boolean isRoot() {
        Result id = run(5, "id", "-u");
        return id.exit == 0 && id.output.trim().equals("0");
    }

    Result inNamespace(String... command) {
        String[] full = new String[command.length + 4];
        full[0] = "ip";
        full[1] = "netns";
        full[2] = "exec";
        full[3] = namespace;
        System.arraycopy(command, 0, full, 4, command.length);
        return run(60, full);
    }

    static Result run(int timeoutSeconds, String... command) {
        Path output = null;
        try {
            // output to a file, not a pipe: a long output would fill the pipe and stall the program
            output = Files.createTempFile("netstack-cmd-", ".out");
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
            p.getOutputStream().close();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, String.join(" ", command) + ": timed out");
            }
            return new Result(p.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(-1, String.join(" ", command) + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        } finally {
            if (output != null) {
                try {
                    Files.deleteIfExists(output);
                } catch (IOException ignored) {
                    // a temp file left behind
                }
            }
        }
    }

    Process start(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        processes.add(p);
        return p;
    }

    static void check(Result result, String what) {
        assertThat(result.exit).as("%s: %s", what, result.output).isZero();
    }

    static void awaitTrue(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(50);
        }
    }

    static int freeUdpPort() throws IOException {
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            return s.getLocalPort();
        }
    }
}
