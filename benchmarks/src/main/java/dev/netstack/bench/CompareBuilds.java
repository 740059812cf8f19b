package dev.netstack.bench;

import dev.netstack.bridge.dns.DnsService;
import dev.netstack.dns.DnsResolver;
import dev.netstack.e1000.E1000Config;
import dev.netstack.socket.UdpSocket;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.InetSocketAddress;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * Two or more builds of netstack in one JVM, taking turns: which one is faster, with the VM's drift
 * cancelled out. On the 2-vCPU VM this project is measured on, the same build gives rates up to
 * ±40% apart from one minute (or one JVM) to the next, so two builds run one after the other can
 * show any difference. Here every build's shaded jar gets a class loader of its own, the builds run
 * the same workload in short windows in turn (ABBA order), and each round's ratio to the first build
 * is taken while the VM is in one state; the median and quartiles of those ratios are the answer.
 *
 * <pre>
 *   benchmarks/run compare OLD.jar NEW.jar [--mode one|blast|burst|rtt|blast-irq|rtt-irq|dns|dns-irq|ping|ping-irq] [--size 64] [--rounds 20] [--window 0.5] [--jvms 3]
 * </pre>
 *
 * The JIT compiles each build a little differently in every JVM (what it inlines, where the code
 * lands), which moves a build's figure by several percent from one JVM to the next: {@code --jvms N}
 * runs the comparison in N fresh JVMs, one after the other, and pools their rounds.
 *
 * Modes: {@code one} sends and receives each datagram on one thread (ns per datagram, the CPU cost
 * of the whole path with no cross-core effects; the steadiest figure); {@code blast} and {@code burst}
 * are row 1.64's and 1.64b's one-way runs (datagrams per second); {@code rtt} is row 2.busy's
 * ping-pong (p50 in ns); {@code blast-irq} and {@code rtt-irq} are rows 1.64i and 2.irq, the same
 * in interrupt mode; {@code dns} (and {@code dns-irq}, its guest in interrupt mode) is row 4.dns's queries through the gateway to a dnsmasq this
 * JVM starts (mean ns per query; use windows of a second or more); {@code ping} and {@code ping-irq} time
 * {@code stack.ping} with SIZE bytes of data from one guest to another, busy-poll and interrupt mode
 * (p50 in ns). An older build's jar comes from a worktree:
 * {@code git worktree add /tmp/old COMMIT && (cd /tmp/old && mvn -q -pl benchmarks -am package -DskipTests)}.
 */
public final class CompareBuilds {
    private CompareBuilds() {
    }

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.ROOT);
        List<Path> jars = new ArrayList<>();
        List<String> childArgs = new ArrayList<>();   // the arguments without --jvms
        String mode = "one";
        int size = 64;
        int rounds = 20;
        double window = 0.5;
        int jvms = 1;
        boolean usable = true;
        try {
            for (int i = 0; i < args.length; i++) {
                String value = args[i].startsWith("--") && i + 1 < args.length ? args[i + 1] : null;
                switch (args[i]) {
                    case "--mode" -> mode = value;
                    case "--size" -> size = Integer.parseInt(value);
                    case "--rounds" -> rounds = Integer.parseInt(value);
                    case "--window" -> window = Double.parseDouble(value);
                    case "--jvms" -> jvms = Integer.parseInt(value);
                    default -> {
                        if (args[i].startsWith("--")) {
                            throw new IllegalArgumentException("unknown option " + args[i]);
                        }
                        jars.add(Path.of(args[i]));
                        value = null;
                    }
                }
                if (!args[i].equals("--jvms")) {
                    childArgs.add(args[i]);
                    if (value != null) {
                        childArgs.add(value);
                    }
                }
                if (value != null) {
                    i++;
                }
            }
        } catch (IllegalArgumentException | NullPointerException e) {   // a bad or missing option value
            System.err.println(e.getMessage());
            usable = false;
        }
        if (!usable || jars.size() < 2 || !List.of("one", "blast", "burst", "rtt", "blast-irq", "rtt-irq", "dns", "dns-irq", "ping", "ping-irq").contains(mode) || rounds < 4 || jvms < 1
                || size < 1 || size > 65507 || !(window > 0)) {
            System.err.println("usage: CompareBuilds OLD.jar NEW.jar [MORE.jar...] [--mode one|blast|burst|rtt|blast-irq|rtt-irq|dns|dns-irq|ping|ping-irq]"
                    + " [--size 64 (1-65507)] [--rounds 20 (at least 4)] [--window 0.5] [--jvms 1]");
            System.exit(2);
        }
        for (Path jar : jars) {
            if (!Files.isRegularFile(jar)) {
                System.err.println("no such jar: " + jar);
                System.exit(2);
            }
        }
        boolean higherIsBetter = mode.startsWith("blast") || mode.equals("burst");
        System.out.printf("%s, %d B, %d rounds of %.1f s windows per build, ABBA order, in %d JVM(s); %s%n", mode, size,
                rounds, window, jvms, higherIsBetter ? "datagrams/s (higher is better)" : "ns (lower is better)");
        double[][] results;
        if (jvms > 1) {
            results = compareInJvms(childArgs, jvms);
        } else if (mode.startsWith("dns")) {
            Path binary = Dns.dnsmasq();
            if (binary == null) {
                System.err.println("mode " + mode + ": dnsmasq is not installed (apt-get install dnsmasq)");
                System.exit(2);
            }
            try (Dns.Server dnsmasq = Dns.Server.start(binary)) {
                results = compareHere(jars, mode + " " + size + " " + window + " " + dnsmasq.address.getPort(), rounds);
            }
        } else {
            results = compareHere(jars, mode + " " + size + " " + window, rounds);
        }
        for (int b = 0; b < jars.size(); b++) {
            double[] q = quartiles(results[b]);
            System.out.printf("  %-40s median %,12.1f   quartiles %,.1f - %,.1f%n", jars.get(b), q[1], q[0], q[2]);
        }
        for (int b = 1; b < jars.size(); b++) {
            double[] ratios = new double[results[b].length];
            for (int round = 0; round < ratios.length; round++) {
                ratios[round] = results[b][round] / results[0][round];
            }
            double[] q = quartiles(ratios);
            System.out.printf("  %s / %s, paired by round: median %.3f, quartiles %.3f - %.3f%n",
                    jars.get(b).getFileName(), jars.get(0).getFileName(), q[1], q[0], q[2]);
        }
        if (jvms == 1) {
            // for a parent that pools several JVMs: every round's figures, one line per build
            for (double[] build : results) {
                StringBuilder line = new StringBuilder("rounds:");
                for (double figure : build) {
                    line.append(' ').append(figure);
                }
                System.out.println(line);
            }
        }
        System.exit(0);   // stack threads are daemons, but do not wait for stragglers
    }

    /** Runs the builds in turn in this JVM; figures per build and round. */
    private static double[][] compareHere(List<Path> jars, String workload, int rounds) throws Exception {
        List<ToDoubleFunction<String>> builds = new ArrayList<>();
        for (Path jar : jars) {
            builds.add(load(jar));
        }
        for (int warm = 0; warm < 3; warm++) {
            for (ToDoubleFunction<String> build : builds) {
                build.applyAsDouble(workload);
            }
        }
        int n = builds.size();
        double[][] results = new double[n][rounds];
        for (int round = 0; round < rounds; round++) {
            for (int turn = 0; turn < n; turn++) {
                int b = round % 2 == 0 ? turn : n - 1 - turn;
                results[b][round] = builds.get(b).applyAsDouble(workload);
            }
        }
        return results;
    }

    /** Runs the comparison in {@code jvms} fresh JVMs in turn and pools their rounds. */
    private static double[][] compareInJvms(List<String> args, int jvms) throws IOException, InterruptedException {
        List<List<Double>> pooled = new ArrayList<>();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (int jvm = 0; jvm < jvms; jvm++) {
            List<String> command = new ArrayList<>(List.of(java, "-Xms1g", "-Xmx1g", "-XX:+UseParallelGC",
                    "-cp", System.getProperty("java.class.path"), CompareBuilds.class.getName()));
            command.addAll(args);
            Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            int build = 0;
            for (String line : new String(child.getInputStream().readAllBytes()).split("\n")) {
                if (line.startsWith("rounds:")) {
                    if (pooled.size() <= build) {
                        pooled.add(new ArrayList<>());
                    }
                    for (String figure : line.substring("rounds:".length()).trim().split(" ")) {
                        pooled.get(build).add(Double.parseDouble(figure));
                    }
                    build++;
                } else if (line.contains("paired by round")) {
                    System.out.println("  JVM " + (jvm + 1) + ": " + line.substring(line.indexOf("paired")));
                }
            }
            if (child.waitFor() != 0 || build == 0) {
                throw new IllegalStateException("JVM " + (jvm + 1) + " of the comparison failed");
            }
        }
        double[][] results = new double[pooled.size()][];
        for (int b = 0; b < results.length; b++) {
            results[b] = pooled.get(b).stream().mapToDouble(Double::doubleValue).toArray();
        }
        return results;
    }

    private static double[] quartiles(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return new double[] {sorted[n / 4], sorted[n / 2], sorted[(3 * n) / 4]};
    }

    /** A fresh {@link Workload} inside its own loader: the build's classes from its jar, the workload from ours. */
    @SuppressWarnings("unchecked")
    private static ToDoubleFunction<String> load(Path jar) throws ReflectiveOperationException, IOException {
        ClassLoader loader = new BuildLoader(jar);
        return (ToDoubleFunction<String>) loader.loadClass(Workload.class.getName()).getDeclaredConstructor().newInstance();
    }

    /**
     * Defines every class of one build from its jar, and {@link Workload} from this jar, so that the
     * workload is the same code in every build and sits in the builds' package (it uses the harness's
     * package-private helpers, which older builds have too).
     */
    private static final class BuildLoader extends ClassLoader {
        private final JarFile jar;
        private final Path path;

        BuildLoader(Path path) throws IOException {
            super("build " + path, ClassLoader.getPlatformClassLoader());
            this.path = path;
            this.jar = new JarFile(path.toFile());
        }

        @Override
        protected Class<?> findClass(String name) throws ClassNotFoundException {
            String resource = name.replace('.', '/') + ".class";
            try {
                byte[] bytes;
                if (name.equals(Workload.class.getName())) {
                    try (InputStream in = CompareBuilds.class.getClassLoader().getResourceAsStream(resource)) {
                        if (in == null) {
                            throw new ClassNotFoundException(name);
                        }
                        bytes = in.readAllBytes();
                    }
                } else {
                    JarEntry entry = jar.getJarEntry(resource);
                    if (entry == null) {
                        throw new ClassNotFoundException(name + " in " + path);
                    }
                    try (InputStream in = jar.getInputStream(entry)) {
                        bytes = in.readAllBytes();
                    }
                }
                return defineClass(name, bytes, 0, bytes.length);
            } catch (IOException e) {
                throw new ClassNotFoundException(name, e);
            }
        }

        @Override
        protected URL findResource(String name) {
            if (jar.getJarEntry(name) == null) {
                return null;
            }
            try {
                return new URL("jar:" + path.toUri() + "!/" + name);
            } catch (MalformedURLException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        protected Enumeration<URL> findResources(String name) {
            URL url = findResource(name);
            return url == null ? Collections.emptyEnumeration() : Collections.enumeration(List.of(url));
        }
    }

    /**
     * The workload, the same bytes in every build: {@code "MODE SIZE WINDOW_SECONDS [DNSMASQ_PORT]"} in,
     * one figure out.
     */
    public static final class Workload implements ToDoubleFunction<String> {
        private GuestPair pair;
        private GuestPair pingPair;
        private UdpSocket sender;
        private UdpSocket receiver;
        private GatewayWorld gateway;
        private DnsResolver resolver;
        private final ByteBuffer payload = ByteBuffer.allocateDirect(65536);
        private final ByteBuffer into = ByteBuffer.allocateDirect(65536);

        @Override
        public double applyAsDouble(String workload) {
            String[] words = workload.split(" ");
            int size = Integer.parseInt(words[1]);
            double seconds = Double.parseDouble(words[2]);
            try {
                return switch (words[0]) {
                    case "one" -> oneThread(size, seconds);
                    case "blast" -> GuestUdp.blast(SideBySide.busyPoll(), size, 1, 1, 1, 0.3, seconds).receivedPerSecond;
                    case "burst" -> GuestUdp.blast(SideBySide.busyPoll(), size, 1, 1, SideBySide.BURST, 0.3, seconds)
                            .receivedPerSecond;
                    case "rtt" -> GuestUdp.pingPong(SideBySide.busyPoll(), size, 0.3, seconds).p50;
                    case "blast-irq" -> GuestUdp.blast(SideBySide.interruptMode(), size, 1, 1, 1, 0.3, seconds)
                            .receivedPerSecond;
                    case "rtt-irq" -> GuestUdp.pingPong(SideBySide.interruptMode(), size, 0.3, seconds).p50;
                    case "dns" -> dnsQueries(SideBySide.busyPoll(), Integer.parseInt(words[3]), seconds);
                    case "dns-irq" -> dnsQueries(SideBySide.interruptMode(), Integer.parseInt(words[3]), seconds);
                    case "ping" -> pings(SideBySide.busyPoll(), size, seconds);
                    case "ping-irq" -> pings(SideBySide.interruptMode(), size, seconds);
                    default -> throw new IllegalArgumentException("unknown mode " + words[0]);
                };
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        /**
         * Mean ns per query (one in flight, so 1e9 / queries per second) from a guest through the
         * gateway's DNS service to the dnsmasq on {@code port}: row 4.dns's relayed half.
         */
        private double dnsQueries(E1000Config config, int port, double seconds) throws InterruptedException {
            if (gateway == null) {
                gateway = new GatewayWorld(config, DnsService.builder()
                        .upstream(new InetSocketAddress("127.0.0.1", port)).hostResolver(false));
                resolver = DnsResolver.builder(gateway.guest).build();
            }
            Duration timeout = Duration.ofSeconds(2);
            long queries = 0;
            long start = System.nanoTime();
            long end = start + (long) (seconds * 1e9);
            while (true) {
                for (int i = 0; i < 100; i++) {
                    if (resolver.resolve(Dns.NAME, timeout).isEmpty()) {
                        throw new IllegalStateException("a DNS query through the gateway got no address");
                    }
                }
                queries += 100;
                long now = System.nanoTime();
                if (now > end) {
                    return (double) (now - start) / queries;
                }
            }
        }

        /** Median ns of {@code stack.ping} with {@code size} bytes of data from guest A to guest B. */
        private double pings(E1000Config config, int size, double seconds) throws InterruptedException {
            if (pingPair == null) {
                pingPair = new GuestPair(config);
            }
            Duration timeout = Duration.ofSeconds(2);
            long[] times = new long[1 << 20];
            int count = 0;
            long end = System.nanoTime() + (long) (seconds * 1e9);
            while (count < times.length) {
                long start = System.nanoTime();
                pingPair.a.stack.ping(GuestPair.B, size, timeout);
                long now = System.nanoTime();
                times[count++] = now - start;
                if (now > end) {
                    break;
                }
            }
            java.util.Arrays.sort(times, 0, count);
            return times[count / 2];
        }

        /** ns per datagram sent by guest A and received by guest B, both on this thread (busy-poll). */
        private double oneThread(int size, double seconds) throws InterruptedException {
            if (pair == null) {
                pair = new GuestPair(SideBySide.busyPoll());
                sender = pair.a.stack.openUdpSocket().bind(GuestUdp.PORT);
                receiver = pair.b.stack.openUdpSocket().bind(GuestUdp.PORT);
            }
            int destination = GuestPair.B.bits();
            long wait = TimeUnit.SECONDS.toNanos(1);
            long datagrams = 0;
            long start = System.nanoTime();
            long end = start + (long) (seconds * 1e9);
            while (true) {
                for (int i = 0; i < 1000; i++) {
                    payload.clear().limit(size);
                    sender.sendTo(payload, destination, GuestUdp.PORT);
                    into.clear();
                    if (receiver.receiveFrom(into, wait) == UdpSocket.NOTHING) {
                        throw new IllegalStateException("a datagram was lost on the one-thread path");
                    }
                }
                datagrams += 1000;
                long now = System.nanoTime();
                if (now > end) {
                    return (double) (now - start) / datagrams;
                }
            }
        }
    }
}
